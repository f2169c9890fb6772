//! Queries sharing their reads (`Engine::instant_shared`) return what each
//! returns alone, and a read is forgotten once its metric is written.

use opsdeck_metrics::promql::{Engine, Query, RepeatedReads, SharedResults, Value};
use opsdeck_metrics::{Labels, SeriesStore, StoreConfig, STALE_NAN};

const MIN: i64 = 60_000;
const NOW: i64 = 30 * MIN;

fn store() -> SeriesStore {
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..Default::default()
    });
    for (i, instance) in ["a", "b", "c"].into_iter().enumerate() {
        let f = i as f64 + 1.0;
        let requests = Labels::from_pairs([
            ("__name__", "requests_total"),
            ("job", "api"),
            ("instance", instance),
        ]);
        let latency = Labels::from_pairs([
            ("__name__", "latency_seconds"),
            ("job", "api"),
            ("instance", instance),
        ]);
        for step in 0..=(NOW / 15_000) {
            let t = step * 15_000;
            // A reset half way for instance b.
            let count = if instance == "b" && t > 15 * MIN {
                (t - 15 * MIN) as f64 / 1000.0
            } else {
                f * t as f64 / 1000.0
            };
            store.append(&requests, t, count).expect("append");
            let wave = ((step as f64) / 7.0).sin() * 0.1 * f;
            store.append(&latency, t, 0.2 + wave).expect("append");
        }
    }
    let gone = Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", "d")]);
    store.append(&gone, 0, 1.0).expect("append");
    store.append(&gone, 10 * MIN, STALE_NAN).expect("append");
    store
}

/// Reads repeated across queries, as a rule pack repeats them, and reads
/// that differ in one detail only (range, offset, `@`, matcher, literal).
const QUERIES: [&str; 26] = [
    "rate(requests_total[5m])",
    "sum(rate(requests_total[5m]))",
    "rate(requests_total[5m]) > 1",
    "rate(requests_total[1m])",
    "rate(requests_total[5m] offset 5m)",
    "rate(requests_total[5m] @ 600)",
    "rate(requests_total[5m] @ end())",
    "rate(requests_total[5m] offset -1m @ 600)",
    "rate(requests_total{instance=\"a\"}[5m])",
    "rate(requests_total{instance=~\"a|b\"}[5m])",
    "increase(requests_total[5m])",
    "resets(requests_total[30m])",
    "quantile_over_time(0.9, latency_seconds[10m])",
    "quantile_over_time(0.5, latency_seconds[10m])",
    "avg_over_time(latency_seconds[10m])",
    "topk(1, avg_over_time(latency_seconds[10m]))",
    "latency_seconds",
    "latency_seconds / on(instance) rate(requests_total[5m])",
    "latency_seconds offset 1m",
    "absent(up{instance=\"d\"})",
    "absent(up{instance=\"e\"})",
    "{__name__=\"latency_seconds\", instance=\"b\"}",
    "{__name__=~\"latency_seconds|requests_total\"}",
    "latency_seconds{instance=\"a\" or instance=\"c\"}",
    "predict_linear(latency_seconds[15m], 600)",
    // A subquery evaluates `rate` at 11 times: not the shared read.
    "max_over_time(rate(requests_total[5m])[10m:1m])",
];

fn vector(value: Value) -> Vec<(String, u64)> {
    let Value::Vector(samples) = value else {
        panic!("expected a vector, got {value:?}");
    };
    samples
        .into_iter()
        .map(|s| (s.labels.to_string(), s.v.to_bits()))
        .collect()
}

#[test]
fn shared_reads_give_each_query_what_it_returns_alone() {
    let store = store();
    let engine = Engine::default();
    let queries: Vec<Query> = QUERIES
        .iter()
        .map(|text| Query::parse(text).expect("parses"))
        .collect();
    // Keeping every read, and only those made more than once.
    for shared in [
        SharedResults::new(NOW),
        SharedResults::sharing(NOW, &RepeatedReads::of(&engine, &queries)),
    ] {
        // Twice through: the second round reads from `shared`.
        for round in 0..2 {
            for q in &queries {
                let alone = vector(engine.instant(&store, q, NOW).expect("query"));
                let with_shared = vector(
                    engine
                        .instant_shared(&store, q, NOW, &shared)
                        .expect("query"),
                );
                assert_eq!(with_shared, alone, "round {round}: {}", q.text());
            }
        }
    }
}

#[test]
fn queries_at_another_time_share_nothing() {
    let store = store();
    let engine = Engine::default();
    let shared = SharedResults::new(NOW);
    let q = Query::parse("avg_over_time(latency_seconds[5m])").expect("parses");
    let now = vector(
        engine
            .instant_shared(&store, &q, NOW, &shared)
            .expect("query"),
    );
    let earlier = vector(
        engine
            .instant_shared(&store, &q, NOW - 10 * MIN, &shared)
            .expect("query"),
    );
    assert_ne!(now, earlier);
    assert_eq!(
        earlier,
        vector(engine.instant(&store, &q, NOW - 10 * MIN).expect("query"))
    );
}

#[test]
fn writing_a_metric_forgets_the_reads_that_may_select_it() {
    let store = store();
    let engine = Engine::default();
    let shared = SharedResults::new(NOW);
    let recorded = Labels::from_pairs([("__name__", "job:requests:rate5m"), ("job", "api")]);
    let named = Query::parse("job:requests:rate5m").expect("parses");
    let unnamed = Query::parse("{job=\"api\", __name__=~\"job:.*\"}").expect("parses");
    let other = Query::parse("latency_seconds").expect("parses");
    let read = |q: &Query| {
        vector(
            engine
                .instant_shared(&store, q, NOW, &shared)
                .expect("query"),
        )
    };
    assert!(read(&named).is_empty());
    assert!(read(&unnamed).is_empty());
    let latency = read(&other);

    // What a recording rule does: write its output, then forget it.
    store.append(&recorded, NOW, 6.0).expect("append");
    assert!(read(&named).is_empty(), "not yet forgotten: the kept read");
    shared.forget("job:requests:rate5m");
    assert_eq!(read(&named).len(), 1);
    assert_eq!(
        read(&unnamed).len(),
        1,
        "a read naming no metric is forgotten with any"
    );
    assert_eq!(read(&other), latency);
}
