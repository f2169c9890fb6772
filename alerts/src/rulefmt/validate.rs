//! What `promtool check rules` checks beyond YAML: names, PromQL, templates
//! and durations per rule, group names per file, and duplicate rules.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use opsdeck_metrics::promql::Query;

use super::{Position, RuleFile, RuleFileError, RuleRef, RuleSpec};
use crate::template::AlertTemplate;

pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn validate(path: &Path, file: &RuleFile) -> Vec<RuleFileError> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for group in &file.groups {
        let group_error = |message: String| RuleFileError {
            file: path.to_path_buf(),
            position: Some(group.position),
            group: None,
            rule: None,
            message,
        };
        if group.name.is_empty() {
            errors.push(group_error("Groupname must not be empty".into()));
        } else if !names.insert(group.name.as_str()) {
            errors.push(group_error(format!(
                "groupname: {:?} is repeated in the same file",
                group.name
            )));
        }
        for name in group.labels.keys() {
            if !is_valid_label_name(name) || name == "__name__" {
                errors.push(group_error(format!(
                    "group {:?}: invalid label name: {name}",
                    group.name
                )));
            }
        }
        for (index, rule) in group.rules.iter().enumerate() {
            for (position, message) in validate_rule(rule) {
                errors.push(RuleFileError {
                    file: path.to_path_buf(),
                    position,
                    group: Some(group.name.clone()),
                    rule: RuleRef::boxed(index + 1, rule.name()),
                    message,
                });
            }
        }
    }
    errors
}

/// Problems with one rule, each with where it is when known.
fn validate_rule(rule: &RuleSpec) -> Vec<(Option<Position>, String)> {
    let mut problems = Vec::new();
    let at_name = Some(rule.position);
    let mut problem =
        |position: Option<Position>, message: String| problems.push((position, message));
    match (&rule.record, &rule.alert) {
        (Some(_), Some(_)) => problem(
            at_name,
            "only one of 'record' and 'alert' must be set".into(),
        ),
        (None, None) => problem(at_name, "one of 'record' or 'alert' must be set".into()),
        _ => {}
    }
    match rule.expr.as_deref() {
        None | Some("") => problem(
            rule.expr_position.or(at_name),
            "field 'expr' must be set in rule".into(),
        ),
        Some(expr) => {
            if let Err(e) = Query::parse(expr) {
                let detail = e.to_string();
                let detail = detail.strip_prefix("parse error: ").unwrap_or(&detail);
                problem(
                    rule.expr_position,
                    format!("could not parse expression: {detail}"),
                );
            }
        }
    }
    if let Some(record) = &rule.record {
        if !rule.annotations.is_empty() {
            problem(
                at_name,
                "invalid field 'annotations' in recording rule".into(),
            );
        }
        if rule.for_.millis() != 0 {
            problem(at_name, "invalid field 'for' in recording rule".into());
        }
        if rule.keep_firing_for.millis() != 0 {
            problem(
                at_name,
                "invalid field 'keep_firing_for' in recording rule".into(),
            );
        }
        if !is_valid_metric_name(record) {
            problem(at_name, format!("invalid recording rule name: {record}"));
        }
    }
    for name in rule.labels.keys() {
        if !is_valid_label_name(name) || name == "__name__" {
            problem(None, format!("invalid label name: {name}"));
        }
    }
    for name in rule.annotations.keys() {
        if !is_valid_label_name(name) {
            problem(None, format!("invalid annotation name: {name}"));
        }
    }
    if let Some(alert) = &rule.alert {
        for (kind, map) in [("label", &rule.labels), ("annotation", &rule.annotations)] {
            for (name, text) in map {
                if let Err(e) = AlertTemplate::parse(alert, text) {
                    problem(None, format!("{kind} {name:?}: {e}"));
                }
            }
        }
    }
    problems
}

/// A rule name and label set that occurs more than once in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DuplicateRule {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
}

/// promtool's duplicate-rules lint: the same name and labels twice.
pub fn duplicate_rules(file: &RuleFile) -> Vec<DuplicateRule> {
    let mut seen = HashSet::new();
    let mut duplicates = Vec::new();
    for rule in file.groups.iter().flat_map(|g| &g.rules) {
        let key = DuplicateRule {
            metric: rule.name().to_string(),
            labels: rule.labels.clone(),
        };
        if !seen.insert(key.clone()) && !duplicates.contains(&key) {
            duplicates.push(key);
        }
    }
    duplicates.sort();
    duplicates
}
