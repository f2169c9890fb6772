//! Queries sharing their reads (`Engine::instant_shared`) return what each
//! returns alone, a narrow read is picked out of a wider one, and a read is
//! forgotten once its metric is written.

use std::sync::atomic::{AtomicUsize, Ordering};

use opsdeck_metrics::promql::{Engine, Query, RepeatedReads, SharedResults, Value};
use opsdeck_metrics::{
    Labels, Matcher, Piece, Queryable, SeriesSamples, SeriesStore, StoreConfig, SummaryKind,
    STALE_NAN,
};
use proptest::prelude::*;

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

/// The store, counting the series its range reads visit.
struct CountingStore<'a> {
    store: &'a SeriesStore,
    visited: AtomicUsize,
}

impl Queryable for CountingStore<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.store.select(matchers, mint, maxt)
    }

    fn count_selected(&self, matchers: &[Matcher]) -> Option<usize> {
        self.store.count_selected(matchers)
    }

    fn selected_labels(&self, matchers: &[Matcher]) -> Option<Vec<Labels>> {
        self.store.selected_labels(matchers)
    }

    fn for_each_summarised(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        kind: SummaryKind,
        visit: &mut dyn FnMut(&Labels, &[Piece<'_>]),
    ) {
        self.store
            .for_each_summarised(matchers, mint, maxt, kind, &mut |labels, pieces| {
                self.visited.fetch_add(1, Ordering::Relaxed);
                visit(labels, pieces)
            });
    }
}

#[test]
fn a_narrow_read_is_picked_out_of_a_wider_one_not_read_again() {
    let store = store();
    let counting = CountingStore {
        store: &store,
        visited: AtomicUsize::new(0),
    };
    let engine = Engine::default();
    // The narrow read first: the wider one is read for it, then kept.
    let queries: Vec<Query> = [
        "sum(rate(requests_total{instance=~\"a|b\"}[5m])) / sum(rate(requests_total[5m]))",
        "rate(requests_total{instance=\"c\"}[5m]) > 0",
        "rate(requests_total[1m]) > 0",
    ]
    .iter()
    .map(|text| Query::parse(text).expect("parses"))
    .collect();
    let shared = SharedResults::sharing(NOW, &RepeatedReads::of(&engine, &queries));
    let mut visited = Vec::new();
    for q in &queries {
        counting.visited.store(0, Ordering::Relaxed);
        let with_shared = engine
            .instant_shared(&counting, q, NOW, &shared)
            .expect("query");
        visited.push(counting.visited.load(Ordering::Relaxed));
        assert_eq!(
            vector(with_shared),
            vector(engine.instant(&store, q, NOW).expect("query")),
            "{}",
            q.text()
        );
    }
    // Three series read once for the first two queries, and the `[1m]`
    // window, which no other query reads, read on its own.
    assert_eq!(visited, [3, 0, 3]);
}

/// A series of metric `m` with labels `a` and `b` (either may be
/// missing), and its values: a counter that now and then resets, a
/// gauge, the odd NaN and stale marker, and gaps.
fn series() -> impl Strategy<Value = (Option<u8>, Option<u8>, Vec<Option<f64>>)> {
    let value = prop_oneof![
        6 => (0u32..50).prop_map(|v| Some(f64::from(v))),
        1 => Just(None),
        1 => prop_oneof![Just(f64::NAN), Just(STALE_NAN), Just(-3.5)].prop_map(Some),
    ];
    (
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..3),
        proptest::collection::vec(value, 1..80),
    )
}

/// A matcher on `a` or `b`, some of which match a missing label.
fn matcher() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("a"), Just("b")],
        prop_oneof![Just("="), Just("!="), Just("=~"), Just("!~")],
        prop_oneof![Just("0"), Just("1"), Just(""), Just("0|2"), Just("1|")],
    )
        .prop_filter("a valid matcher", |(_, op, value)| {
            op.contains('~') || !value.contains('|')
        })
        .prop_map(|(name, op, value)| format!("{name}{op}\"{value}\""))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the series, function and matchers, a read picked out of
    /// a wider one is the read made alone, series for series, bit for bit,
    /// in order, whichever of the two a group makes first.
    #[test]
    fn narrow_reads_picked_out_of_wider_ones_are_the_reads_made_alone(
        all in proptest::collection::vec(series(), 1..12),
        function in prop_oneof![
            Just("rate"), Just("increase"), Just("delta"), Just("irate"), Just("resets"),
            Just("changes"), Just("min_over_time"), Just("max_over_time"),
            Just("avg_over_time"), Just("stddev_over_time"), Just("last_over_time"),
            Just("count_over_time"), Just("present_over_time"), Just("absent_over_time"),
            Just("deriv"),
        ],
        window in prop_oneof![Just("1m"), Just("5m"), Just("20m")],
        narrow in proptest::collection::vec(proptest::collection::vec(matcher(), 1..3), 1..4),
        wider_first in any::<bool>(),
    ) {
        let store = SeriesStore::new(StoreConfig { retention_ms: None, ..Default::default() });
        for (a, b, values) in &all {
            let mut pairs = vec![("__name__", "m".to_string())];
            pairs.extend(a.map(|a| ("a", a.to_string())));
            pairs.extend(b.map(|b| ("b", b.to_string())));
            let labels = Labels::from_pairs(pairs);
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    // Appends that clash with an earlier series of the
                    // same labels are left out, as a scrape would.
                    let _ = store.append(&labels, i as i64 * 15_000, *v);
                }
            }
        }
        let now = 80 * 15_000;
        let wider = format!("{function}(m[{window}])");
        let mut texts: Vec<String> = narrow
            .iter()
            .map(|m| format!("{function}(m{{{}}}[{window}])", m.join(", ")))
            .collect();
        if wider_first {
            texts.insert(0, wider);
        } else {
            texts.push(wider);
        }
        let engine = Engine::default();
        let queries: Vec<Query> = texts.iter().map(|t| Query::parse(t).expect("parses")).collect();
        let shared = SharedResults::sharing(now, &RepeatedReads::of(&engine, &queries));
        for q in &queries {
            let alone = engine.instant(&store, q, now);
            let with_shared = engine.instant_shared(&store, q, now, &shared);
            match (alone, with_shared) {
                (Ok(alone), Ok(with_shared)) => prop_assert_eq!(vector(with_shared), vector(alone), "{}", q.text()),
                (alone, with_shared) => prop_assert_eq!(alone.is_ok(), with_shared.is_ok(), "{}", q.text()),
            }
        }
    }
}
