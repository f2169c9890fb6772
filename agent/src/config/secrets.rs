//! Secrets in the config: tokens and passwords. They can come from the
//! file itself, from a file named by a `*_file` key, or from the
//! environment (`OPSDECK_*`, and `OPSDECK_*_FILE` naming a file), which
//! wins. A [`Secret`] never prints its value.

use std::path::Path;

use opsdeck_alerts::notify::secret::env_name_part;

use super::{AgentConfig, ConfigError, TokenConfig};

/// A string that is never logged, printed or serialized: the same type
/// the notification receivers' URLs use.
pub use opsdeck_alerts::notify::Secret;

/// Where environment variables come from; tests pass a map.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The environment variable prefix for a scrape target's secrets:
/// `OPSDECK_SCRAPE_<NAME>_`, the name upper-cased with anything but
/// letters and digits turned into `_`.
pub(crate) fn target_env_prefix(target: &str) -> String {
    format!("OPSDECK_SCRAPE_{}_", env_name_part(target))
}

/// Applies `OPSDECK_*` overrides from `env`.
pub(crate) fn apply_env(config: &mut AgentConfig, env: Env<'_>) -> Result<(), ConfigError> {
    for (var, name, tokens) in [
        (
            "OPSDECK_OPERATOR_TOKEN",
            "env-operator",
            &mut config.auth.operator_tokens,
        ),
        (
            "OPSDECK_VIEWER_TOKEN",
            "env-viewer",
            &mut config.auth.viewer_tokens,
        ),
    ] {
        if let Some(secret) = from_env(env, var)? {
            tokens.retain(|t| t.name != name);
            tokens.push(TokenConfig {
                name: name.into(),
                token: Some(secret),
                token_file: None,
            });
        }
    }
    config
        .notifications
        .load_secrets(env)
        .map_err(|err| ConfigError::invalid(format!("notifications.{}", err.key), err.message))?;
    for target in &mut config.scrape {
        let prefix = target_env_prefix(&target.name);
        if let Some(secret) = from_env(env, &format!("{prefix}BEARER_TOKEN"))? {
            target.bearer_token = Some(secret);
            target.bearer_token_file = None;
        }
        if let Some(basic) = &mut target.basic_auth {
            if let Some(secret) = from_env(env, &format!("{prefix}PASSWORD"))? {
                basic.password = Some(secret);
                basic.password_file = None;
            }
        }
    }
    Ok(())
}

/// `VAR`, or the contents of the file `VAR_FILE` names.
fn from_env(env: Env<'_>, var: &str) -> Result<Option<Secret>, ConfigError> {
    if let Some(value) = env(var).filter(|v| !v.is_empty()) {
        return Ok(Some(Secret::new(value)));
    }
    let file_var = format!("{var}_FILE");
    match env(&file_var).filter(|v| !v.is_empty()) {
        Some(path) => read_secret_file(Path::new(&path), &file_var).map(Some),
        None => Ok(None),
    }
}

/// Reads every `*_file` secret into its value, so that nothing later
/// touches the file system for secrets.
pub(crate) fn resolve_files(config: &mut AgentConfig) -> Result<(), ConfigError> {
    for (section, tokens) in [
        ("auth.operator_tokens", &mut config.auth.operator_tokens),
        ("auth.viewer_tokens", &mut config.auth.viewer_tokens),
    ] {
        for (i, token) in tokens.iter_mut().enumerate() {
            let key = format!("{section}[{i}]");
            resolve_one(&mut token.token, &mut token.token_file, &key, "token")?;
        }
    }
    for (i, target) in config.scrape.iter_mut().enumerate() {
        let key = format!("scrape[{i}]");
        if target.bearer_token.is_some() || target.bearer_token_file.is_some() {
            resolve_one(
                &mut target.bearer_token,
                &mut target.bearer_token_file,
                &key,
                "bearer_token",
            )?;
        }
        if let Some(basic) = &mut target.basic_auth {
            resolve_one(
                &mut basic.password,
                &mut basic.password_file,
                &format!("{key}.basic_auth"),
                "password",
            )?;
        }
    }
    Ok(())
}

/// Exactly one of `value` and `file` must be set; the file is read into `value`.
fn resolve_one(
    value: &mut Option<Secret>,
    file: &mut Option<std::path::PathBuf>,
    key: &str,
    field: &str,
) -> Result<(), ConfigError> {
    match (value.is_some(), file.take()) {
        (true, Some(_)) => Err(ConfigError::invalid(
            format!("{key}.{field}_file"),
            format!("set either {field} or {field}_file, not both"),
        )),
        (false, Some(path)) => {
            *value = Some(read_secret_file(&path, &format!("{key}.{field}_file"))?);
            Ok(())
        }
        (true, None) => Ok(()),
        (false, None) => Err(ConfigError::invalid(
            format!("{key}.{field}"),
            format!("missing: set {field} or {field}_file"),
        )),
    }
}

/// A secret file's contents without the trailing newline editors add.
fn read_secret_file(path: &Path, key: &str) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::invalid(key, format!("cannot read {}: {err}", path.display()))
    })?;
    let value = text.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(ConfigError::invalid(
            key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn env_overrides_tokens_and_target_secrets() {
        let mut config = super::super::parse(
            "scrape:\n  - name: my-app\n    url: http://127.0.0.1:1/metrics\n    basic_auth: {username: u, password: old}\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        let env = |var: &str| match var {
            "OPSDECK_OPERATOR_TOKEN" => Some("op".to_string()),
            "OPSDECK_SCRAPE_MY_APP_PASSWORD" => Some("new".to_string()),
            _ => None,
        };
        apply_env(&mut config, &env).unwrap();
        assert_eq!(config.auth.operator_tokens[0].name, "env-operator");
        let password = config.scrape[0]
            .basic_auth
            .as_ref()
            .unwrap()
            .password
            .clone();
        assert_eq!(password, Some(Secret::new("new")));
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let mut config = AgentConfig::default();
        config.auth.viewer_tokens.push(TokenConfig {
            name: "grafana".into(),
            token: None,
            token_file: Some(path),
        });
        resolve_files(&mut config).unwrap();
        assert_eq!(
            config.auth.viewer_tokens[0].token,
            Some(Secret::new("s3cret"))
        );
    }

    #[test]
    fn token_without_value_names_the_key() {
        let mut config = AgentConfig::default();
        config.auth.viewer_tokens.push(TokenConfig {
            name: "x".into(),
            token: None,
            token_file: None,
        });
        let err = resolve_files(&mut config).unwrap_err().to_string();
        assert!(err.contains("auth.viewer_tokens[0].token"), "{err}");
    }
}
