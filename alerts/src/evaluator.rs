//! The evaluator the agent drives: loads rule files (or the built-in pack),
//! evaluates each group when its interval has passed, lists alerts, and
//! saves and restores their state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opsdeck_metrics::promql::Engine;
use opsdeck_metrics::SeriesStore;

use crate::rulefmt::{self, RuleFileError};
use crate::rules::{Alert, EvalContext, Rule, RuleGroup};
use crate::state::{restore_groups, snapshot_groups, RestoreOptions, StateSnapshot};

#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    /// For groups that set no `interval` (Prometheus's global
    /// `evaluation_interval`, 1 m by default).
    pub default_interval_ms: i64,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub engine: Engine,
}

impl Default for EvaluatorOptions {
    fn default() -> Self {
        EvaluatorOptions {
            default_interval_ms: 60_000,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            engine: Engine::default(),
        }
    }
}

/// One alert with the group and rule it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertView<'a> {
    pub group: &'a str,
    pub rule: &'a str,
    pub alert: &'a Alert,
}

pub struct Evaluator {
    groups: Vec<RuleGroup>,
    options: EvaluatorOptions,
}

impl Evaluator {
    pub fn new(options: EvaluatorOptions) -> Self {
        Evaluator {
            groups: Vec::new(),
            options,
        }
    }

    /// Loads and validates a rule file; on error nothing is added.
    pub fn add_file(&mut self, path: &Path) -> Result<(), Vec<RuleFileError>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![RuleFileError::file(path, e.to_string())])?;
        self.add_source(path, &text)
    }

    /// Loads rules from text (`origin` names it in errors).
    pub fn add_source(&mut self, origin: &Path, text: &str) -> Result<(), Vec<RuleFileError>> {
        let groups = load_groups(origin, text, self.options.default_interval_ms)?;
        self.groups.extend(groups);
        Ok(())
    }

    /// Adds opsdeck's default rule pack.
    pub fn add_default_pack(&mut self) -> Result<(), Vec<RuleFileError>> {
        for (name, text) in crate::DEFAULT_RULE_PACK {
            self.add_source(&PathBuf::from(format!("builtin/{name}")), text)?;
        }
        Ok(())
    }

    pub fn groups(&self) -> &[RuleGroup] {
        &self.groups
    }

    /// Evaluates every group whose interval has passed since its last
    /// evaluation (or that never ran). Returns how many groups ran.
    pub fn eval_due(&mut self, store: &SeriesStore, now: i64) -> usize {
        let ctx = EvalContext {
            store,
            engine: &self.options.engine,
            external_labels: &self.options.external_labels,
            external_url: &self.options.external_url,
        };
        let mut ran = 0;
        for group in &mut self.groups {
            if group
                .last_eval()
                .is_none_or(|last| now - last >= group.interval_ms())
            {
                group.eval(&ctx, now);
                ran += 1;
            }
        }
        ran
    }

    /// Every alert (pending, firing, recently resolved), by group and rule.
    pub fn alerts(&self) -> Vec<AlertView<'_>> {
        let mut out = Vec::new();
        for group in &self.groups {
            for entry in group.rules() {
                if let Rule::Alerting(rule) = &entry.rule {
                    out.extend(rule.alerts().into_iter().map(|alert| AlertView {
                        group: group.name(),
                        rule: rule.name(),
                        alert,
                    }));
                }
            }
        }
        out
    }

    pub fn snapshot(&self, now: i64) -> StateSnapshot {
        snapshot_groups(&self.groups, now)
    }

    pub fn restore(
        &mut self,
        snapshot: &StateSnapshot,
        now: i64,
        options: RestoreOptions,
    ) -> usize {
        restore_groups(&mut self.groups, snapshot, now, options)
    }
}

/// Parses, validates and builds the groups of one rule file.
pub fn load_groups(
    origin: &Path,
    text: &str,
    default_interval_ms: i64,
) -> Result<Vec<RuleGroup>, Vec<RuleFileError>> {
    let file = rulefmt::parse_text(origin, text).map_err(|e| vec![e])?;
    let errors = rulefmt::validate(origin, &file);
    if !errors.is_empty() {
        return Err(errors);
    }
    file.groups
        .iter()
        .map(|spec| RuleGroup::from_spec(origin, spec, default_interval_ms))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| vec![e])
}
