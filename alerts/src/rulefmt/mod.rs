//! Prometheus rule files, read unchanged: groups of alerting and recording
//! rules. Unknown keys are errors, as in Prometheus. Scalars are read as
//! their text (`expr: 1` is the string `1`), as Go's YAML reader does.

mod locate;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::PromDuration;
pub use locate::Position;
pub use validate::{duplicate_rules, validate, DuplicateRule};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    #[serde(default)]
    pub name: String,
    pub interval: Option<PromDuration>,
    #[serde(default)]
    pub query_offset: Option<PromDuration>,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// Where the group starts in its file.
    #[serde(skip)]
    pub position: Position,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub record: Option<String>,
    #[serde(default)]
    pub alert: Option<String>,
    #[serde(default)]
    pub expr: Option<String>,
    #[serde(default, rename = "for")]
    pub for_: PromDuration,
    #[serde(default)]
    pub keep_firing_for: PromDuration,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip)]
    pub position: Position,
    #[serde(skip)]
    pub expr_position: Option<Position>,
}

impl RuleSpec {
    /// The alert or record name (the alert's when both are set).
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("")
    }
}

/// An error in a rule file, worded like promtool's: file, line, group and
/// rule where known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RuleFileError {
    pub file: PathBuf,
    pub position: Option<Position>,
    pub group: Option<String>,
    pub rule: Option<Box<RuleRef>>,
    pub message: String,
}

/// A rule by its 1-based position in its group and its name.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRef {
    pub index: usize,
    pub name: String,
}

impl RuleRef {
    pub fn boxed(index: usize, name: &str) -> Option<Box<RuleRef>> {
        Some(Box::new(RuleRef {
            index,
            name: name.to_string(),
        }))
    }
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        if let Some(group) = &self.group {
            write!(f, "group {group:?}, ")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, "rule {}, {:?}: ", rule.index, rule.name)?;
        }
        f.write_str(&self.message)
    }
}

impl RuleFileError {
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        RuleFileError {
            file: file.to_path_buf(),
            position: None,
            group: None,
            rule: None,
            message: message.into(),
        }
    }
}

/// Reads and parses a rule file; structure only (see [`validate`]).
pub fn parse_file(path: &Path) -> Result<RuleFile, RuleFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| RuleFileError::file(path, e.to_string()))?;
    parse_text(path, &text)
}

pub fn parse_text(path: &Path, text: &str) -> Result<RuleFile, RuleFileError> {
    // An empty file (or one of only comments) holds no groups.
    if serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).is_ok_and(|v| v.is_null()) {
        return Ok(RuleFile::default());
    }
    let mut file: RuleFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let mut err = RuleFileError::file(path, yaml_message(&e));
        err.position = e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        err
    })?;
    let positions = locate::locate(text);
    for (group, found) in file.groups.iter_mut().zip(&positions) {
        group.position = found.start;
        for (rule, found) in group.rules.iter_mut().zip(&found.rules) {
            rule.position = found.name;
            rule.expr_position = found.expr;
        }
    }
    Ok(file)
}

/// serde_yaml_ng's message without the trailing "at line L column C",
/// which we print in front instead.
fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if e.location().is_some() => text[..i].to_string(),
        _ => text,
    }
}

/// Parses and validates a rule file, collecting every error.
pub fn load_file(path: &Path) -> Result<RuleFile, Vec<RuleFileError>> {
    let file = parse_file(path).map_err(|e| vec![e])?;
    let errors = validate(path, &file);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
