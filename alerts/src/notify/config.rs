//! The `notifications:` section of the agent config, shaped like
//! Alertmanager's: receivers, a route tree and inhibition rules, plus how
//! deliveries are retried. Every default lives here.
//!
//! ```yaml
//! notifications:
//!   receivers:
//!     - name: oncall
//!       slack: { url_file: /etc/opsdeck/slack-url, send_resolved: true }
//!   route:
//!     receiver: oncall
//!     group_by: [alertname]
//!     routes:
//!       - matchers: ['severity="critical"']
//!         group_wait: 0s
//! ```

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::matcher::Matcher;
use super::secret::Secret;
use crate::duration::PromDuration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    pub receivers: Vec<ReceiverConfig>,
    /// The root route; required as soon as there is a receiver.
    pub route: Option<RouteConfig>,
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    pub delivery: DeliveryConfig,
}

/// A named destination. Exactly one of the kinds is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    #[serde(default)]
    pub discord: Option<DiscordConfig>,
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
}

/// A Slack incoming webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Alertmanager's Slack default: off.
    #[serde(default)]
    pub send_resolved: bool,
}

/// A Discord webhook; messages are posted with `?wait=true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

/// Any HTTP endpoint that takes Alertmanager's webhook JSON (version 4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// At most this many alerts per message, the rest counted in
    /// `truncatedAlerts`; 0 means all.
    #[serde(default)]
    pub max_alerts: usize,
}

/// An Alertmanager, fed through its API v2 (`POST /api/v2/alerts`) the
/// way Prometheus feeds it: every alert on its own, firing ones re-sent
/// every `resend_delay`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// The Alertmanager's base URL, e.g. `http://127.0.0.1:9093`.
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default = "defaults::resend_delay")]
    pub resend_delay: PromDuration,
}

/// The kind of a receiver, for status lines and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    Slack,
    Discord,
    Webhook,
    Alertmanager,
}

impl ReceiverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Slack => "slack",
            ReceiverKind::Discord => "discord",
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Alertmanager => "alertmanager",
        }
    }
}

impl ReceiverConfig {
    /// The single kind configured, or `None` when zero or several are set.
    pub fn kind(&self) -> Option<ReceiverKind> {
        let set: Vec<ReceiverKind> = [
            self.slack.is_some().then_some(ReceiverKind::Slack),
            self.discord.is_some().then_some(ReceiverKind::Discord),
            self.webhook.is_some().then_some(ReceiverKind::Webhook),
            self.alertmanager
                .is_some()
                .then_some(ReceiverKind::Alertmanager),
        ]
        .into_iter()
        .flatten()
        .collect();
        match set.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    pub fn send_resolved(&self) -> bool {
        match (&self.slack, &self.discord, &self.webhook) {
            (Some(s), _, _) => s.send_resolved,
            (_, Some(d), _) => d.send_resolved,
            (_, _, Some(w)) => w.send_resolved,
            // Alertmanager must hear about resolutions to clear its alerts.
            _ => true,
        }
    }

    /// The resolved URL; set after [`NotificationsConfig::load_secrets`].
    pub fn url(&self) -> Option<&Secret> {
        self.url_slots()
            .map(|(url, _)| url)
            .and_then(|u| u.as_ref())
    }

    fn url_slots(&self) -> Option<(&Option<Secret>, &Option<PathBuf>)> {
        if let Some(c) = &self.slack {
            Some((&c.url, &c.url_file))
        } else if let Some(c) = &self.discord {
            Some((&c.url, &c.url_file))
        } else if let Some(c) = &self.webhook {
            Some((&c.url, &c.url_file))
        } else {
            self.alertmanager.as_ref().map(|c| (&c.url, &c.url_file))
        }
    }

    fn url_slots_mut(&mut self) -> Option<(&mut Option<Secret>, &mut Option<PathBuf>)> {
        if let Some(c) = &mut self.slack {
            Some((&mut c.url, &mut c.url_file))
        } else if let Some(c) = &mut self.discord {
            Some((&mut c.url, &mut c.url_file))
        } else if let Some(c) = &mut self.webhook {
            Some((&mut c.url, &mut c.url_file))
        } else {
            self.alertmanager
                .as_mut()
                .map(|c| (&mut c.url, &mut c.url_file))
        }
    }
}

/// A node of the route tree. Unset fields are inherited from the parent;
/// the root's defaults are Alertmanager's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    pub receiver: Option<String>,
    /// Labels that split alerts into groups; `['...']` groups by all labels.
    pub group_by: Option<Vec<String>>,
    pub matchers: Vec<Matcher>,
    /// Keep looking at later sibling routes after this one matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    pub group_wait: Option<PromDuration>,
    pub group_interval: Option<PromDuration>,
    pub repeat_interval: Option<PromDuration>,
    pub routes: Vec<RouteConfig>,
}

/// Mutes alerts matching `target_matchers` while an alert matching
/// `source_matchers` fires with the same values of the `equal` labels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRuleConfig {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// How deliveries are attempted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Per-request timeout; a timeout is retried.
    pub timeout: PromDuration,
    /// The first retry delay, doubled on each failure (with jitter).
    pub initial_backoff: PromDuration,
    pub max_backoff: PromDuration,
    /// Smallest gap between two messages to one Slack webhook (Slack
    /// allows about one per second).
    pub slack_min_interval: PromDuration,
    /// How long the notification log remembers what was sent, which is
    /// the window inside which nothing is sent twice.
    pub dedup_window: PromDuration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: PromDuration(10_000),
            initial_backoff: PromDuration(1_000),
            max_backoff: PromDuration(5 * 60_000),
            slack_min_interval: PromDuration(1_000),
            dedup_window: PromDuration(5 * 24 * 3_600_000),
        }
    }
}

mod defaults {
    use crate::duration::PromDuration;

    pub const GROUP_WAIT: PromDuration = PromDuration(30_000);
    pub const GROUP_INTERVAL: PromDuration = PromDuration(5 * 60_000);
    pub const REPEAT_INTERVAL: PromDuration = PromDuration(4 * 3_600_000);

    pub fn resend_delay() -> PromDuration {
        PromDuration(60_000)
    }
}

pub(crate) use defaults::{GROUP_INTERVAL, GROUP_WAIT, REPEAT_INTERVAL};

fn yes() -> bool {
    true
}

/// A problem in the `notifications` section, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notifications.{key}: {message}")]
pub struct ConfigError {
    /// Dotted path below `notifications`, e.g. `receivers[0].slack.url`.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl NotificationsConfig {
    /// Checks what serde cannot: one kind per receiver, unique names, a
    /// root route naming known receivers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for (i, receiver) in self.receivers.iter().enumerate() {
            let key = format!("receivers[{i}]");
            if receiver.name.is_empty() {
                return Err(ConfigError::new(format!("{key}.name"), "must not be empty"));
            }
            if !names.insert(receiver.name.as_str()) {
                return Err(ConfigError::new(
                    format!("{key}.name"),
                    format!("duplicate receiver {:?}", receiver.name),
                ));
            }
            if receiver.kind().is_none() {
                return Err(ConfigError::new(
                    key,
                    "set exactly one of slack, discord, webhook, alertmanager",
                ));
            }
        }
        match &self.route {
            None if self.receivers.is_empty() => Ok(()),
            None => Err(ConfigError::new("route", "missing: receivers need a route")),
            Some(route) => {
                if route.receiver.is_none() {
                    return Err(ConfigError::new(
                        "route.receiver",
                        "the root route needs a receiver",
                    ));
                }
                if !route.matchers.is_empty() {
                    return Err(ConfigError::new(
                        "route.matchers",
                        "the root route matches every alert; it takes no matchers",
                    ));
                }
                validate_route(route, "route", &names)
            }
        }
    }

    /// Fills every receiver's `url`: from `OPSDECK_RECEIVER_<NAME>_URL`,
    /// or the file `OPSDECK_RECEIVER_<NAME>_URL_FILE` names (these win),
    /// or `url_file`, or `url`. Afterwards nothing reads files for secrets.
    pub fn load_secrets(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (i, receiver) in self.receivers.iter_mut().enumerate() {
            let var = receiver_env_var(&receiver.name);
            // Zero or several kinds: `validate` reports that.
            let Some(kind) = receiver.kind() else {
                continue;
            };
            let key = format!("receivers[{i}].{}", kind.as_str());
            let Some((url, url_file)) = receiver.url_slots_mut() else {
                continue;
            };
            if let Some(value) = env(&var).filter(|v| !v.is_empty()) {
                *url = Some(Secret::new(value));
                *url_file = None;
                continue;
            }
            let file_var = format!("{var}_FILE");
            if let Some(path) = env(&file_var).filter(|v| !v.is_empty()) {
                *url = Some(read_secret_file(Path::new(&path), &file_var)?);
                *url_file = None;
                continue;
            }
            match (url.is_some(), url_file.take()) {
                (true, Some(_)) => {
                    return Err(ConfigError::new(
                        format!("{key}.url_file"),
                        "set either url or url_file, not both",
                    ))
                }
                (false, Some(path)) => {
                    *url = Some(read_secret_file(
                        &path,
                        &format!("notifications.{key}.url_file"),
                    )?)
                }
                (true, None) => {}
                (false, None) => {
                    return Err(ConfigError::new(
                        format!("{key}.url"),
                        format!("missing: set url, url_file or the environment variable {var}"),
                    ))
                }
            }
            if let Some(value) = url.as_ref() {
                if let Err(err) = url::Url::parse(value.expose()) {
                    // The URL is secret: name the problem, not the value.
                    return Err(ConfigError::new(
                        format!("{key}.url"),
                        format!("not a valid URL: {err}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `OPSDECK_RECEIVER_<NAME>_URL`, the name upper-cased with anything but
/// letters and digits turned into `_`.
pub fn receiver_env_var(name: &str) -> String {
    format!(
        "OPSDECK_RECEIVER_{}_URL",
        super::secret::env_name_part(name)
    )
}

fn read_secret_file(path: &Path, key: &str) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::new(key, format!("cannot read {}: {err}", path.display())))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(ConfigError::new(
            key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(value))
}

fn validate_route(
    route: &RouteConfig,
    key: &str,
    receivers: &HashSet<&str>,
) -> Result<(), ConfigError> {
    if let Some(name) = &route.receiver {
        if !receivers.contains(name.as_str()) {
            return Err(ConfigError::new(
                format!("{key}.receiver"),
                format!("no receiver named {name:?}"),
            ));
        }
    }
    if let Some(group_by) = &route.group_by {
        let distinct: BTreeSet<&String> = group_by.iter().collect();
        if distinct.len() != group_by.len() {
            return Err(ConfigError::new(
                format!("{key}.group_by"),
                "duplicate label",
            ));
        }
        if group_by.iter().any(|l| l == "...") && group_by.len() > 1 {
            return Err(ConfigError::new(
                format!("{key}.group_by"),
                "'...' must be the only entry",
            ));
        }
    }
    if route.group_interval.is_some_and(|d| d.millis() == 0) {
        return Err(ConfigError::new(
            format!("{key}.group_interval"),
            "must be greater than 0",
        ));
    }
    if route.repeat_interval.is_some_and(|d| d.millis() == 0) {
        return Err(ConfigError::new(
            format!("{key}.repeat_interval"),
            "must be greater than 0",
        ));
    }
    for (i, child) in route.routes.iter().enumerate() {
        validate_route(child, &format!("{key}.routes[{i}]"), receivers)?;
    }
    Ok(())
}

/// Reads just the `notifications:` key of an agent config file, ignoring
/// the rest; for `opsdeck notify test`, which must not depend on the
/// whole agent config.
pub fn parse_notifications_section(text: &str) -> Result<NotificationsConfig, SectionError> {
    #[derive(Deserialize)]
    struct AgentFile {
        #[serde(default)]
        notifications: Option<NotificationsConfig>,
    }
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let file: AgentFile = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let location = err.inner().location();
        SectionError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            key: err.path().to_string(),
            message: err.inner().to_string(),
        }
    })?;
    Ok(file.notifications.unwrap_or_default())
}

/// A YAML error in the `notifications:` section, with line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}: {key}: {message}", line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
pub struct SectionError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<NotificationsConfig, SectionError> {
        parse_notifications_section(yaml)
    }

    #[test]
    fn reads_the_section_and_ignores_other_keys() {
        let config = parse(
            "listen: {address: '127.0.0.1:0'}\nnotifications:\n  receivers:\n    - name: s\n      slack: {url: 'http://127.0.0.1:1/x'}\n  route:\n    receiver: s\n    group_by: [alertname]\n    routes:\n      - matchers: ['severity=\"critical\"']\n        group_wait: 0\n        continue: true\n",
        )
        .unwrap();
        config.validate().unwrap();
        let route = config.route.unwrap();
        assert_eq!(route.routes[0].group_wait, Some(PromDuration(0)));
        assert!(route.routes[0].continue_matching);
        assert!(!config.receivers[0].slack.as_ref().unwrap().send_resolved);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = parse(
            "notifications:\n  receivers:\n    - name: s\n      slack: {url: x, colour: red}\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(4));
        assert!(err.message.contains("colour"), "{err}");
        assert!(err.key.contains("receivers[0].slack"), "{err}");
    }

    #[test]
    fn validation_names_the_key() {
        let config = parse("notifications:\n  receivers:\n    - name: s\n      slack: {url: x}\n      discord: {url: y}\n  route: {receiver: s}\n").unwrap();
        assert_eq!(config.validate().unwrap_err().key, "receivers[0]");
        let config = parse("notifications:\n  receivers:\n    - name: s\n      slack: {url: x}\n  route:\n    receiver: s\n    routes: [{receiver: nope}]\n").unwrap();
        assert_eq!(
            config.validate().unwrap_err().key,
            "route.routes[0].receiver"
        );
    }

    #[test]
    fn secrets_come_from_env_file_or_inline_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "http://127.0.0.1:9/from-file\n").unwrap();
        let yaml = format!(
            "notifications:\n  receivers:\n    - name: from-file\n      discord: {{url_file: {}}}\n    - name: on-call\n      slack: {{url: 'http://127.0.0.1:9/inline'}}\n",
            file.display()
        );
        let mut config = parse(&yaml).unwrap();
        let env = |var: &str| {
            (var == "OPSDECK_RECEIVER_ON_CALL_URL").then(|| "http://127.0.0.1:9/env".to_string())
        };
        config.load_secrets(&env).unwrap();
        assert_eq!(
            config.receivers[0].url().unwrap().expose(),
            "http://127.0.0.1:9/from-file"
        );
        assert_eq!(
            config.receivers[1].url().unwrap().expose(),
            "http://127.0.0.1:9/env"
        );
        assert!(!format!("{config:?}").contains("127.0.0.1:9"));
    }

    #[test]
    fn a_missing_url_is_an_error_naming_the_variable() {
        let mut config =
            parse("notifications:\n  receivers:\n    - name: hook\n      webhook: {}\n").unwrap();
        let err = config.load_secrets(&|_| None).unwrap_err();
        assert_eq!(err.key, "receivers[0].webhook.url");
        assert!(err.message.contains("OPSDECK_RECEIVER_HOOK_URL"));
    }
}
