//! The PromQL engine's public API over a real store: result shapes, the
//! range-query contract and its errors. Query semantics are covered by
//! Prometheus's own scripts in `promql_conformance`.

use opsdeck_metrics::promql::{Engine, Query, QueryError, Value};
use opsdeck_metrics::{Labels, SeriesStore, StoreConfig, STALE_NAN};

const MIN: i64 = 60_000;
const SCRAPE: i64 = 15_000;

/// A store that keeps every sample, however old.
fn unbounded_store() -> SeriesStore {
    SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..Default::default()
    })
}

fn store() -> SeriesStore {
    let store = unbounded_store();
    for (instance, per_minute) in [("a", 60.0), ("b", 120.0)] {
        let labels = Labels::from_pairs([
            ("__name__", "requests_total"),
            ("job", "api"),
            ("instance", instance),
        ]);
        for i in 0..=10 {
            store
                .append(&labels, i * MIN, per_minute * i as f64)
                .expect("append");
        }
    }
    let up = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
    store.append(&up, 0, 1.0).expect("append");
    store.append(&up, 5 * MIN, STALE_NAN).expect("append");
    store
}

fn query(text: &str) -> Query {
    Query::parse(text).expect("query parses")
}

#[test]
fn instant_vector_samples_carry_the_evaluation_time() {
    let value = Engine::default()
        .instant(
            &store(),
            &query("sum by (job) (rate(requests_total[5m]))"),
            10 * MIN,
        )
        .expect("query");
    let Value::Vector(samples) = value else {
        panic!("expected a vector, got {value:?}");
    };
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels, Labels::from_pairs([("job", "api")]));
    assert_eq!(samples[0].t, 10 * MIN);
    assert!((samples[0].v - 3.0).abs() < 1e-9, "{}", samples[0].v);
}

#[test]
fn range_queries_return_series_sorted_by_labels_with_one_point_per_step() {
    let series = Engine::default()
        .range(&store(), &query("requests_total / 60"), 0, 4 * MIN, MIN)
        .expect("query");
    let instances: Vec<&str> = series
        .iter()
        .map(|s| s.labels.get("instance").expect("instance label"))
        .collect();
    assert_eq!(instances, ["a", "b"]);
    let b: Vec<(i64, f64)> = series[1].samples.iter().map(|p| (p.t, p.v)).collect();
    assert_eq!(
        b,
        [
            (0, 0.0),
            (MIN, 2.0),
            (2 * MIN, 4.0),
            (3 * MIN, 6.0),
            (4 * MIN, 8.0)
        ]
    );
}

#[test]
fn a_stale_marker_ends_a_series_in_range_queries() {
    let series = Engine::default()
        .range(&store(), &query("up"), 0, 8 * MIN, MIN)
        .expect("query");
    let times: Vec<i64> = series[0].samples.iter().map(|p| p.t).collect();
    assert_eq!(times, [0, MIN, 2 * MIN, 3 * MIN, 4 * MIN]);
}

#[test]
fn range_queries_reject_bad_steps_and_huge_resolutions() {
    let engine = Engine::default();
    let db = store();
    let q = query("up");
    assert!(matches!(
        engine.range(&db, &q, 0, MIN, 0),
        Err(QueryError::Execution(_))
    ));
    assert!(matches!(
        engine.range(&db, &q, MIN, 0, 1_000),
        Err(QueryError::Execution(_))
    ));
    let err = engine
        .range(&db, &q, 0, 12_000, 1)
        .expect_err("too many steps");
    assert!(err.to_string().contains("maximum resolution"), "{err}");
    let err = engine
        .range(&db, &query("up[5m]"), 0, MIN, MIN)
        .expect_err("a range vector is no range-query result");
    assert!(err.to_string().contains("range vector"), "{err}");
    let err = engine
        .range(&db, &query("up[5m]"), MIN, MIN, MIN)
        .expect_err("a single step does not make it an instant query");
    assert!(err.to_string().contains("range vector"), "{err}");
}

#[test]
fn instant_queries_return_matrices_scalars_and_strings() {
    let engine = Engine::default();
    let db = store();
    match engine.instant(&db, &query("requests_total{instance=\"a\"}[2m]"), 10 * MIN) {
        Ok(Value::Matrix(series)) => {
            let times: Vec<i64> = series[0].samples.iter().map(|p| p.t).collect();
            assert_eq!(times, [9 * MIN, 10 * MIN], "the window is left-open");
        }
        other => panic!("expected a matrix, got {other:?}"),
    }
    assert_eq!(
        engine.instant(&db, &query("count(requests_total) * 2"), MIN),
        Ok(Value::Vector(vec![opsdeck_metrics::promql::VectorSample {
            labels: Labels::new(),
            t: MIN,
            v: 4.0
        }]))
    );
    assert_eq!(
        engine.instant(&db, &query("scalar(count(requests_total))"), MIN),
        Ok(Value::Scalar { t: MIN, v: 2.0 })
    );
    assert_eq!(
        engine.instant(&db, &query("\"hello\""), MIN),
        Ok(Value::String {
            t: MIN,
            s: "hello".into()
        })
    );
}

#[test]
fn ambiguous_matches_are_errors() {
    let err = Engine::default()
        .instant(&store(), &query("requests_total / on(job) up"), MIN)
        .expect_err("two left series match one right series");
    assert!(
        err.to_string()
            .contains("many-to-one matching must be explicit"),
        "{err}"
    );
}

#[test]
fn syntax_errors_are_parse_errors() {
    assert!(matches!(Query::parse("sum(up"), Err(QueryError::Parse(_))));
    assert!(matches!(
        Query::parse(r#"label_replace(up, "\xff", "", "job", "(.*)")"#),
        Err(QueryError::Parse(_))
    ));
}

#[test]
fn extreme_offsets_and_subquery_resolutions_do_not_crash() {
    let engine = Engine::default();
    let db = store();
    let value = engine
        .instant(&db, &query("requests_total offset 100000y"), MIN)
        .expect("an offset far in the past selects nothing");
    assert_eq!(value, Value::Vector(Vec::new()));
    let err = engine
        .instant(&db, &query("max_over_time(up[30d:1ms])"), MIN)
        .expect_err("too many subquery steps");
    assert!(err.to_string().contains("subquery"), "{err}");
}

#[test]
fn unsupported_features_are_errors_not_wrong_answers() {
    let engine = Engine::default();
    let db = store();
    for text in [
        "requests_total + fill(0) up",
        "histogram_count(requests_total)",
        "info(up)",
    ] {
        let err = engine
            .instant(&db, &query(text), MIN)
            .expect_err("unsupported");
        assert!(matches!(err, QueryError::Execution(_)), "{text}: {err}");
    }
}

/// A store that counts whole-selection reads and the largest number of
/// series' samples it handed out at once.
struct CountingStore {
    store: SeriesStore,
    whole_selects: std::sync::atomic::AtomicUsize,
}

impl opsdeck_metrics::Queryable for CountingStore {
    fn select(
        &self,
        matchers: &[opsdeck_metrics::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<opsdeck_metrics::SeriesSamples> {
        self.whole_selects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.store.select(matchers, mint, maxt)
    }

    fn for_each_selected(
        &self,
        matchers: &[opsdeck_metrics::Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(&Labels, &[opsdeck_metrics::Sample]),
    ) {
        self.store.for_each_selected(matchers, mint, maxt, visit);
    }
}

/// A range function over a matrix selector reads the store one series at
/// a time (the agent's rules would otherwise hold every window of
/// thousands of series at once), inside a subquery too; only a selector
/// with `or` alternatives, which must be merged, is read whole.
#[test]
fn range_functions_stream_series_from_the_store() {
    let db = CountingStore {
        store: store(),
        whole_selects: Default::default(),
    };
    let evaluate = |text: &str| {
        db.whole_selects
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let value = Engine::default()
            .instant(&db, &query(text), 10 * MIN)
            .expect("query");
        (
            value,
            db.whole_selects.load(std::sync::atomic::Ordering::Relaxed),
        )
    };
    let (streamed, whole) = evaluate("sum by (job) (rate(requests_total[5m]))");
    assert_eq!(whole, 0, "streamed, not selected whole");
    let Value::Vector(samples) = streamed else {
        panic!("expected a vector, got {streamed:?}");
    };
    assert!((samples[0].v - 3.0).abs() < 1e-9, "{}", samples[0].v);
    let (_, whole) = evaluate("max_over_time(rate(requests_total[5m])[10m:1m])");
    assert_eq!(whole, 0, "a subquery's inner range function streams too");
    let (merged, whole) =
        evaluate(r#"count(rate({__name__="requests_total" or __name__="up"}[5m]))"#);
    assert_eq!(whole, 2, "each alternative read whole, then merged");
    assert_eq!(
        merged,
        Engine::default()
            .instant(
                &db.store,
                &query("count(rate(requests_total[5m]))"),
                10 * MIN
            )
            .expect("query")
    );
}

/// The store without its chunk summaries: every range function reads
/// samples (the trait's defaults).
struct SamplesOnly<'a>(&'a SeriesStore);

impl opsdeck_metrics::Queryable for SamplesOnly<'_> {
    fn select(
        &self,
        matchers: &[opsdeck_metrics::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<opsdeck_metrics::SeriesSamples> {
        self.0.select(matchers, mint, maxt)
    }
}

/// Range functions over windows that cover whole closed chunks are
/// computed from the chunks' summaries. They give what the samples give:
/// exactly for counts, extremes, ends and a counter without resets, and to
/// rounding where sums are added in another order.
#[test]
fn range_functions_over_chunk_summaries_match_the_samples() {
    let store = unbounded_store();
    for (series, shape) in ["steady", "resets", "stale", "wave", "flat"]
        .into_iter()
        .enumerate()
    {
        let labels = Labels::from_pairs([("__name__", "m"), ("shape", shape)]);
        let mut counter = 0.0;
        for i in 0..=240i64 {
            counter += (i % 7 + series as i64) as f64;
            let v = match shape {
                "steady" => counter,
                "resets" if i % 50 == 49 => {
                    counter = 3.0;
                    counter
                }
                "resets" => counter,
                "stale" if i % 40 == 13 => STALE_NAN,
                "stale" => 1e9 - i as f64 * 1e5,
                "wave" => 4e10 + 1e9 * (i as f64 / 20.0).sin(),
                _ => 42.0,
            };
            store.append(&labels, i * SCRAPE, v).expect("append");
        }
    }
    let now = 240 * SCRAPE;
    let functions = [
        "rate",
        "increase",
        "delta",
        "deriv",
        "resets",
        "changes",
        "min_over_time",
        "max_over_time",
        "count_over_time",
        "last_over_time",
        "first_over_time",
        "present_over_time",
    ];
    let engine = Engine::default();
    let mut compared = 0;
    // Last, a window that starts well inside a chunk whose resume points
    // a newer chunk holds (the shorter windows' reads left them there).
    for range in ["6h", "1h", "37m", "16m", "5m", "55m"] {
        let texts = functions
            .iter()
            .map(|f| format!("{f}(m[{range}])"))
            .chain([format!("predict_linear(m[{range}], 3600)")]);
        for text in texts {
            for at in [now, now - 7 * SCRAPE, now - 30 * MIN] {
                let evaluate = |db: &dyn opsdeck_metrics::Queryable| match engine
                    .instant(db, &query(&text), at)
                    .expect("query")
                {
                    Value::Vector(samples) => samples,
                    other => panic!("{text}: expected a vector, got {other:?}"),
                };
                let (summarised, sampled) = (evaluate(&store), evaluate(&SamplesOnly(&store)));
                assert_eq!(summarised.len(), sampled.len(), "{text} at {at}");
                for (a, b) in summarised.iter().zip(&sampled) {
                    assert_eq!(a.labels, b.labels, "{text} at {at}");
                    let close = a.v == b.v
                        || (a.v.is_nan() && b.v.is_nan())
                        || (a.v - b.v).abs() <= 1e-9 * a.v.abs().max(b.v.abs());
                    assert!(close, "{text} at {at} {}: {} vs {}", a.labels, a.v, b.v);
                    // A fit adds its sums in another order, and so does
                    // a counter's correction for its resets (any decrease).
                    let fit = text.starts_with("deriv") || text.starts_with("predict_linear");
                    let counter = text.starts_with("rate") || text.starts_with("increase");
                    let decreasing = a
                        .labels
                        .get("shape")
                        .is_some_and(|s| s != "steady" && s != "flat");
                    let rounded = fit || (counter && decreasing);
                    if !rounded {
                        assert_eq!(a.v.to_bits(), b.v.to_bits(), "{text} at {at} {}", a.labels);
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 500, "{compared} values compared");
}

/// `last_over_time` and `present_over_time` read each series' newest
/// sample in the window, unless it is a stale marker: a range leaves
/// those out, so the last sample is then an older one, if any (series
/// `only_stale` has none in the window).
#[test]
fn last_and_present_over_time_skip_a_newest_stale_marker() {
    let store = unbounded_store();
    let series = |name: &str| Labels::from_pairs([("__name__", "m"), ("s", name)]);
    for i in 0..=10 {
        for name in ["live", "ended"] {
            store
                .append(&series(name), i * MIN, i as f64)
                .expect("append");
        }
    }
    store
        .append(&series("ended"), 10 * MIN + 30_000, STALE_NAN)
        .expect("append");
    let only_stale = series("only_stale");
    store.append(&only_stale, 0, 1.0).expect("append");
    store
        .append(&only_stale, 10 * MIN + 30_000, STALE_NAN)
        .expect("append");
    let values = |text: &str| match Engine::default()
        .instant(&store, &query(text), 11 * MIN)
        .expect("query")
    {
        Value::Vector(samples) => samples
            .iter()
            .map(|s| (s.labels.to_string(), s.v))
            .collect::<Vec<_>>(),
        other => panic!("{text}: expected a vector, got {other:?}"),
    };
    assert_eq!(
        values("last_over_time(m[5m])"),
        [
            (r#"m{s="ended"}"#.to_string(), 10.0),
            (r#"m{s="live"}"#.to_string(), 10.0)
        ]
    );
    assert_eq!(
        values("present_over_time(m[5m])"),
        [
            (r#"{s="ended"}"#.to_string(), 1.0),
            (r#"{s="live"}"#.to_string(), 1.0)
        ]
    );
}

/// `stddev_`/`stdvar_over_time` fold the windows of several series and
/// steps side by side: every step of a range query must still get what
/// an instant query at that step gives, series by series (but for
/// rounding where the instant query's window comes from running totals). Seven series
/// (not a multiple of the lanes), of different lengths, one with a gap
/// that leaves some steps without a window.
#[test]
fn variances_of_a_range_query_match_each_steps_instant_query() {
    let store = unbounded_store();
    for series in 0..7i64 {
        let labels = Labels::from_pairs([("__name__", "m"), ("series", &series.to_string())]);
        for i in (series * 3)..=120 {
            if series == 4 && (40..70).contains(&i) {
                continue;
            }
            let v = 100.0 + (i as f64 * (series + 1) as f64 / 7.0).sin() * 10.0 + (i % 5) as f64;
            store.append(&labels, i * SCRAPE, v).expect("append");
        }
    }
    let engine = Engine::default();
    for function in ["stddev_over_time", "stdvar_over_time"] {
        let q = query(&format!("{function}(m[2m])"));
        let range = engine
            .range(&store, &q, 0, 120 * SCRAPE, MIN)
            .expect("range query");
        let mut points = 0;
        for step in 0..=(120 * SCRAPE / MIN) {
            let t = step * MIN;
            let Value::Vector(instant) = engine.instant(&store, &q, t).expect("instant query")
            else {
                panic!("{function} at {t}: expected a vector");
            };
            for sample in &instant {
                let in_range = range
                    .iter()
                    .find(|s| s.labels == sample.labels)
                    .and_then(|s| s.samples.iter().find(|p| p.t == t))
                    .unwrap_or_else(|| panic!("{function} at {t}: {:?} missing", sample.labels));
                // An instant query's window that reaches the newest sample
                // comes from running totals, which round differently.
                assert!(
                    (in_range.v - sample.v).abs() <= 1e-10 * sample.v.abs(),
                    "{function} at {t}: {} in the range, {} alone",
                    in_range.v,
                    sample.v
                );
                points += 1;
            }
            let in_range_at_t = range.iter().filter(|s| s.samples.iter().any(|p| p.t == t));
            assert_eq!(in_range_at_t.count(), instant.len(), "{function} at {t}");
        }
        assert!(points > 100, "{function}: only {points} points compared");
    }
}

/// `avg_`, `sum_`, `stddev_` and `stdvar_over_time` of an instant query
/// come from the store's running totals and chunk summaries where the
/// values are finite. An infinity or a NaN beside them decides the result
/// by Prometheus's rules, as a range query (which decodes every window of
/// more than one step) computes it, and no series goes missing.
#[test]
fn moments_from_summaries_follow_the_samples_around_values_that_are_not_finite() {
    let store = unbounded_store();
    let hour = 240;
    for (name, odd_one) in [
        ("finite", None),
        ("inf_newest", Some((hour, f64::INFINITY))),
        ("nan_newest", Some((hour, f64::NAN))),
        ("inf_early", Some((10, f64::INFINITY))),
        ("inf_in_window", Some((hour - 30, f64::NEG_INFINITY))),
    ] {
        let labels = Labels::from_pairs([("__name__", "m"), ("s", name)]);
        for i in 0..=hour {
            let v = match odd_one {
                Some((at, odd)) if at == i => odd,
                _ => 50.0 + (i as f64 / 9.0).sin() * 7.5 + (i % 3) as f64 * 0.25,
            };
            store.append(&labels, i * SCRAPE, v).expect("append");
        }
    }
    let engine = Engine::default();
    let now = hour * SCRAPE;
    for function in [
        "avg_over_time",
        "sum_over_time",
        "stddev_over_time",
        "stdvar_over_time",
    ] {
        for range in ["1h", "20m", "5m"] {
            let q = query(&format!("{function}(m[{range}])"));
            // Twice: the first read leaves the summaries the second uses.
            for _ in 0..2 {
                let Value::Vector(instant) = engine.instant(&store, &q, now).expect("instant")
                else {
                    panic!("{function}[{range}]: expected a vector");
                };
                // Two steps: a range query of one step reads as an
                // instant query does.
                let decoded = engine
                    .range(&store, &q, now - MIN, now, MIN)
                    .expect("range");
                assert_eq!(instant.len(), decoded.len(), "{function}[{range}]");
                for (alone, every_sample) in instant.iter().zip(&decoded) {
                    assert_eq!(alone.labels, every_sample.labels);
                    let at_now = every_sample.samples.iter().find(|p| p.t == now);
                    let (a, b) = (alone.v, at_now.expect("a point at the end").v);
                    let agree = (a.is_nan() && b.is_nan())
                        || a == b
                        || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
                    assert!(agree, "{function}[{range}] {:?}: {a} vs {b}", alone.labels);
                }
            }
        }
    }
}

/// `min_` and `max_over_time` of a window that starts inside a closed
/// chunk take the chunk's extremes by blocks, decoding only up to the next
/// block. Wherever the window starts (the instant query moves it one
/// scrape at a time, as a rule's evaluations do), the result is the one a
/// range query gets by decoding every window, bit for bit (signs of zero
/// included), with NaN, stale markers and infinities by Prometheus's
/// rules.
#[test]
fn extremes_of_windows_starting_inside_chunks_follow_the_samples() {
    let store = unbounded_store();
    let last = 240;
    let value = |name: &str, i: i64| {
        let wave = 50.0 + (i as f64 / 9.0).sin() * 7.5 + (i % 3) as f64 * 0.25;
        match name {
            "falling" => 1000.0 - i as f64,
            "rising" => i as f64 * 2.0 - (i % 17) as f64,
            "zeros" if i % 13 == 6 => 1.5,
            "zeros" if (i / 3) % 2 == 0 => 0.0,
            "zeros" => -0.0,
            "nan" if i == 100 => f64::NAN,
            "stale" if i == 150 => STALE_NAN,
            "inf" if i == 170 => f64::INFINITY,
            "inf" if i == 50 => f64::NEG_INFINITY,
            _ => wave,
        }
    };
    let names = ["wave", "falling", "rising", "zeros", "nan", "stale", "inf"];
    for i in 0..=last {
        for name in names {
            let labels = Labels::from_pairs([("__name__", "m"), ("s", name)]);
            store
                .append(&labels, i * SCRAPE, value(name, i))
                .expect("append");
        }
    }
    let engine = Engine::default();
    let mut compared = 0;
    for function in ["min_over_time", "max_over_time"] {
        for range in ["7m", "15m", "31m"] {
            let q = query(&format!("{function}(m[{range}])"));
            for i in 60..=last {
                let t = i * SCRAPE;
                let Value::Vector(instant) = engine.instant(&store, &q, t).expect("instant") else {
                    panic!("{function}[{range}] at {i}: expected a vector");
                };
                // Two steps: a range query of one step reads as an
                // instant query does.
                let decoded = engine.range(&store, &q, t - MIN, t, MIN).expect("range");
                assert_eq!(instant.len(), decoded.len(), "{function}[{range}] at {i}");
                for (alone, every_sample) in instant.iter().zip(&decoded) {
                    assert_eq!(alone.labels, every_sample.labels);
                    let at_t = every_sample.samples.iter().find(|p| p.t == t);
                    let (a, b) = (alone.v, at_t.expect("a point at the end").v);
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{function}[{range}] at {i} {:?}: {a} vs {b}",
                        alone.labels
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 5000, "only {compared} compared");
}
