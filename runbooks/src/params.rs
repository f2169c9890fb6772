//! Typed parameters, checked before anything runs. A value that passes is
//! still treated as untrusted data by the templating (`template.rs`).

use std::collections::BTreeMap;

use regex::Regex;

use crate::format::{ParamSpec, ParamType, Runbook};

/// Longest accepted value of any parameter.
pub const MAX_VALUE_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("param `{name}`: {reason}")]
    Invalid { name: String, reason: String },
    #[error("param `{0}` is required")]
    Missing(String),
    #[error("param `{0}` is not a parameter of this runbook")]
    Unknown(String),
}

fn invalid(name: &str, reason: impl Into<String>) -> ParamError {
    ParamError::Invalid {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Checks `given` against the runbook's params and fills defaults.
pub fn validate(
    runbook: &Runbook,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ParamError> {
    if let Some(unknown) = given.keys().find(|k| !runbook.params.contains_key(*k)) {
        return Err(ParamError::Unknown(unknown.clone()));
    }
    let mut values = BTreeMap::new();
    for (name, spec) in &runbook.params {
        let value = match given.get(name).or(spec.default.as_ref()) {
            Some(value) => value,
            None if spec.required => return Err(ParamError::Missing(name.clone())),
            None => continue,
        };
        check_value(name, spec, value)?;
        values.insert(name.clone(), value.clone());
    }
    Ok(values)
}

/// One value against its spec.
pub fn check_value(name: &str, spec: &ParamSpec, value: &str) -> Result<(), ParamError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(invalid(name, format!("longer than {MAX_VALUE_LEN} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(name, "contains a control character"));
    }
    match spec.kind {
        ParamType::Shard => {
            if value.is_empty() || value.len() > 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    name,
                    format!("{value:?} is not a shard id (digits)"),
                ));
            }
        }
        ParamType::Int => {
            value
                .parse::<i64>()
                .map_err(|_| invalid(name, format!("{value:?} is not an integer")))?;
        }
        ParamType::Duration => {
            humantime::parse_duration(value)
                .map_err(|err| invalid(name, format!("{value:?} is not a duration: {err}")))?;
        }
        ParamType::Enum => {
            if !spec.choices.iter().any(|c| c == value) {
                return Err(invalid(
                    name,
                    format!("{value:?} is not one of {}", spec.choices.join(", ")),
                ));
            }
        }
        ParamType::String => {}
    }
    if let Some(pattern) = &spec.pattern {
        // Patterns are checked when the runbook loads, so this compiles.
        let anchored = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|err| invalid(name, format!("pattern: {err}")))?;
        if !anchored.is_match(value) {
            return Err(invalid(
                name,
                format!("{value:?} does not match /{pattern}/"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ParamType) -> ParamSpec {
        ParamSpec {
            kind,
            description: String::new(),
            required: true,
            default: None,
            pattern: None,
            choices: Vec::new(),
        }
    }

    #[test]
    fn hostile_shard_values_are_rejected() {
        for hostile in ["3;reboot", "$(id)", "../3", "3\n4", "", "-1", "1234567"] {
            assert!(
                check_value("shard", &spec(ParamType::Shard), hostile).is_err(),
                "{hostile:?}"
            );
        }
        assert!(check_value("shard", &spec(ParamType::Shard), "12").is_ok());
    }

    #[test]
    fn strings_reject_control_characters_and_honour_patterns() {
        let mut s = spec(ParamType::String);
        assert!(check_value("reason", &s, "a\nb").is_err());
        assert!(check_value("reason", &s, "$(id); ../x").is_ok());
        s.pattern = Some("[a-z]+".into());
        assert!(check_value("reason", &s, "abc").is_ok());
        assert!(check_value("reason", &s, "abc;").is_err());
    }

    #[test]
    fn enum_int_and_duration() {
        let mut e = spec(ParamType::Enum);
        e.choices = vec!["main".into()];
        assert!(check_value("pool", &e, "main").is_ok());
        assert!(check_value("pool", &e, "other").is_err());
        assert!(check_value("n", &spec(ParamType::Int), "x").is_err());
        assert!(check_value("d", &spec(ParamType::Duration), "5s").is_ok());
        assert!(check_value("d", &spec(ParamType::Duration), "5 parsecs").is_err());
    }
}
