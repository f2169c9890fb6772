//! Series store benchmark: 10,000 series × 1 h at 1 s resolution (36 M
//! samples). Prints bytes per sample (overall and per kind of series) and
//! the bulk fill rate, then measures steady-state scrape ingestion and
//! select latency with criterion.
//!
//! `cargo bench -p opsdeck-metrics --bench store`

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

const METRICS: usize = 200;
const SERIES_PER_METRIC: usize = 50;
const SERIES: usize = METRICS * SERIES_PER_METRIC;
const SECONDS: i64 = 3600;
const START: i64 = 1_700_000_000_000;

/// The kinds of series a scrape of an application and its host exposes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Requests, bytes: integer counters at a steady rate with noise.
    BusyCounter,
    /// Histogram buckets: integer counters that move by a few.
    BucketCounter,
    /// Errors: counters that rarely move.
    RareCounter,
    /// Limits, info metrics, `up`.
    ConstantGauge,
    /// Connections, goroutines: small integers that wander.
    IntegerGauge,
    /// Heap and RSS: page-multiple byte counts.
    MemoryGauge,
    /// CPU seconds: a counter with two decimals.
    DecimalCounter,
    /// Histogram sums, ratios: full-precision floats changing every sample.
    FloatGauge,
}

/// The mix of kinds, one per metric name in turn. It follows the value
/// shapes in the exposition fixtures under `shared/testdata/exposition/`
/// (node_exporter, Prometheus, Alertmanager, prom-client): about 88 % of
/// the values are integers, 4 % short decimals and 8 % full floats.
const MIX: [(Kind, usize); 8] = [
    (Kind::BusyCounter, 6),
    (Kind::BucketCounter, 6),
    (Kind::RareCounter, 3),
    (Kind::ConstantGauge, 3),
    (Kind::IntegerGauge, 2),
    (Kind::MemoryGauge, 2),
    (Kind::DecimalCounter, 1),
    (Kind::FloatGauge, 2),
];

/// A deterministic generator of one series' values.
struct SeriesValues {
    kind: Kind,
    rng: u64,
    value: f64,
    rate: f64,
}

impl SeriesValues {
    fn new(kind: Kind, seed: u64) -> Self {
        let mut values = SeriesValues {
            kind,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            value: 0.0,
            rate: 0.0,
        };
        values.rate = 1.0 + (values.next_random() % 200) as f64;
        values.value = match kind {
            Kind::MemoryGauge => 100_000_000.0,
            Kind::ConstantGauge => (values.next_random() % 65536) as f64,
            _ => (values.next_random() % 1_000_000) as f64,
        };
        values
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn next_value(&mut self) -> f64 {
        let r = self.next_random();
        self.value = match self.kind {
            Kind::BusyCounter => self.value + (self.rate * (0.8 + (r % 41) as f64 / 100.0)).round(),
            Kind::BucketCounter => self.value + (r % 4) as f64,
            Kind::RareCounter => self.value + f64::from(r.is_multiple_of(50)),
            Kind::ConstantGauge => self.value,
            Kind::IntegerGauge => (self.value + (r % 7) as f64 - 3.0).max(0.0),
            Kind::MemoryGauge => (self.value + ((r % 33) as f64 - 16.0) * 4096.0).max(0.0),
            Kind::DecimalCounter => ((self.value * 100.0).round() + (r % 10) as f64) / 100.0,
            Kind::FloatGauge => (r >> 11) as f64 / (1u64 << 53) as f64 * self.rate,
        };
        self.value
    }
}

fn series_labels() -> Vec<Labels> {
    (0..SERIES)
        .map(|i| {
            let metric = i / SERIES_PER_METRIC;
            let instance = i % SERIES_PER_METRIC;
            Labels::from_pairs([
                ("__name__", format!("app_metric_{metric}_total")),
                ("instance", format!("bot-{}:9100", instance / 5)),
                ("job", "app".to_string()),
                ("shard", (instance % 5).to_string()),
            ])
        })
        .collect()
}

fn kind_of(series: usize) -> Kind {
    let slots: Vec<Kind> = MIX
        .iter()
        .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
        .collect();
    slots[(series / SERIES_PER_METRIC) % slots.len()]
}

/// The filled store, its label sets and the next timestamp to ingest.
struct Fixture {
    store: SeriesStore,
    labels: Vec<Labels>,
    values: std::sync::Mutex<Vec<SeriesValues>>,
    next_t: AtomicI64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let labels = series_labels();
        let mut values: Vec<SeriesValues> = (0..SERIES)
            .map(|i| SeriesValues::new(kind_of(i), i as u64))
            .collect();
        let store = SeriesStore::new(StoreConfig {
            max_bytes: None,
            ..StoreConfig::default()
        });
        let started = Instant::now();
        for s in 0..SECONDS {
            let t = START + s * 1000;
            let scrape = labels
                .iter()
                .zip(values.iter_mut())
                .map(|(l, v)| (l, v.next_value()));
            store.ingest_scrape("app", t, scrape);
        }
        let elapsed = started.elapsed();
        let stats = store.stats();
        println!(
            "store fill: {} series, {} samples in {:.2} s = {:.2} M samples/s",
            stats.series,
            stats.samples,
            elapsed.as_secs_f64(),
            stats.samples as f64 / elapsed.as_secs_f64() / 1e6
        );
        println!(
            "store size: {} bytes = {:.3} bytes/sample (chunks, labels, index, sources)",
            stats.bytes_used,
            stats.bytes_used as f64 / stats.samples as f64
        );
        Fixture {
            store,
            labels,
            values: std::sync::Mutex::new(values),
            next_t: AtomicI64::new(START + SECONDS * 1000),
        }
    })
}

/// Bytes per sample for 100 series of each kind alone, 1 h at 1 s.
fn print_bytes_per_kind() {
    for (kind, _) in MIX {
        let store = SeriesStore::new(StoreConfig::default());
        let labels: Vec<Labels> = series_labels().into_iter().take(100).collect();
        let mut values: Vec<SeriesValues> = (0..100).map(|i| SeriesValues::new(kind, i)).collect();
        for s in 0..SECONDS {
            for (l, v) in labels.iter().zip(values.iter_mut()) {
                let _ = store.append(l, START + s * 1000, v.next_value());
            }
        }
        let stats = store.stats();
        println!(
            "store bytes/sample {kind:?}: {:.3}",
            stats.bytes_used as f64 / stats.samples as f64
        );
    }
}

fn ingest(c: &mut Criterion) {
    print_bytes_per_kind();
    let fx = fixture();
    let mut group = c.benchmark_group("store_ingest");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("scrape_10k_series_steady_state", |b| {
        b.iter(|| {
            let t = fx.next_t.fetch_add(1000, Ordering::Relaxed);
            let mut values = fx.values.lock().unwrap_or_else(|e| e.into_inner());
            let scrape = fx
                .labels
                .iter()
                .zip(values.iter_mut())
                .map(|(l, v)| (l, v.next_value()));
            fx.store.ingest_scrape("app", t, scrape)
        })
    });
    group.finish();
}

fn select(c: &mut Criterion) {
    let fx = fixture();
    let mut group = c.benchmark_group("store_select");
    let cases = [
        (
            "name_eq_50_series",
            vec![Matcher::equal("__name__", "app_metric_42_total")],
        ),
        (
            "name_eq_and_label_10_series",
            vec![
                Matcher::equal("__name__", "app_metric_42_total"),
                Matcher::equal("shard", "3"),
            ],
        ),
        (
            "name_regex_500_series",
            vec![Matcher::regex("__name__", "app_metric_1[0-9]_total").unwrap()],
        ),
    ];
    for (name, matchers) in &cases {
        for (range, span) in [("5m", 5 * 60 * 1000), ("1h", 60 * 60 * 1000)] {
            group.bench_with_input(BenchmarkId::new(*name, range), &span, |b, &span| {
                b.iter(|| {
                    let maxt = fx.next_t.load(Ordering::Relaxed);
                    fx.store.select(matchers, maxt - span, maxt)
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ingest, select
}
criterion_main!(benches);
