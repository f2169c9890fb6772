//! The retention window: old samples are dropped as data time advances,
//! series that age out entirely disappear, and memory shrinks accordingly.

use opsdeck_metrics::store::AppendError;
use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

const HOUR: i64 = 60 * 60 * 1000;
const START: i64 = 1_700_000_000_000;

fn labels(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name)])
}

fn fill(store: &SeriesStore, name: &str, from: i64, to: i64, step: i64) {
    let l = labels(name);
    for t in (from..to).step_by(step as usize) {
        store.append(&l, t, (t / 1000) as f64).unwrap();
    }
}

#[test]
fn only_the_window_is_kept_and_returned() {
    let store = SeriesStore::new(StoreConfig::default());
    fill(&store, "up", START, START + 3 * HOUR, 1000);
    let newest = START + 3 * HOUR - 1000;
    let found = store.select(&[Matcher::equal("__name__", "up")], i64::MIN, i64::MAX);
    let samples = &found[0].samples;
    assert_eq!(samples.first().unwrap().t, newest - HOUR);
    assert_eq!(samples.last().unwrap().t, newest);
    let stats = store.stats();
    assert!(stats.expired_chunks > 0);
    // Chunks are dropped whole, so up to one sweep interval plus one
    // chunk's worth more than the window is held, and no more.
    let kept_limit = (HOUR + 16 * 60 * 1000) / 1000;
    assert!(
        stats.samples as i64 <= kept_limit,
        "{} samples held",
        stats.samples
    );
    assert!(stats.samples as i64 >= HOUR / 1000);
}

#[test]
fn keeping_everything_keeps_everything() {
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..StoreConfig::default()
    });
    fill(&store, "up", START, START + 6 * HOUR, 60_000);
    let found = store.select(&[Matcher::equal("__name__", "up")], i64::MIN, i64::MAX);
    assert_eq!(found[0].samples.len(), 6 * 60);
    assert_eq!(store.stats().expired_samples, 0);
}

#[test]
fn a_series_that_stops_is_removed_once_it_ages_out() {
    let store = SeriesStore::new(StoreConfig::default());
    fill(&store, "gone", START, START + 10 * 60 * 1000, 10_000);
    fill(&store, "alive", START, START + 2 * HOUR, 10_000);
    let stats = store.stats();
    assert_eq!(stats.series, 1);
    assert_eq!(stats.expired_series, 1);
    assert!(store
        .select(&[Matcher::equal("__name__", "gone")], i64::MIN, i64::MAX)
        .is_empty());
}

#[test]
fn memory_stays_flat_once_the_window_is_full() {
    let store = SeriesStore::new(StoreConfig::default());
    for i in 0..20 {
        fill(&store, &format!("m{i}"), START, START + HOUR, 1000);
    }
    let after_one_hour = store.bytes_used();
    for hour in 1..3 {
        for i in 0..20 {
            let from = START + hour * HOUR;
            fill(&store, &format!("m{i}"), from, from + HOUR, 1000);
        }
    }
    let after_three_hours = store.bytes_used();
    assert!(
        after_three_hours < after_one_hour * 13 / 10,
        "{after_one_hour} bytes after 1 h, {after_three_hours} after 3 h"
    );
}

#[test]
fn samples_older_than_the_window_are_refused() {
    let store = SeriesStore::new(StoreConfig::default());
    store.append(&labels("a"), START + 2 * HOUR, 1.0).unwrap();
    let err = store.append(&labels("b"), START, 1.0).unwrap_err();
    assert_eq!(
        err,
        AppendError::TooOld {
            labels: labels("b"),
            t: START,
            cutoff: START + HOUR
        }
    );
    assert_eq!(store.stats().series, 1);
}
