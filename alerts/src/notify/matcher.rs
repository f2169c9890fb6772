//! Label matchers in Alertmanager's syntax: `severity="critical"`,
//! `job=~"api|web"`, `env!="dev"`, `team!~"ops.*"`; the value may be left
//! unquoted. Used by routes, inhibition rules and silences.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One `name op value` condition on a label set. A missing label matches
/// as the empty string, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Anchored `^(?:value)$`, for the regex operators.
    regex: Option<Regex>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad matcher {input:?}: {reason}")]
pub struct MatcherError {
    pub input: String,
    pub reason: String,
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, MatcherError> {
        let input = format!("{name}{}{value:?}", op.as_str());
        let err = |reason: String| MatcherError {
            input: input.clone(),
            reason,
        };
        let name_ok = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !name_ok {
            return Err(err(format!("{name:?} is not a valid label name")));
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| err(format!("invalid regular expression: {e}")))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses `name op value`, the value quoted (Go escapes `\"`, `\\`,
    /// `\n`) or bare.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        let err = |reason: &str| MatcherError {
            input: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let op_at = trimmed
            .find(['=', '!'])
            .ok_or_else(|| err("expected one of =, !=, =~, !~"))?;
        let name = trimmed[..op_at].trim();
        let rest = &trimmed[op_at..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Equal, v)
        } else {
            return Err(err("expected one of =, !=, =~, !~"));
        };
        let value =
            unquote(value.trim()).ok_or_else(|| err("unterminated or malformed quoted value"))?;
        Matcher::new(name, op, &value)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // `new` always compiles a regex for the regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

/// True when every matcher matches.
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Matcher::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_all_operators_quoted_and_bare() {
        let l = labels(&[("severity", "critical"), ("job", "api")]);
        for (text, expect) in [
            (r#"severity="critical""#, true),
            ("severity=critical", true),
            (r#"severity!="critical""#, false),
            (r#"job=~"api|web""#, true),
            (r#"job=~"ap""#, false),
            (r#"job!~"web.*""#, true),
            (r#"team="""#, true),
            (r#"team!="""#, false),
        ] {
            assert_eq!(Matcher::parse(text).unwrap().matches(&l), expect, "{text}");
        }
    }

    #[test]
    fn round_trips_through_display() {
        let m = Matcher::parse(r#"msg="say \"hi\"""#).unwrap();
        assert_eq!(m.value, r#"say "hi""#);
        assert_eq!(Matcher::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["severity", "=x", "9x=y", r#"a="open"#, "a=~\"(\""] {
            assert!(Matcher::parse(bad).is_err(), "{bad}");
        }
    }
}
