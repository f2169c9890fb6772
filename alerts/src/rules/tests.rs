use std::collections::BTreeMap;

use opsdeck_metrics::promql::{Engine, Query, VectorSample};
use opsdeck_metrics::{Labels, SeriesStore, StoreConfig};

use super::*;

const MIN: i64 = 60_000;

struct Fixture {
    store: SeriesStore,
    engine: Engine,
    external: BTreeMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            store: SeriesStore::new(StoreConfig {
                retention_ms: None,
                ..Default::default()
            }),
            engine: Engine::default(),
            external: BTreeMap::new(),
        }
    }

    fn eval(
        &self,
        rule: &mut AlertingRule,
        result: &[(&str, f64)],
        ts: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let querier = StoreQuerier {
            engine: &self.engine,
            store: &self.store,
            ts,
        };
        let env = TemplateEnv {
            external_labels: &self.external,
            external_url: "",
            querier: &querier,
        };
        rule.eval(samples(result), ts, limit, &env)
    }
}

fn samples(result: &[(&str, f64)]) -> Vec<VectorSample> {
    result
        .iter()
        .map(|(instance, v)| VectorSample {
            labels: Labels::from_pairs([("__name__", "up"), ("instance", *instance)]),
            t: 0,
            v: *v,
        })
        .collect()
}

fn rule(hold_ms: i64, keep_firing_for_ms: i64) -> AlertingRule {
    let labels = BTreeMap::from([("severity".to_string(), "page".to_string())]);
    let annotations = BTreeMap::from([(
        "summary".to_string(),
        "{{ $labels.instance }} at {{ $value }}".to_string(),
    )]);
    AlertingRule::new(
        "Down",
        Query::parse("up == 0").expect("valid"),
        hold_ms,
        keep_firing_for_ms,
        &labels,
        &annotations,
    )
    .expect("valid templates")
}

fn states(rule: &AlertingRule) -> Vec<(String, AlertState)> {
    rule.alerts()
        .iter()
        .map(|a| (a.labels.get("instance").unwrap_or("").to_string(), a.state))
        .collect()
}

#[test]
fn pending_then_firing_after_for() {
    let f = Fixture::new();
    let mut r = rule(5 * MIN, 0);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    assert_eq!(states(&r), [("a".to_string(), AlertState::Pending)]);
    f.eval(&mut r, &[("a", 0.0)], 4 * MIN, 0).expect("eval");
    assert_eq!(states(&r), [("a".to_string(), AlertState::Pending)]);
    let out = f.eval(&mut r, &[("a", 0.0)], 5 * MIN, 0).expect("eval");
    let alert = r.alerts()[0].clone();
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.active_at, 0);
    assert_eq!(alert.fired_at, Some(5 * MIN));
    assert_eq!(alert.annotations["summary"], "a at 0");
    assert_eq!(
        alert.labels.to_string(),
        r#"{alertname="Down", instance="a", severity="page"}"#
    );
    let rendered: Vec<String> = out.iter().map(|(l, v)| format!("{l} {v}")).collect();
    assert_eq!(
        rendered,
        [
            r#"ALERTS{alertname="Down", alertstate="firing", instance="a", severity="page"} 1"#,
            r#"ALERTS_FOR_STATE{alertname="Down", instance="a", severity="page"} 0"#,
        ]
    );
}

#[test]
fn for_zero_fires_at_once() {
    let f = Fixture::new();
    let mut r = rule(0, 0);
    f.eval(&mut r, &[("a", 0.0)], 7 * MIN, 0).expect("eval");
    assert_eq!(states(&r), [("a".to_string(), AlertState::Firing)]);
}

#[test]
fn pending_alert_is_dropped_when_its_series_vanishes() {
    let f = Fixture::new();
    let mut r = rule(5 * MIN, 0);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    f.eval(&mut r, &[], MIN, 0).expect("eval");
    assert!(r.alerts().is_empty());
    // Coming back starts `for` again.
    f.eval(&mut r, &[("a", 0.0)], 2 * MIN, 0).expect("eval");
    assert_eq!(r.alerts()[0].active_at, 2 * MIN);
}

#[test]
fn firing_alert_resolves_and_is_kept_fifteen_minutes() {
    let f = Fixture::new();
    let mut r = rule(0, 0);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    let out = f.eval(&mut r, &[], MIN, 0).expect("eval");
    assert!(out.is_empty(), "a resolved alert writes no ALERTS sample");
    let alert = r.alerts()[0].clone();
    assert_eq!(alert.state, AlertState::Inactive);
    assert_eq!(alert.resolved_at, Some(MIN));
    assert_eq!(r.active_alerts().count(), 0);
    f.eval(&mut r, &[], 16 * MIN, 0).expect("eval");
    assert_eq!(r.alerts().len(), 1, "kept until the retention has passed");
    f.eval(&mut r, &[], 16 * MIN + 1, 0).expect("eval");
    assert!(r.alerts().is_empty());
}

#[test]
fn resolved_alert_that_returns_starts_pending_again() {
    let f = Fixture::new();
    let mut r = rule(2 * MIN, 0);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    f.eval(&mut r, &[("a", 0.0)], 2 * MIN, 0).expect("eval");
    f.eval(&mut r, &[], 3 * MIN, 0).expect("eval");
    f.eval(&mut r, &[("a", 0.0)], 4 * MIN, 0).expect("eval");
    let alert = r.alerts()[0].clone();
    assert_eq!(
        (alert.state, alert.active_at, alert.resolved_at),
        (AlertState::Pending, 4 * MIN, None)
    );
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let f = Fixture::new();
    let mut r = rule(0, 3 * MIN);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    for t in [MIN, 2 * MIN, 3 * MIN] {
        let out = f.eval(&mut r, &[], t, 0).expect("eval");
        assert_eq!(
            states(&r),
            [("a".to_string(), AlertState::Firing)],
            "at {t}"
        );
        assert_eq!(out.len(), 2);
    }
    assert_eq!(r.alerts()[0].keep_firing_since, Some(MIN));
    f.eval(&mut r, &[], 4 * MIN, 0).expect("eval");
    assert_eq!(states(&r), [("a".to_string(), AlertState::Inactive)]);
    assert_eq!(r.alerts()[0].resolved_at, Some(4 * MIN));
}

#[test]
fn keep_firing_since_resets_when_the_series_returns() {
    let f = Fixture::new();
    let mut r = rule(0, 2 * MIN);
    f.eval(&mut r, &[("a", 0.0)], 0, 0).expect("eval");
    f.eval(&mut r, &[], MIN, 0).expect("eval");
    f.eval(&mut r, &[("a", 0.0)], 2 * MIN, 0).expect("eval");
    assert_eq!(r.alerts()[0].keep_firing_since, None);
    f.eval(&mut r, &[], 3 * MIN, 0).expect("eval");
    f.eval(&mut r, &[], 4 * MIN, 0).expect("eval");
    assert_eq!(states(&r), [("a".to_string(), AlertState::Firing)]);
}

#[test]
fn duplicate_label_sets_after_templating_are_an_error() {
    let f = Fixture::new();
    let labels = BTreeMap::from([("instance".to_string(), "same".to_string())]);
    let mut r = AlertingRule::new(
        "Dup",
        Query::parse("up").expect("valid"),
        0,
        0,
        &labels,
        &BTreeMap::new(),
    )
    .expect("valid");
    let err = f
        .eval(&mut r, &[("a", 1.0), ("b", 1.0)], 0, 0)
        .expect_err("duplicates");
    assert_eq!(err, RuleError::DuplicateAlertLabels);
}

#[test]
fn limit_is_enforced() {
    let f = Fixture::new();
    let mut r = rule(0, 0);
    f.eval(&mut r, &[("a", 0.0), ("b", 0.0)], 0, 2)
        .expect("within the limit");
    let err = f
        .eval(&mut r, &[("a", 0.0), ("b", 0.0), ("c", 0.0)], MIN, 2)
        .expect_err("over the limit");
    assert_eq!(err.to_string(), "exceeded limit of 2 with 3 alerts");
    assert!(r.alerts().is_empty());
}

#[test]
fn recording_rule_renames_relabels_and_limits() {
    let labels = BTreeMap::from([("team".to_string(), "core".to_string())]);
    let r = RecordingRule::new("job:up:sum", Query::parse("up").expect("valid"), &labels);
    let out = r.eval(samples(&[("a", 1.0)]), 0).expect("eval");
    assert_eq!(
        out[0].0.to_string(),
        r#"job:up:sum{instance="a", team="core"}"#
    );
    assert_eq!(
        r.eval(samples(&[("a", 1.0), ("b", 1.0)]), 1)
            .expect_err("limit")
            .to_string(),
        "exceeded limit of 1 with 2 series"
    );
    let collapse = RecordingRule::new(
        "x",
        Query::parse("up").expect("valid"),
        &BTreeMap::from([("instance".to_string(), "z".to_string())]),
    );
    assert_eq!(
        collapse.eval(samples(&[("a", 1.0), ("b", 1.0)]), 0),
        Err(RuleError::DuplicateRecordLabels)
    );
}
