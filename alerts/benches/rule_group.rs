//! One evaluation of a rule group: the 50 alert expressions of the PromQL
//! benchmark (`metrics/benches/promql.rs`) as the rules of one group, over
//! the same 10,000 series holding 1 h of samples. An evaluation is what
//! the agent does at every group interval. As alerting rules, each with a
//! `for` hold, a label and a templated summary, it is the queries, the
//! alert states, the templates and the `ALERTS` series written back; as
//! recording rules (each expression recorded under a name of its own), the
//! queries and the series they return written back, which is the PromQL
//! benchmark's batch as the agent runs it. Measured with the rules
//! evaluated in turn (one thread) and with the independent ones shared by
//! two threads, as the agent runs them with `rules.concurrency: 2`.
//!
//! Run: `cargo bench -p opsdeck-alerts --bench rule_group`

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use opsdeck_alerts::rulefmt;
use opsdeck_alerts::rules::{EvalContext, RuleGroup};
use opsdeck_metrics::promql::Engine;

#[path = "../../metrics/benches/fleet/mod.rs"]
mod fleet;

use fleet::{store, ALERTS, NOW};

/// The expressions as one group of alerting rules, or of recording
/// rules, in Prometheus's rule file format.
fn rule_file(alerting: bool) -> String {
    let mut text = String::from("groups:\n  - name: fleet\n    interval: 15s\n    rules:\n");
    for (i, expr) in ALERTS.iter().enumerate() {
        // A JSON string is a YAML string: the expressions' quotes stay.
        let expr = serde_json::to_string(expr).expect("a string serializes");
        if alerting {
            text.push_str(&format!(
                "      - alert: FleetAlert{i:02}\n        expr: {expr}\n        for: 5m\n        \
                 labels:\n          severity: page\n        annotations:\n          \
                 summary: \"{{{{ $labels.instance }}}} is at {{{{ $value | humanize }}}}\"\n"
            ));
        } else {
            text.push_str(&format!(
                "      - record: fleet:expression_{i:02}\n        expr: {expr}\n"
            ));
        }
    }
    text
}

fn bench(c: &mut Criterion) {
    let store = store();
    let engine = Engine::default();
    let external_labels = BTreeMap::new();
    for (kind, alerting) in [("alerting", true), ("recording", false)] {
        let path = Path::new("fleet.rules.yml");
        let file = rulefmt::parse_text(path, &rule_file(alerting)).expect("the rules are valid");
        let group = RuleGroup::from_spec(path, &file.groups[0], 15_000).expect("a valid group");
        for concurrency in [1, 2] {
            let ctx = EvalContext {
                store: &store,
                engine: &engine,
                external_labels: &external_labels,
                external_url: "",
                concurrency,
            };
            let mut group = group.clone();
            // The first two evaluations leave the store's read state and
            // each rule's duration, which decides whether it is shared.
            group.eval(&ctx, NOW);
            group.eval(&ctx, NOW);
            let failed: Vec<_> = group
                .rules()
                .iter()
                .filter_map(|r| {
                    r.last_error
                        .as_ref()
                        .map(|e| format!("{}: {e}", r.rule.name()))
                })
                .collect();
            assert!(failed.is_empty(), "rules failed: {failed:?}");
            let name =
                format!("rule group: 50 {kind} rules, 10k series, 1 h, {concurrency} thread(s)");
            c.bench_function(&name, |b| b.iter(|| group.eval(&ctx, NOW)));
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
