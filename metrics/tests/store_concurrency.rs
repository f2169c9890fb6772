//! One writer and several readers at once: readers always see consistent,
//! ordered data that only grows, and the writer loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

const SERIES: usize = 50;
const SCRAPES: i64 = 600;

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", format!("m{}", i % 5)), ("i", i.to_string())])
}

#[test]
fn readers_see_consistent_growing_data_while_the_writer_appends() {
    let store = Arc::new(SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..StoreConfig::default()
    }));
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..3)
        .map(|r| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let matchers = [Matcher::equal("__name__", format!("m{r}"))];
                let mut seen = 0usize;
                let mut reads = 0;
                while !done.load(Ordering::Acquire) || reads == 0 {
                    let found = store.select(&matchers, i64::MIN, i64::MAX);
                    let mut total = 0;
                    for series in &found {
                        // Every sample is (t, t / 1000) and timestamps increase.
                        assert!(series.samples.windows(2).all(|w| w[0].t < w[1].t));
                        assert!(series.samples.iter().all(|s| s.v == (s.t / 1000) as f64));
                        total += series.samples.len();
                    }
                    assert!(total >= seen, "data shrank from {seen} to {total} samples");
                    seen = total;
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    for s in 1..=SCRAPES {
        let t = s * 1000;
        let outcome = store.ingest_scrape("w", t, (0..SERIES).map(|i| (labels(i), s as f64)));
        assert_eq!(outcome.appended, SERIES);
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().expect("reader thread panicked") > 0);
    }

    let all = store.select(
        &[Matcher::regex("__name__", "m.").unwrap()],
        i64::MIN,
        i64::MAX,
    );
    assert_eq!(all.len(), SERIES);
    assert!(all.iter().all(|s| s.samples.len() == SCRAPES as usize));
}

#[test]
fn the_store_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SeriesStore>();
    assert_send_sync::<Arc<dyn Queryable>>();
}
