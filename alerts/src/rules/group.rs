//! A rule group: rules evaluated in order at one interval, each writing its
//! output series back into the store and marking series it no longer
//! produces stale, as Prometheus does.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use opsdeck_metrics::promql::{Engine, Query};
use opsdeck_metrics::{Labels, SeriesStore, STALE_NAN};

use super::{
    query_vector, AlertingRule, RecordingRule, Rule, RuleError, StoreQuerier, TemplateEnv,
};
use crate::rulefmt::{GroupSpec, RuleFileError, RuleRef};

/// A rule with its evaluation health.
#[derive(Debug, Clone)]
pub struct RuleEntry {
    pub rule: Rule,
    pub last_error: Option<RuleError>,
    pub last_eval: Option<i64>,
    /// Wall time the last evaluation took, in seconds.
    pub last_duration_s: f64,
    previous_series: HashSet<Labels>,
}

/// What a group evaluation reads from and writes to.
pub struct EvalContext<'a> {
    pub store: &'a SeriesStore,
    pub engine: &'a Engine,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
}

#[derive(Debug, Clone)]
pub struct RuleGroup {
    name: String,
    file: PathBuf,
    interval_ms: i64,
    query_offset_ms: i64,
    limit: usize,
    rules: Vec<RuleEntry>,
    last_eval: Option<i64>,
}

impl RuleGroup {
    /// Builds a group from a validated spec; `default_interval_ms` applies
    /// when the group sets none.
    pub fn from_spec(
        file: &Path,
        spec: &GroupSpec,
        default_interval_ms: i64,
    ) -> Result<RuleGroup, RuleFileError> {
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (index, rule) in spec.rules.iter().enumerate() {
            let error = |message: String| RuleFileError {
                file: file.to_path_buf(),
                position: Some(rule.position),
                group: Some(spec.name.clone()),
                rule: RuleRef::boxed(index + 1, rule.name()),
                message,
            };
            let expr = rule.expr.as_deref().unwrap_or_default();
            let query = Query::parse(expr)
                .map_err(|e| error(format!("could not parse expression: {e}")))?;
            // Group labels apply to every rule; the rule's own win.
            let mut labels = spec.labels.clone();
            labels.extend(rule.labels.clone());
            let built = match (&rule.alert, &rule.record) {
                (Some(alert), _) => Rule::Alerting(
                    AlertingRule::new(
                        alert,
                        query,
                        rule.for_.millis(),
                        rule.keep_firing_for.millis(),
                        &labels,
                        &rule.annotations,
                    )
                    .map_err(|e| error(e.to_string()))?,
                ),
                (None, Some(record)) => Rule::Recording(RecordingRule::new(record, query, &labels)),
                (None, None) => return Err(error("one of 'record' or 'alert' must be set".into())),
            };
            rules.push(RuleEntry {
                rule: built,
                last_error: None,
                last_eval: None,
                last_duration_s: 0.0,
                previous_series: HashSet::new(),
            });
        }
        Ok(RuleGroup {
            name: spec.name.clone(),
            file: file.to_path_buf(),
            interval_ms: spec.interval.map_or(default_interval_ms, |d| d.millis()),
            query_offset_ms: spec.query_offset.map_or(0, |d| d.millis()),
            limit: spec.limit,
            rules,
            last_eval: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn last_eval(&self) -> Option<i64> {
        self.last_eval
    }

    pub fn rules(&self) -> &[RuleEntry] {
        &self.rules
    }

    pub(crate) fn rules_mut(&mut self) -> &mut [RuleEntry] {
        &mut self.rules
    }

    /// Evaluates every rule in order at `ts` (milliseconds). A failing rule
    /// records its error and the others still run; so does one whose
    /// evaluation panics (a bug), so that one bad expression cannot stop
    /// a node's alerting.
    pub fn eval(&mut self, ctx: &EvalContext<'_>, ts: i64) {
        let query_ts = ts - self.query_offset_ms;
        for entry in &mut self.rules {
            let started = std::time::Instant::now();
            let rule = &mut entry.rule;
            let result = contain_panic(|| eval_rule(rule, ctx, ts, query_ts, self.limit));
            if let Err(err @ RuleError::Panicked(_)) = &result {
                let rule = entry.rule.name();
                tracing::error!(group = %self.name, rule, %err, "rule evaluation failed");
            }
            entry.last_eval = Some(ts);
            entry.last_duration_s = started.elapsed().as_secs_f64();
            match result {
                Ok(samples) => {
                    entry.last_error = None;
                    let mut current = HashSet::with_capacity(samples.len());
                    for (labels, v) in samples {
                        // A series written twice in one evaluation keeps its first
                        // sample, as Prometheus's storage does.
                        let _ = ctx.store.append(&labels, query_ts, v);
                        current.insert(labels);
                    }
                    for gone in entry.previous_series.difference(&current) {
                        let _ = ctx.store.append(gone, query_ts, STALE_NAN);
                    }
                    entry.previous_series = current;
                }
                Err(e) => entry.last_error = Some(e),
            }
        }
        self.last_eval = Some(ts);
    }
}

/// Runs one rule's evaluation, turning a panic into the rule's error. The
/// panic may leave what it interrupted half updated (the rule's alerts,
/// the read state of a series being read; the store's locks do not
/// poison): the price of the other rules going on, which beats a node
/// without alerting until someone restarts its agent.
fn contain_panic<T>(evaluate: impl FnOnce() -> Result<T, RuleError>) -> Result<T, RuleError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(evaluate)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(RuleError::Panicked(message))
    })
}

fn eval_rule(
    rule: &mut Rule,
    ctx: &EvalContext<'_>,
    ts: i64,
    query_ts: i64,
    limit: usize,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    let result = query_vector(ctx.engine, ctx.store, rule.query(), query_ts)?;
    match rule {
        Rule::Recording(r) => r.eval(result, limit),
        Rule::Alerting(r) => {
            let querier = StoreQuerier {
                engine: ctx.engine,
                store: ctx.store,
                ts: query_ts,
            };
            let env = TemplateEnv {
                external_labels: ctx.external_labels,
                external_url: ctx.external_url,
                querier: &querier,
            };
            r.eval(result, ts, limit, &env)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{contain_panic, RuleError};

    #[test]
    fn a_panicking_evaluation_becomes_the_rules_error() {
        let panicked = contain_panic::<()>(|| panic!("index out of bounds: the len is 0"));
        assert_eq!(
            panicked,
            Err(RuleError::Panicked(
                "index out of bounds: the len is 0".into()
            ))
        );
        let formatted = contain_panic::<()>(|| panic!("series {} vanished", 7));
        assert_eq!(
            formatted.map_err(|e| e.to_string()),
            Err("internal error: evaluation panicked: series 7 vanished".into())
        );
        assert_eq!(contain_panic(|| Ok(3)), Ok(3));
        assert_eq!(
            contain_panic::<()>(|| Err(RuleError::NotAVector)),
            Err(RuleError::NotAVector)
        );
    }
}
