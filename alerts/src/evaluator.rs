//! The evaluator the agent drives: loads rule files (or the built-in pack),
//! evaluates each group when its interval has passed, lists alerts, and
//! saves and restores their state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opsdeck_metrics::promql::Engine;
use opsdeck_metrics::SeriesStore;

use crate::duration::PromDuration;
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
    /// Divides every alerting rule's `for` and `keep_firing_for`. 1 for real
    /// deployments; a simulation whose clock runs N times faster than real
    /// time (`opsdeck demo --speed N`) sets N so that alerts keep its pace.
    pub hold_speedup: f64,
    /// See [`EvalContext::concurrency`]; 1 (every rule in turn) by
    /// default.
    pub concurrency: usize,
}

impl Default for EvaluatorOptions {
    fn default() -> Self {
        EvaluatorOptions {
            default_interval_ms: 60_000,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            engine: Engine::default(),
            hold_speedup: 1.0,
            concurrency: 1,
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
        let mut file = rulefmt::parse_text(origin, text).map_err(|e| vec![e])?;
        speed_up_holds(&mut file, self.options.hold_speedup);
        let groups = build_groups(origin, &file, self.options.default_interval_ms)?;
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
        self.eval_due_early(store, now, 0)
    }

    /// Like [`eval_due`](Self::eval_due) with the due time moved by
    /// `early_ms`: a positive margin (at most half the group's interval)
    /// also runs groups due within the next `early_ms`, a negative one (at
    /// most a tenth of the interval) holds due groups until they are that
    /// late. The
    /// agent runs groups early when fresh samples land (a group due before
    /// the next scrape would see the same data then, so running it now
    /// only alerts sooner) and holds them on its timer, so evaluations
    /// stay just after scrapes.
    pub fn eval_due_early(&mut self, store: &SeriesStore, now: i64, early_ms: i64) -> usize {
        let ctx = EvalContext {
            store,
            engine: &self.options.engine,
            external_labels: &self.options.external_labels,
            external_url: &self.options.external_url,
            concurrency: self.options.concurrency,
        };
        let mut ran = 0;
        for group in &mut self.groups {
            if group.last_eval().is_none() || due_at(group, early_ms) <= now {
                group.eval(&ctx, now);
                ran += 1;
            }
        }
        ran
    }

    /// When [`eval_due_early`](Self::eval_due_early) with `early_ms` next
    /// has a group to run: `None` without groups, a time not after the
    /// last evaluation when one never ran.
    pub fn next_due(&self, early_ms: i64) -> Option<i64> {
        self.groups
            .iter()
            .map(|group| match group.last_eval() {
                Some(_) => due_at(group, early_ms),
                None => i64::MIN,
            })
            .min()
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
    build_groups(origin, &file, default_interval_ms)
}

fn build_groups(
    origin: &Path,
    file: &rulefmt::RuleFile,
    default_interval_ms: i64,
) -> Result<Vec<RuleGroup>, Vec<RuleFileError>> {
    let errors = rulefmt::validate(origin, file);
    if !errors.is_empty() {
        return Err(errors);
    }
    file.groups
        .iter()
        .map(|spec| RuleGroup::from_spec(origin, spec, default_interval_ms))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| vec![e])
}

/// When a group that last ran is due, its due time moved `early_ms`
/// sooner (at most half its interval) or later (at most a tenth).
fn due_at(group: &RuleGroup, early_ms: i64) -> i64 {
    let interval = group.interval_ms();
    let early = early_ms.clamp(-interval / 10, interval / 2);
    group
        .last_eval()
        .unwrap_or(i64::MIN)
        .saturating_add(interval - early)
}

fn speed_up_holds(file: &mut rulefmt::RuleFile, speedup: f64) {
    if !(speedup.is_finite() && speedup > 1.0) {
        return;
    }
    let scale = |ms: i64| (ms as f64 / speedup).round() as i64;
    for rule in file.groups.iter_mut().flat_map(|g| g.rules.iter_mut()) {
        rule.for_ = PromDuration(scale(rule.for_.millis()));
        rule.keep_firing_for = PromDuration(scale(rule.keep_firing_for.millis()));
    }
}

#[cfg(test)]
mod tests {
    use opsdeck_metrics::{Labels, StoreConfig};

    use super::*;
    use crate::rules::AlertState;

    const MIN: i64 = 60_000;

    const RULES: &str = "
groups:
  - name: shards
    interval: 1m
    rules:
      - alert: ShardDown
        expr: shard_up == 0
        for: 2m
        keep_firing_for: 5m
        labels: {severity: page}
        annotations: {summary: 'shard {{ $labels.shard }} down'}
      - record: shards:down:count
        expr: count(shard_up == 0)
";

    fn store() -> SeriesStore {
        SeriesStore::new(StoreConfig {
            retention_ms: None,
            ..Default::default()
        })
    }

    fn write(store: &SeriesStore, shard: &str, t: i64, v: f64) {
        let labels = Labels::from_pairs([("__name__", "shard_up"), ("shard", shard)]);
        store.append(&labels, t, v).expect("in order");
    }

    fn evaluator() -> Evaluator {
        let mut e = Evaluator::new(EvaluatorOptions::default());
        e.add_source(Path::new("shards.yml"), RULES)
            .expect("valid rules");
        e
    }

    fn states(e: &Evaluator) -> Vec<AlertState> {
        e.alerts().iter().map(|a| a.alert.state).collect()
    }

    #[test]
    fn hold_speedup_divides_for_and_keep_firing_for() {
        let mut e = Evaluator::new(EvaluatorOptions {
            hold_speedup: 4.0,
            ..EvaluatorOptions::default()
        });
        e.add_source(Path::new("shards.yml"), RULES)
            .expect("valid rules");
        let rule = e.groups()[0]
            .rules()
            .iter()
            .find_map(|entry| match &entry.rule {
                Rule::Alerting(rule) => Some(rule),
                _ => None,
            })
            .expect("an alerting rule");
        assert_eq!(rule.hold_ms(), 30_000, "2m / 4");
        assert_eq!(rule.keep_firing_for_ms(), 75_000, "5m / 4");
    }

    #[test]
    fn fresh_samples_run_groups_due_soon_but_at_most_half_an_interval_early() {
        let store = store();
        let mut e = evaluator();
        write(&store, "1", 0, 0.0);
        assert_eq!(e.eval_due(&store, 0), 1);
        assert_eq!(
            e.eval_due_early(&store, 40_000, 10_000),
            0,
            "not due within the next 10 s"
        );
        assert_eq!(e.eval_due_early(&store, 50_000, 10_000), 1);
        assert_eq!(
            e.eval_due_early(&store, 75_000, MIN),
            0,
            "early by at most half the interval"
        );
        assert_eq!(e.eval_due_early(&store, 80_000, MIN), 1);
        assert_eq!(e.next_due(-5_000), Some(80_000 + MIN + 5_000));
        assert_eq!(e.next_due(MIN), Some(80_000 + MIN / 2));
        assert_eq!(
            e.eval_due_early(&store, 144_000, -5_000),
            0,
            "held until 5 s late"
        );
        assert_eq!(e.eval_due_early(&store, 145_000, -5_000), 1);
        assert_eq!(
            e.eval_due_early(&store, 212_000, -MIN),
            1,
            "held by at most a tenth of the interval"
        );
    }

    #[test]
    fn evaluates_groups_when_due_and_records_results() {
        let store = store();
        let mut e = evaluator();
        write(&store, "1", 0, 0.0);
        assert_eq!(e.eval_due(&store, 0), 1);
        assert_eq!(e.eval_due(&store, 30_000), 0, "not due before the interval");
        write(&store, "1", MIN, 0.0);
        assert_eq!(e.eval_due(&store, MIN), 1);
        assert_eq!(states(&e), [AlertState::Pending]);
        write(&store, "1", 2 * MIN, 0.0);
        e.eval_due(&store, 2 * MIN);
        assert_eq!(states(&e), [AlertState::Firing]);
        let view = &e.alerts()[0];
        assert_eq!((view.group, view.rule), ("shards", "ShardDown"));
        assert_eq!(view.alert.annotations["summary"], "shard 1 down");
        let recorded = opsdeck_metrics::Queryable::select(
            &store,
            &[opsdeck_metrics::Matcher::equal(
                "__name__",
                "shards:down:count",
            )],
            0,
            2 * MIN,
        );
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].samples.len(), 3);
    }

    #[test]
    fn state_survives_a_restart_with_keep_firing_for() {
        let store = store();
        let mut before = evaluator();
        for t in 0..=2 {
            write(&store, "1", t * MIN, 0.0);
            before.eval_due(&store, t * MIN);
        }
        // The series disappears: keep_firing_for holds the alert firing.
        before.eval_due(&store, 10 * MIN);
        let alert = before.alerts()[0].alert.clone();
        assert_eq!(
            (alert.state, alert.keep_firing_since),
            (AlertState::Firing, Some(10 * MIN))
        );
        let saved = serde_json::to_string(&before.snapshot(10 * MIN)).expect("serializable");

        let mut after = evaluator();
        let snapshot: StateSnapshot = serde_json::from_str(&saved).expect("round trip");
        assert_eq!(
            after.restore(&snapshot, 12 * MIN, RestoreOptions::default()),
            1
        );
        assert_eq!(after.alerts()[0].alert, &alert);
        after.eval_due(&store, 12 * MIN);
        assert_eq!(
            states(&after),
            [AlertState::Firing],
            "still within keep_firing_for"
        );
        after.eval_due(&store, 15 * MIN);
        assert_eq!(
            states(&after),
            [AlertState::Inactive],
            "keep_firing_for ran out across the restart"
        );
    }

    #[test]
    fn stale_snapshots_are_ignored() {
        let mut e = evaluator();
        let snapshot = StateSnapshot {
            saved_at: 0,
            alerts: Vec::new(),
        };
        assert_eq!(
            e.restore(&snapshot, 2 * 60 * MIN, RestoreOptions::default()),
            0
        );
    }

    #[test]
    fn default_pack_loads_and_every_alert_names_its_runbook() {
        let mut e = Evaluator::new(EvaluatorOptions::default());
        e.add_default_pack().expect("the default pack is valid");
        let runbooks = [
            "drain-shard",
            "restart-shard",
            "rolling-restart-node",
            "recycle-pool",
            "restart-node",
            "resume-shard",
        ];
        let mut alerts = 0;
        for (name, text) in crate::DEFAULT_RULE_PACK {
            let file = crate::rulefmt::parse_text(Path::new(name), text).expect("parses");
            for rule in file
                .groups
                .iter()
                .flat_map(|g| &g.rules)
                .filter(|r| r.alert.is_some())
            {
                alerts += 1;
                for key in ["summary", "description", "runbook", "runbook_url"] {
                    assert!(
                        rule.annotations.contains_key(key),
                        "{} lacks {key}",
                        rule.name()
                    );
                }
                assert!(
                    runbooks.contains(&rule.annotations["runbook"].as_str()),
                    "{}",
                    rule.name()
                );
                assert!(
                    rule.annotations["runbook_url"].ends_with(&rule.annotations["runbook"]),
                    "{}",
                    rule.name()
                );
            }
        }
        assert!(alerts >= 20);
    }
}
