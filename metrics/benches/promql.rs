//! PromQL evaluation speed: a batch of 50 typical alert-rule expressions,
//! evaluated as instant queries over 10,000 series holding 1 h of samples
//! scraped every 15 s (2.4 M samples). Target: the whole batch in ≤ 5 ms.
//! Measured as separate queries, and sharing their reads as a rule group
//! does (`Engine::instant_shared`).
//! Also one dashboard-style range query (1 h at a 1 m step).
//!
//! Run: `cargo bench -p opsdeck-metrics --bench promql`
//!
//! On a machine whose speed wanders (a shared host), criterion's mean
//! moves with its neighbours: `PROMQL_BENCH_SPREAD=400` also times that
//! many batches one by one, both ways, and prints the fastest, the tenth
//! percentile and the median.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use opsdeck_metrics::promql::{Engine, Query, RepeatedReads, SharedResults};
use opsdeck_metrics::{
    Labels, Matcher, Piece, Queryable, Sample, SeriesSamples, SeriesStore, SummaryKind,
};

mod fleet;

use fleet::{store, ALERTS, HOUR_MS, NOW};

/// The store, timing the reads the engine makes.
struct TimedStore<'a> {
    store: &'a SeriesStore,
    select_nanos: AtomicU64,
}

type Visit<'v> = &'v mut dyn FnMut(&Labels, &[Sample]);

impl TimedStore<'_> {
    fn timed(&self, read: impl FnOnce() -> Vec<SeriesSamples>) -> Vec<SeriesSamples> {
        let started = Instant::now();
        let selected = read();
        self.select_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        selected
    }

    /// Times a walk over the store without the engine's work on each
    /// series.
    fn timed_walk(&self, walk: impl FnOnce(Visit), visit: Visit) {
        let mut in_engine = Duration::ZERO;
        let started = Instant::now();
        walk(&mut |labels, samples| {
            let engine_started = Instant::now();
            visit(labels, samples);
            in_engine += engine_started.elapsed();
        });
        self.add_store_time(started.elapsed().saturating_sub(in_engine));
    }

    fn add_store_time(&self, in_store: Duration) {
        self.select_nanos
            .fetch_add(in_store.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Queryable for TimedStore<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.timed(|| self.store.select(matchers, mint, maxt))
    }

    fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.timed(|| self.store.select_newest(matchers, mint, maxt))
    }

    fn for_each_selected(&self, matchers: &[Matcher], mint: i64, maxt: i64, visit: Visit) {
        self.timed_walk(
            |timed| self.store.for_each_selected(matchers, mint, maxt, timed),
            visit,
        );
    }

    fn for_each_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64, visit: Visit) {
        self.timed_walk(
            |timed| self.store.for_each_newest(matchers, mint, maxt, timed),
            visit,
        );
    }

    fn for_each_summarised(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        kind: SummaryKind,
        visit: &mut dyn FnMut(&Labels, &[Piece<'_>]),
    ) {
        let mut in_engine = Duration::ZERO;
        let started = Instant::now();
        self.store
            .for_each_summarised(matchers, mint, maxt, kind, &mut |labels, pieces| {
                let engine_started = Instant::now();
                visit(labels, pieces);
                in_engine += engine_started.elapsed();
            });
        self.add_store_time(started.elapsed().saturating_sub(in_engine));
    }
}

fn bench(c: &mut Criterion) {
    let store = store();
    // What the batch reads, against the processor's caches.
    println!(
        "store: {:.1} MB for {} series",
        store.bytes_used() as f64 / 1e6,
        store.stats().series
    );
    let engine = Engine::default();
    let queries: Vec<Query> = ALERTS
        .iter()
        .map(|q| Query::parse(q).expect("alert expression parses"))
        .collect();
    // The first evaluation of the batch also ranks the series in label
    // order and leaves resume points in the chunks the windows start in,
    // as a rule loop's first tick does; the measurements below are of the
    // ticks after it.
    let started = Instant::now();
    for q in &queries {
        engine
            .instant(&store, q, NOW)
            .unwrap_or_else(|e| panic!("{}: {e}", q.text()));
    }
    println!("first evaluation of the batch: {:.3?}", started.elapsed());
    // With PROMQL_BENCH_BREAKDOWN set, print what each expression costs
    // and how much of it is spent reading the store.
    let breakdown = std::env::var_os("PROMQL_BENCH_BREAKDOWN").is_some();
    let timed = TimedStore {
        store: &store,
        select_nanos: AtomicU64::new(0),
    };
    let runs = if breakdown { 20 } else { 1 };
    for q in &queries {
        timed.select_nanos.store(0, Ordering::Relaxed);
        let started = Instant::now();
        for _ in 0..runs {
            engine
                .instant(&timed, q, NOW)
                .unwrap_or_else(|e| panic!("{}: {e}", q.text()));
        }
        if breakdown {
            let select = Duration::from_nanos(timed.select_nanos.load(Ordering::Relaxed));
            println!(
                "{:>10.3?} total {:>10.3?} in select  {}",
                started.elapsed() / runs,
                select / runs,
                q.text()
            );
        }
    }
    let repeated = RepeatedReads::of(&engine, &queries);
    let as_separate_queries = || {
        for q in &queries {
            std::hint::black_box(engine.instant(&store, q, NOW).expect("query"));
        }
    };
    // As a rule group evaluates them: queries at one time share their
    // reads (the same `rate(…[5m])` in two rules is read once). The group
    // finds its repeated reads once, not at every evaluation.
    let sharing_reads = || {
        let shared = SharedResults::sharing(NOW, &repeated);
        for q in &queries {
            std::hint::black_box(
                engine
                    .instant_shared(&store, q, NOW, &shared)
                    .expect("query"),
            );
        }
    };
    if let Some(rounds) = std::env::var("PROMQL_BENCH_SPREAD")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        print_spread("as separate queries", rounds, &as_separate_queries);
        print_spread("sharing reads", rounds, &sharing_reads);
    }
    c.bench_function("promql: 50 alert expressions, 10k series, 1 h", |b| {
        b.iter(&as_separate_queries)
    });
    c.bench_function(
        "promql: 50 alert expressions, 10k series, 1 h, sharing reads",
        |b| b.iter(&sharing_reads),
    );
    let dashboard =
        Query::parse("sum by (instance) (rate(http_requests_total[5m]))").expect("parses");
    c.bench_function("promql: range query 1 h at 1 m over 1,000 series", |b| {
        b.iter(|| {
            std::hint::black_box(
                engine
                    .range(&store, &dashboard, NOW - HOUR_MS, NOW, 60_000)
                    .expect("query"),
            )
        })
    });
}

/// Times `rounds` batches one by one and prints the fastest, the tenth
/// percentile and the median: what the code costs, apart from the times
/// a busy host slowed it.
fn print_spread(name: &str, rounds: usize, batch: &dyn Fn()) {
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            batch();
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    println!(
        "{name}, {} batches: fastest {:.2?}, 10th percentile {:.2?}, median {:.2?}",
        times.len(),
        times[0],
        times[times.len() / 10],
        times[times.len() / 2]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
