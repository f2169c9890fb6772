//! Reading the config file and checking it. Every error names the file,
//! and the line and key where there is one.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{secrets, AgentConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {key}: {message}", path.display(), Position(*line, *column))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        /// Dotted path of the offending key, e.g. `scrape[0].timeout`.
        key: String,
        message: String,
    },
    #[error("{}{key}: {message}", FileLabel(path.as_deref()))]
    Invalid {
        path: Option<PathBuf>,
        key: String,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: None,
            key: key.into(),
            message: message.into(),
        }
    }

    fn in_file(self, file: &Path) -> Self {
        match self {
            ConfigError::Invalid {
                path: None,
                key,
                message,
            } => ConfigError::Invalid {
                path: Some(file.to_path_buf()),
                key,
                message,
            },
            other => other,
        }
    }
}

struct Position(Option<usize>, Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, ":{line}:{column}"),
            (Some(line), None) => write!(f, ":{line}"),
            _ => Ok(()),
        }
    }
}

struct FileLabel<'a>(Option<&'a Path>);

impl fmt::Display for FileLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}: ", path.display()),
            None => f.write_str("config: "),
        }
    }
}

/// Reads, parses, applies `OPSDECK_*` environment overrides, reads secret
/// files and validates: everything `opsdeck agent --check-config` checks.
pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = parse(&text, path)?;
    let env = |var: &str| std::env::var(var).ok();
    secrets::apply_env(&mut config, &env).map_err(|e| e.in_file(path))?;
    secrets::resolve_files(&mut config).map_err(|e| e.in_file(path))?;
    validate(&config).map_err(|e| e.in_file(path))?;
    Ok(config)
}

/// Parses YAML text; `path` is only used in error messages. An empty
/// document is the default config.
pub fn parse(text: &str, path: &Path) -> Result<AgentConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(AgentConfig::default());
    }
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, AgentConfig>(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let location = inner.location();
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: strip_location(&inner.to_string()),
        }
    })
}

/// serde_yaml_ng appends " at line L column C"; we print the position first.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Whether `name` is a valid Prometheus label name (and not reserved).
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(super) fn validate(config: &AgentConfig) -> Result<(), ConfigError> {
    if config.interval.is_zero() {
        return Err(ConfigError::invalid("interval", "must be more than 0s"));
    }
    if config.retention < config.interval {
        return Err(ConfigError::invalid(
            "retention",
            "must be at least the interval",
        ));
    }
    if !(config.rules.hold_speedup.is_finite() && config.rules.hold_speedup >= 1.0) {
        return Err(ConfigError::invalid(
            "rules.hold_speedup",
            "must be a number of at least 1",
        ));
    }
    if config.rules.concurrency == 0 {
        return Err(ConfigError::invalid(
            "rules.concurrency",
            "must be at least 1",
        ));
    }
    validate_auth(config)?;
    let mut names = BTreeSet::new();
    for (i, target) in config.scrape.iter().enumerate() {
        let key = format!("scrape[{i}]");
        validate_source(
            &key,
            &target.name,
            &target.url,
            target.interval,
            target.timeout,
            &mut names,
        )?;
        validate_labels(&key, &target.labels)?;
        if target.body_size_limit.bytes() == 0 {
            return Err(ConfigError::invalid(
                format!("{key}.body_size_limit"),
                "must be more than 0",
            ));
        }
    }
    for (i, endpoint) in config.json_stats.iter().enumerate() {
        let key = format!("json_stats[{i}]");
        validate_source(
            &key,
            &endpoint.name,
            &endpoint.url,
            endpoint.interval,
            endpoint.timeout,
            &mut names,
        )?;
        validate_labels(&key, &endpoint.labels)?;
        if endpoint.metrics.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.metrics"),
                "list at least one metric",
            ));
        }
        for (j, metric) in endpoint.metrics.iter().enumerate() {
            let key = format!("{key}.metrics[{j}]");
            if !valid_metric_name(&metric.name) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!("{:?} is not a valid metric name", metric.name),
                ));
            }
            if !metric.pointer.is_empty() && !metric.pointer.starts_with('/') {
                return Err(ConfigError::invalid(
                    format!("{key}.pointer"),
                    format!(
                        "{:?} is not a JSON pointer: it must start with '/'",
                        metric.pointer
                    ),
                ));
            }
            validate_labels(&key, &metric.labels)?;
        }
    }
    if let Some(process) = &config.process {
        let set = [
            process.pid.is_some(),
            process.pidfile.is_some(),
            process.name.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::invalid(
                "process",
                "set exactly one of pid, pidfile and name",
            ));
        }
        if process.interval.is_zero() {
            return Err(ConfigError::invalid(
                "process.interval",
                "must be more than 0s",
            ));
        }
    }
    if config.host.interval.is_zero() {
        return Err(ConfigError::invalid(
            "host.interval",
            "must be more than 0s",
        ));
    }
    if config.rules.interval.is_zero() {
        return Err(ConfigError::invalid(
            "rules.interval",
            "must be more than 0s",
        ));
    }
    config
        .notifications
        .validate()
        .map_err(|err| ConfigError::invalid(format!("notifications.{}", err.key), err.message))?;
    crate::profiles::validate_config(&config.profiles)?;
    opsdeck_runbooks::catalog::load(&config.actions.runbook_dirs)
        .map_err(|err| ConfigError::invalid("actions.runbook_dirs", err.to_string()))?;
    crate::rules::build_evaluator(&config.rules).map(|_| ())
}

fn validate_auth(config: &AgentConfig) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (section, tokens) in [
        ("auth.viewer_tokens", &config.auth.viewer_tokens),
        ("auth.operator_tokens", &config.auth.operator_tokens),
    ] {
        for (i, token) in tokens.iter().enumerate() {
            if token.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("{section}[{i}].name"),
                    "must not be empty",
                ));
            }
            if !names.insert(token.name.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{section}[{i}].name"),
                    format!("token name {:?} is used twice", token.name),
                ));
            }
            match &token.token {
                Some(secret) if !secret.expose().is_empty() => {}
                _ => {
                    return Err(ConfigError::invalid(
                        format!("{section}[{i}].token"),
                        "missing or empty: set token or token_file",
                    ))
                }
            }
        }
    }
    let exposed = !config.listen.address.ip().is_loopback();
    if exposed && config.auth.viewer_tokens.is_empty() && config.auth.operator_tokens.is_empty() {
        return Err(ConfigError::invalid(
            "auth.viewer_tokens",
            format!(
                "listen.address {} is not loopback, so reads need a token: configure at least one viewer token",
                config.listen.address
            ),
        ));
    }
    Ok(())
}

fn validate_source<'a>(
    key: &str,
    name: &'a str,
    url: &url::Url,
    interval: std::time::Duration,
    timeout: std::time::Duration,
    names: &mut BTreeSet<&'a str>,
) -> Result<(), ConfigError> {
    if name.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            "must not be empty",
        ));
    }
    if !names.insert(name) {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            format!("{name:?} is used by another target"),
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            format!("{key}.url"),
            format!("scheme {:?} is not http or https", url.scheme()),
        ));
    }
    if interval.is_zero() {
        return Err(ConfigError::invalid(
            format!("{key}.interval"),
            "must be more than 0s",
        ));
    }
    if timeout.is_zero() || timeout > interval {
        return Err(ConfigError::invalid(
            format!("{key}.timeout"),
            "must be more than 0s and at most the interval",
        ));
    }
    Ok(())
}

fn validate_labels(
    key: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for name in labels.keys() {
        if !valid_label_name(name) {
            return Err(ConfigError::invalid(
                format!("{key}.labels.{name}"),
                "not a valid label name (letters, digits and _, not starting with a digit or __)",
            ));
        }
    }
    Ok(())
}

/// Parses `text` as if it were a file, for tests of the error messages.
#[cfg(test)]
fn parse_str(text: &str) -> Result<AgentConfig, ConfigError> {
    let config = parse(text, Path::new("agent.yaml"))?;
    validate(&config).map_err(|e| e.in_file(Path::new("agent.yaml")))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse_str(
            "interval: 5s\nscrape:\n  - name: app\n    url: http://127.0.0.1:3000/metrics\n    intervall: 1s\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("agent.yaml:5:"), "{err}");
        assert!(err.contains("scrape[0]"), "{err}");
        assert!(err.contains("intervall"), "{err}");
    }

    #[test]
    fn bad_duration_names_the_key() {
        let err = parse_str("interval: soon\n").unwrap_err().to_string();
        assert!(err.contains("agent.yaml:1:"), "{err}");
        assert!(err.contains("interval"), "{err}");
        assert!(err.contains("soon"), "{err}");
    }

    #[test]
    fn empty_file_is_the_default_config() {
        let config = parse_str("").unwrap();
        assert!(config.listen.address.ip().is_loopback());
        assert!(config.host.enabled);
    }

    #[test]
    fn non_loopback_listen_needs_a_token() {
        let err = parse_str("listen:\n  address: 0.0.0.0:9464\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.viewer_tokens"), "{err}");
    }

    #[test]
    fn timeout_beyond_interval_is_rejected() {
        let err = parse_str(
            "scrape:\n  - name: app\n    url: http://127.0.0.1:1/metrics\n    interval: 1s\n    timeout: 2s\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("scrape[0].timeout"), "{err}");
    }

    #[test]
    fn duplicate_target_names_are_rejected() {
        let err = parse_str(
            "scrape:\n  - {name: app, url: 'http://127.0.0.1:1/metrics'}\n  - {name: app, url: 'http://127.0.0.1:2/metrics'}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("scrape[1].name"), "{err}");
    }

    #[test]
    fn rule_concurrency_is_at_least_one() {
        let err = parse_str("rules:\n  concurrency: 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules.concurrency"), "{err}");
        let config = parse_str("rules:\n  concurrency: 3\n").unwrap();
        assert_eq!(config.rules.concurrency, 3);
    }

    #[test]
    fn process_needs_exactly_one_selector() {
        let err = parse_str("process:\n  pid: 1\n  name: node\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("process"), "{err}");
    }

    #[test]
    fn a_broken_runbook_in_a_runbook_dir_names_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.yaml"), "id: mine\ntitle: t\n").unwrap();
        let config = format!("actions:\n  runbook_dirs: ['{}']\n", dir.path().display());
        let err = parse_str(&config).unwrap_err().to_string();
        assert!(err.contains("actions.runbook_dirs"), "{err}");
        assert!(err.contains("mine.yaml"), "{err}");
    }
}
