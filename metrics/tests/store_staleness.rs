//! Prometheus staleness: series missing from a scrape, failed scrapes and
//! removed targets get stale markers, once.

use opsdeck_metrics::{is_stale_nan, Labels, Matcher, Queryable, SeriesStore, StoreConfig};

fn series(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", "app:9100")])
}

/// `(t, is stale marker)` for each sample of the series named `name`.
fn history(store: &SeriesStore, name: &str) -> Vec<(i64, bool)> {
    let found = store.select(&[Matcher::equal("__name__", name)], i64::MIN, i64::MAX);
    assert!(found.len() <= 1);
    found
        .first()
        .map(|s| s.samples.iter().map(|x| (x.t, is_stale_nan(x.v))).collect())
        .unwrap_or_default()
}

fn store() -> SeriesStore {
    SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..StoreConfig::default()
    })
}

#[test]
fn a_series_missing_from_a_scrape_gets_one_marker() {
    let store = store();
    let (a, b) = (series("a"), series("b"));
    store.ingest_scrape("app", 1000, [(&a, 1.0), (&b, 2.0)]);
    let second = store.ingest_scrape("app", 2000, [(&a, 1.0)]);
    assert_eq!(second.appended, 1);
    assert_eq!(second.stale_markers, 1);
    let third = store.ingest_scrape("app", 3000, [(&a, 1.0)]);
    assert_eq!(third.stale_markers, 0, "already stale: no second marker");
    assert_eq!(history(&store, "b"), [(1000, false), (2000, true)]);
    assert_eq!(
        history(&store, "a"),
        [(1000, false), (2000, false), (3000, false)]
    );

    // The series comes back: a normal sample after the marker.
    store.ingest_scrape("app", 4000, [(a.clone(), 1.0), (b.clone(), 5.0)]);
    assert_eq!(
        history(&store, "b"),
        [(1000, false), (2000, true), (4000, false)]
    );
}

#[test]
fn a_failed_scrape_marks_everything_and_forgets_the_source() {
    let store = store();
    store.ingest_scrape("app", 1000, [(series("a"), 1.0), (series("b"), 2.0)]);
    assert_eq!(store.mark_source_stale("app", 2000), 2);
    assert_eq!(store.mark_source_stale("app", 3000), 0);
    assert_eq!(history(&store, "a"), [(1000, false), (2000, true)]);

    // The next successful scrape starts afresh and marks nothing.
    let next = store.ingest_scrape("app", 4000, [(series("a"), 1.0)]);
    assert_eq!((next.appended, next.stale_markers), (1, 0));
}

#[test]
fn sources_are_tracked_independently() {
    let store = store();
    let one = Labels::from_pairs([("__name__", "up"), ("instance", "one")]);
    let two = Labels::from_pairs([("__name__", "up"), ("instance", "two")]);
    store.ingest_scrape("one", 1000, [(&one, 1.0)]);
    store.ingest_scrape("two", 1000, [(&two, 1.0)]);
    let outcome = store.ingest_scrape("one", 2000, std::iter::empty::<(Labels, f64)>());
    assert_eq!(outcome.stale_markers, 1);
    let up = store.select(&[Matcher::equal("__name__", "up")], 2000, 2000);
    assert_eq!(
        up.len(),
        1,
        "only instance one has a sample (its marker) at 2000"
    );
    assert_eq!(up[0].labels, one);
}

#[test]
fn refused_samples_still_count_as_present() {
    let store = store();
    let a = series("a");
    store.ingest_scrape("app", 5000, [(&a, 1.0)]);
    // The clock went backwards: the sample is refused, but the series was
    // in the scrape, so it must not be marked stale.
    let outcome = store.ingest_scrape("app", 4000, [(&a, 1.0)]);
    assert_eq!((outcome.appended, outcome.out_of_order), (0, 1));
    assert!(outcome.first_error.is_some());
    assert_eq!(outcome.stale_markers, 0);
    assert_eq!(history(&store, "a"), [(5000, false)]);
}

#[test]
fn a_marker_that_would_be_out_of_order_is_skipped() {
    let store = store();
    let a = series("a");
    store.ingest_scrape("app", 1000, [(&a, 1.0)]);
    store.append(&a, 9000, 2.0).unwrap();
    assert_eq!(store.mark_source_stale("app", 2000), 0);
    assert_eq!(history(&store, "a"), [(1000, false), (9000, false)]);
}
