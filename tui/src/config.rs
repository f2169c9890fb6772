//! The dashboard's config file (`~/.config/opsdeck/opsdeck.yaml` or
//! `--config`): which agents to watch, the theme, notifications, key
//! bindings and logging. Unknown keys are errors naming the file, line and
//! key. Documented in `docs/tui.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file. Every section is optional; defaults live in the
/// `Default` impls below and nowhere else.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuiConfig {
    pub agents: Vec<AgentConfig>,
    pub theme: ThemeName,
    pub notifications: NotificationConfig,
    /// Action name → keys, replacing that action's default keys,
    /// e.g. `fleet: ["F1", "1"]`.
    pub keys: BTreeMap<String, Vec<String>>,
    pub log: LogConfig,
    /// Hides and refuses everything that changes an agent (silences,
    /// runbooks), k9s's `--readonly`.
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Shown until the agent's snapshot names the node; defaults to the URL's host.
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    /// Bearer token sent to the agent. Never shown or logged.
    #[serde(default)]
    pub token: Option<String>,
    /// Name of an environment variable holding the token, for files that
    /// must not contain secrets.
    #[serde(default)]
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
    /// No colours at all; also chosen when `NO_COLOR` is set.
    Mono,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationConfig {
    /// Desktop notification when a critical alert starts firing. Off by default.
    pub desktop: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Directory of the rolling log file (`opsdeck-tui.log.YYYY-MM-DD`).
    pub dir: Option<PathBuf>,
    /// A `tracing` filter such as `info` or `opsdeck_tui=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            dir: None,
            level: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {key}: {message}", path.display(), LineLabel(*line))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        /// Dotted path of the offending key, e.g. `agents[0].tokn`.
        key: String,
        message: String,
    },
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

struct LineLabel(Option<usize>);

impl fmt::Display for LineLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

/// `~/.config/opsdeck/opsdeck.yaml` (or the platform's config directory).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("opsdeck").join("opsdeck.yaml"))
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<TuiConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses YAML text; `path` is only used in error messages. An empty
/// document is the default config.
pub fn parse(text: &str, path: &Path) -> Result<TuiConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(TuiConfig::default());
    }
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let config: TuiConfig = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: inner.location().map(|l| l.line()),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: strip_location(&inner.to_string()),
        }
    })?;
    validate(&config, path)?;
    Ok(config)
}

fn validate(config: &TuiConfig, path: &Path) -> Result<(), ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        key,
        message,
    };
    for (i, agent) in config.agents.iter().enumerate() {
        let parsed = url::Url::parse(&agent.url)
            .map_err(|e| invalid(format!("agents[{i}].url"), format!("{e}: {:?}", agent.url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(
                format!("agents[{i}].url"),
                format!("scheme must be http or https, not {:?}", parsed.scheme()),
            ));
        }
        if agent.token.is_some() && agent.token_env.is_some() {
            return Err(invalid(
                format!("agents[{i}]"),
                "set either token or token_env, not both".into(),
            ));
        }
    }
    if let Err(message) = tracing_subscriber::EnvFilter::try_new(&config.log.level) {
        return Err(invalid("log.level".into(), message.to_string()));
    }
    Ok(())
}

/// serde_yaml_ng appends " at line L column C"; the line is printed first.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

impl AgentConfig {
    /// An agent given on the command line: no name, no token.
    pub fn from_url(url: &str) -> Self {
        AgentConfig {
            name: None,
            url: url.to_string(),
            token: None,
            token_env: None,
        }
    }

    /// The token, reading `token_env` when that is how it is given.
    pub fn resolve_token(&self) -> Option<String> {
        match (&self.token, &self.token_env) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(var)) => std::env::var(var).ok(),
            (None, None) => None,
        }
    }

    /// The configured name, else the URL's host:port.
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match url::Url::parse(&self.url) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                _ => self.url.clone(),
            },
            Err(_) => self.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<TuiConfig, ConfigError> {
        parse(text, Path::new("opsdeck.yaml"))
    }

    #[test]
    fn full_file_parses() {
        let config = parse_str(
            "agents:\n  - name: bot-1\n    url: http://127.0.0.1:9464\n    token: s3cret\n  - url: https://bot-2:9464\n    token_env: BOT2_TOKEN\ntheme: light\nnotifications:\n  desktop: true\nkeys:\n  fleet: [\"F1\"]\nlog:\n  level: debug\n",
        )
        .unwrap();
        assert_eq!(config.agents.len(), 2);
        assert_eq!(config.agents[0].display_name(), "bot-1");
        assert_eq!(config.agents[1].display_name(), "bot-2:9464");
        assert_eq!(config.theme, ThemeName::Light);
        assert!(config.notifications.desktop);
        assert_eq!(config.keys["fleet"], vec!["F1".to_string()]);
        assert_eq!(config.log.level, "debug");
    }

    #[test]
    fn empty_file_is_the_default() {
        let config = parse_str("  \n").unwrap();
        assert_eq!(config, TuiConfig::default());
        assert!(
            !config.notifications.desktop,
            "desktop notifications are off by default"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse_str("agents:\n  - url: http://a:1\n    tokn: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("opsdeck.yaml:3"), "{err}");
        assert!(err.contains("agents[0]"), "{err}");
        assert!(err.contains("tokn"), "{err}");
    }

    #[test]
    fn missing_url_is_named() {
        let err = parse_str("agents:\n  - name: a\n").unwrap_err().to_string();
        assert!(err.contains("url"), "{err}");
    }

    #[test]
    fn bad_url_scheme_is_named() {
        let err = parse_str("agents:\n  - url: ftp://a:1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agents[0].url"), "{err}");
        assert!(err.contains("ftp"), "{err}");
    }

    #[test]
    fn token_and_token_env_conflict() {
        let err = parse_str("agents:\n  - url: http://a:1\n    token: x\n    token_env: Y\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agents[0]"), "{err}");
    }

    #[test]
    fn bad_theme_names_the_key() {
        let err = parse_str("theme: neon\n").unwrap_err().to_string();
        assert!(err.contains("theme"), "{err}");
        assert!(err.contains(":1"), "{err}");
    }
}
