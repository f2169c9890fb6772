//! The memory cap: stale series go first, then the oldest chunks; when only
//! live open chunks remain, new series are refused. Nothing panics.

use opsdeck_metrics::store::AppendError;
use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

const START: i64 = 1_700_000_000_000;

fn labels(job: &str, i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "requests_total".to_string()),
        ("job", job.to_string()),
        ("i", i.to_string()),
    ])
}

/// One scrape of `n` counters for `job` at second `s`.
fn scrape(store: &SeriesStore, job: &str, n: usize, s: i64) {
    let samples = (0..n).map(|i| (labels(job, i), (s * 40 + i as i64) as f64));
    let outcome = store.ingest_scrape(job, START + s * 1000, samples);
    assert_eq!(outcome.appended, n, "{outcome:?}");
}

fn capped(max_bytes: usize) -> SeriesStore {
    SeriesStore::new(StoreConfig {
        retention_ms: None,
        max_bytes: Some(max_bytes),
    })
}

fn oldest_sample(store: &SeriesStore, job: &str) -> Option<i64> {
    store
        .select(&[Matcher::equal("job", job)], i64::MIN, i64::MAX)
        .iter()
        .filter_map(|s| s.samples.first().map(|x| x.t))
        .min()
}

/// Both jobs scrape for 300 s, the dead job's target goes away, the live
/// job scrapes for another 300 s.
fn live_and_dead(store: &SeriesStore) {
    for s in 0..300 {
        scrape(store, "live", 50, s);
        scrape(store, "dead", 50, s);
    }
    assert_eq!(store.mark_source_stale("dead", START + 300_000), 50);
    for s in 300..600 {
        scrape(store, "live", 50, s);
    }
}

#[test]
fn stale_series_are_evicted_before_live_history() {
    // Usage only grows here, so a cap just under the final usage is first
    // exceeded near the end; dropping some dead series then suffices.
    let reference = capped(usize::MAX);
    live_and_dead(&reference);
    let cap = reference.bytes_used() * 97 / 100;

    let store = capped(cap);
    live_and_dead(&store);
    let stats = store.stats();
    assert!(stats.evicted_series > 0, "{stats:?}");
    assert!(stats.bytes_used <= cap, "{stats:?}");
    let dead_left = store.select(&[Matcher::equal("job", "dead")], i64::MIN, i64::MAX);
    assert_eq!(dead_left.len() as u64, 50 - stats.evicted_series);
    assert_eq!(
        oldest_sample(&store, "live"),
        Some(START),
        "live history untouched while dead series remained"
    );
}

#[test]
fn oldest_chunks_go_when_nothing_is_stale() {
    let reference = capped(usize::MAX);
    for s in 0..3600 {
        scrape(&reference, "live", 50, s);
    }
    let cap = reference.bytes_used() / 2;
    let store = capped(cap);
    for s in 0..3600 {
        scrape(&store, "live", 50, s);
    }
    let stats = store.stats();
    assert!(
        stats.evicted_chunks > 0 && stats.evicted_series == 0,
        "{stats:?}"
    );
    assert!(stats.bytes_used <= cap, "{stats:?}");
    let oldest = oldest_sample(&store, "live").unwrap();
    assert!(oldest > START + 1_200_000, "oldest kept sample at {oldest}");
    // Eviction frees down to 90 % of the cap, in whole chunks (here all
    // series' chunks end together), so usage stays close to the cap.
    assert!(
        stats.bytes_used >= cap * 7 / 10,
        "evicted far more than needed: {stats:?}"
    );
    // The newest data is complete.
    let recent = store.select(
        &[Matcher::equal("job", "live")],
        START + 3_500_000,
        i64::MAX,
    );
    assert_eq!(recent.len(), 50);
    assert!(recent.iter().all(|s| s.samples.len() == 100));
}

#[test]
fn a_tiny_cap_refuses_new_series_and_never_panics() {
    let store = capped(4096);
    let mut refused = 0;
    for i in 0..200 {
        match store.append(&labels("x", i), START, 1.0) {
            Ok(()) => {}
            Err(AppendError::MemoryCap { max_bytes, .. }) => {
                assert_eq!(max_bytes, 4096);
                refused += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    let stats = store.stats();
    assert!(refused > 0 && stats.rejected_series == refused, "{stats:?}");
    // Existing series keep appending; their filled chunks get evicted.
    for s in 1..2000 {
        for i in 0..stats.series {
            store
                .append(&labels("x", i), START + s * 1000, s as f64)
                .unwrap();
        }
    }
    let after = store.stats();
    assert!(after.evicted_chunks > 0, "{after:?}");
    // Bounded: at most the cap plus one open chunk per series.
    assert!(after.bytes_used < 4096 + after.series * 1024, "{after:?}");
}
