//! Random appends and selects against the store agree with a naive model:
//! a plain list of samples per series, with Prometheus's append rules and
//! the retention cutoff applied by hand. Stores keeping their closed
//! chunks in files agree with it as those keeping them in memory do.

use std::collections::BTreeMap;

use opsdeck_metrics::store::AppendError;
use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig, STALE_NAN};
use proptest::prelude::*;

const SERIES: [(&str, &str); 5] = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("c", "y")];

fn labels(i: usize) -> Labels {
    let (name, job) = SERIES[i];
    Labels::from_pairs([("__name__", name), ("job", job)])
}

#[derive(Debug, Clone)]
enum Op {
    /// Moves the clock by `step` ms (possibly backwards) and appends `count`
    /// samples one second apart to one series.
    Append {
        series: usize,
        step: i64,
        count: usize,
        value: Value,
    },
    Select {
        matcher: usize,
        back: i64,
        width: i64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Repeat,
    Int(i64),
    Float(f64),
    Stale,
}

fn op() -> impl Strategy<Value = Op> {
    let value = prop_oneof![
        Just(Value::Repeat),
        (-50i64..50).prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        Just(Value::Stale),
    ];
    prop_oneof![
        4 => (0..SERIES.len(), -5_000i64..300_000, 1usize..4, value.clone())
            .prop_map(|(series, step, count, value)| Op::Append { series, step, count, value }),
        1 => (0..SERIES.len(), 0i64..5_000, 1usize..300, value)
            .prop_map(|(series, step, count, value)| Op::Append { series, step, count, value }),
        2 => (0usize..6, 0i64..8_000_000, 0i64..8_000_000)
            .prop_map(|(matcher, back, width)| Op::Select { matcher, back, width }),
    ]
}

fn matchers(kind: usize) -> Vec<Matcher> {
    match kind {
        0 => vec![Matcher::equal("__name__", "a")],
        1 => vec![Matcher::equal("__name__", "b"), Matcher::equal("job", "x")],
        2 => vec![Matcher::regex("job", "x|y").unwrap()],
        3 => vec![Matcher::not_regex("__name__", "a").unwrap()],
        4 => vec![Matcher::equal("job", "")],
        _ => vec![Matcher::regex("__name__", ".+").unwrap()],
    }
}

/// The model: every accepted sample, by series.
#[derive(Default)]
struct Model {
    retention: Option<i64>,
    series: BTreeMap<Labels, Vec<(i64, f64)>>,
    max_t: Option<i64>,
}

impl Model {
    fn cutoff(&self) -> i64 {
        match (self.retention, self.max_t) {
            (Some(r), Some(max)) => max - r,
            _ => i64::MIN,
        }
    }

    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        let cutoff = self.cutoff();
        if t < cutoff {
            let labels = labels.clone();
            return Err(AppendError::TooOld { labels, t, cutoff });
        }
        let samples = self.series.entry(labels.clone()).or_default();
        if let Some(&(last, stored)) = samples.last() {
            if t < last {
                let labels = labels.clone();
                return Err(AppendError::OutOfOrder { labels, t, last });
            }
            if t == last {
                if stored.to_bits() == v.to_bits() {
                    return Ok(());
                }
                let labels = labels.clone();
                return Err(AppendError::Duplicate {
                    labels,
                    t,
                    value: v,
                    stored,
                });
            }
        }
        samples.push((t, v));
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        Ok(())
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(String, Vec<(i64, u64)>)> {
        let mint = mint.max(self.cutoff());
        self.series
            .iter()
            .filter(|(labels, _)| matchers.iter().all(|m| m.matches(labels)))
            .map(|(labels, samples)| {
                let in_range = samples
                    .iter()
                    .filter(|(t, _)| (mint..=maxt).contains(t))
                    .map(|&(t, v)| (t, v.to_bits()))
                    .collect();
                (labels.to_string(), in_range)
            })
            .filter(|(_, samples): &(String, Vec<_>)| !samples.is_empty())
            .collect()
    }
}

fn store_select(
    store: &SeriesStore,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
) -> Vec<(String, Vec<(i64, u64)>)> {
    store
        .select(matchers, mint, maxt)
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

/// Duplicate errors carry NaN-able floats, so compare errors by their text.
fn error_text(r: Result<(), AppendError>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}

/// Where the store under test keeps its closed chunks.
#[derive(Clone, Copy)]
enum Chunks {
    InMemory,
    OnDisk,
}

fn run(retention: Option<i64>, chunks: Chunks, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let config = StoreConfig {
        retention_ms: retention,
        max_bytes: None,
    };
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = match chunks {
        Chunks::InMemory => SeriesStore::new(config),
        Chunks::OnDisk => SeriesStore::with_chunk_dir(config, dir.path())
            .map_err(|e| TestCaseError::fail(e.to_string()))?,
    };
    let mut model = Model {
        retention,
        ..Model::default()
    };
    let mut now = 1_700_000_000_000i64;
    let mut last_value: f64 = 0.0;
    for op in ops {
        match op {
            Op::Append {
                series,
                step,
                count,
                value,
            } => {
                now += step;
                for i in 0..count {
                    let t = now + 1000 * i as i64;
                    let v = match value {
                        Value::Repeat => last_value,
                        Value::Int(n) => (n + i as i64) as f64,
                        Value::Float(f) => f,
                        Value::Stale => STALE_NAN,
                    };
                    last_value = v;
                    let l = labels(series);
                    prop_assert_eq!(
                        error_text(store.append(&l, t, v)),
                        error_text(model.append(&l, t, v))
                    );
                }
                now += 1000 * count as i64;
            }
            Op::Select {
                matcher,
                back,
                width,
            } => {
                let m = matchers(matcher);
                let mint = now - back;
                let maxt = mint + width;
                prop_assert_eq!(
                    store_select(&store, &m, mint, maxt),
                    model.select(&m, mint, maxt)
                );
            }
        }
    }
    let all = matchers(5);
    prop_assert_eq!(
        store_select(&store, &all, i64::MIN, i64::MAX),
        model.select(&all, i64::MIN, i64::MAX)
    );
    let samples: usize = model
        .select(&all, i64::MIN, i64::MAX)
        .iter()
        .map(|(_, s)| s.len())
        .sum();
    if retention.is_none() {
        prop_assert_eq!(store.stats().samples, samples as u64);
    }
    prop_assert_eq!(store.stats().disk_errors, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn agrees_with_model_keeping_everything(ops in proptest::collection::vec(op(), 1..200)) {
        run(None, Chunks::InMemory, ops)?;
    }

    #[test]
    fn agrees_with_model_under_retention(ops in proptest::collection::vec(op(), 1..200)) {
        run(Some(30 * 60 * 1000), Chunks::InMemory, ops)?;
    }

    #[test]
    fn agrees_with_model_with_chunks_on_disk(ops in proptest::collection::vec(op(), 1..200)) {
        run(None, Chunks::OnDisk, ops)?;
    }

    #[test]
    fn agrees_with_model_with_chunks_on_disk_under_retention(
        ops in proptest::collection::vec(op(), 1..200)
    ) {
        run(Some(30 * 60 * 1000), Chunks::OnDisk, ops)?;
    }
}
