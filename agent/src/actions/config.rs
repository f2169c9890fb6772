//! The `actions:` section of the agent config. `actions: disabled` is the
//! big red switch; the long form sets the app's admin URL and the
//! node-wide cap on unavailable shards.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use url::Url;

#[derive(Debug, Clone, PartialEq)]
pub struct ActionsConfig {
    /// False refuses every action (dry runs included).
    pub enabled: bool,
    /// The base URL runbooks reach the app's admin API at (`{{ app_url }}`);
    /// default: the first scrape target's scheme, host and port.
    pub app_url: Option<Url>,
    /// How many shards may be unavailable at once across all actions.
    pub max_unavailable: u32,
    /// Directories of the deployment's own runbooks (`*.yaml`), added to
    /// the built-in catalog; a runbook with a built-in id replaces it.
    pub runbook_dirs: Vec<PathBuf>,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            enabled: true,
            app_url: None,
            max_unavailable: 1,
            runbook_dirs: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default = "enabled_default")]
    enabled: bool,
    #[serde(default)]
    app_url: Option<Url>,
    #[serde(default = "max_unavailable_default")]
    max_unavailable: u32,
    #[serde(default)]
    runbook_dirs: Vec<PathBuf>,
}

fn enabled_default() -> bool {
    ActionsConfig::default().enabled
}

fn max_unavailable_default() -> u32 {
    ActionsConfig::default().max_unavailable
}

impl<'de> Deserialize<'de> for ActionsConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        if let serde_json::Value::String(switch) = &value {
            return match switch.as_str() {
                "disabled" => Ok(ActionsConfig {
                    enabled: false,
                    ..ActionsConfig::default()
                }),
                "enabled" => Ok(ActionsConfig::default()),
                other => Err(D::Error::custom(format!(
                    "actions: expected `enabled`, `disabled` or a table, found {other:?}"
                ))),
            };
        }
        let table: Table = serde_json::from_value(value).map_err(D::Error::custom)?;
        if table.max_unavailable == 0 {
            return Err(D::Error::custom(
                "actions.max_unavailable must be at least 1",
            ));
        }
        Ok(ActionsConfig {
            enabled: table.enabled,
            app_url: table.app_url,
            max_unavailable: table.max_unavailable,
            runbook_dirs: table.runbook_dirs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_and_table_forms() {
        let off: ActionsConfig = serde_yaml_ng::from_str("disabled").unwrap();
        assert!(!off.enabled);
        let table: ActionsConfig =
            serde_yaml_ng::from_str("{app_url: 'http://127.0.0.1:3000', max_unavailable: 2}")
                .unwrap();
        assert!(table.enabled);
        assert_eq!(table.max_unavailable, 2);
        let err = serde_yaml_ng::from_str::<ActionsConfig>("{enable: false}").unwrap_err();
        assert!(err.to_string().contains("enable"), "{err}");
    }
}
