//! Label matchers, independent of the PromQL parser so that the store does
//! not depend on it.

use regex::Regex;

use crate::Labels;

#[derive(Debug, Clone)]
pub enum MatchOp {
    Equal(String),
    NotEqual(String),
    /// Fully anchored, as PromQL regex matchers are.
    Regex(Regex),
    NotRegex(Regex),
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
}

impl Matcher {
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal(value.into()),
        }
    }

    /// Builds a regex matcher, anchoring the pattern as PromQL does.
    pub fn regex(name: impl Into<String>, pattern: &str) -> Result<Self, regex::Error> {
        Ok(Matcher {
            name: name.into(),
            op: MatchOp::Regex(Regex::new(&format!("^(?s:{pattern})$"))?),
        })
    }

    pub fn not_regex(name: impl Into<String>, pattern: &str) -> Result<Self, regex::Error> {
        Ok(Matcher {
            name: name.into(),
            op: MatchOp::NotRegex(Regex::new(&format!("^(?s:{pattern})$"))?),
        })
    }

    /// A missing label matches as the empty string, as in Prometheus.
    pub fn matches_value(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(v) => v == value,
            MatchOp::NotEqual(v) => v != value,
            MatchOp::Regex(re) => re.is_match(value),
            MatchOp::NotRegex(re) => !re.is_match(value),
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }
}
