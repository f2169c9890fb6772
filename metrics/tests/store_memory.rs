//! `bytes_used` is honest: it agrees with the bytes actually allocated, as
//! counted by a wrapping global allocator. This is the only test in this
//! binary so no other test's allocations interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use opsdeck_metrics::{Labels, Matcher, Piece, Queryable, SeriesStore, StoreConfig, SummaryKind};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn bytes_used_matches_what_is_allocated() {
    // The store shares the label sets it is given (they are reference
    // counted), so they are counted from before they are built, and the
    // caller's copies are dropped before comparing.
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let labels: Vec<Labels> = (0..500)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 25)),
                ("instance", "app-1:9100".to_string()),
                ("job", "app".to_string()),
                ("shard", (i / 25).to_string()),
            ])
        })
        .collect();
    let store = SeriesStore::new(StoreConfig::default());
    for s in 0..900i64 {
        let samples = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l, (s * (i as i64 % 7)) as f64));
        store.ingest_scrape("app", 1_700_000_000_000 + s * 1000, samples);
    }
    drop(labels);
    assert_agrees(&store, before, "after ingesting");
    // Reads of a window that starts inside a chunk leave resume points,
    // which the store holds and counts too.
    let newest = 1_700_000_000_000 + 899 * 1000;
    for metric in 0..25 {
        let name = format!("metric_{metric}");
        for window_s in [60, 300] {
            let mint = newest - window_s * 1000;
            let selected = store.select(&[Matcher::equal("__name__", &name)], mint, newest);
            assert_eq!(selected.len(), 20);
        }
    }
    assert_agrees(&store, before, "after reads");
    // Reads that cover closed chunks whole leave the chunks' summaries.
    let mut summaries = 0;
    for metric in 0..25 {
        let name = format!("metric_{metric}");
        let matchers = [Matcher::equal("__name__", &name)];
        store.for_each_summarised(
            &matchers,
            i64::MIN,
            newest,
            SummaryKind::Fit,
            &mut |_, pieces| {
                summaries += pieces
                    .iter()
                    .filter(|p| matches!(p, Piece::Summary(_)))
                    .count();
            },
        );
    }
    assert_eq!(
        summaries,
        500 * 3,
        "three closed chunks of 240 samples each"
    );
    assert_agrees(&store, before, "after summarising reads");
    drop(store);
}

fn assert_agrees(store: &SeriesStore, before: isize, when: &str) {
    let allocated = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64;
    let reported = store.bytes_used() as f64;
    let ratio = reported / allocated;
    assert!(
        (0.85..=1.15).contains(&ratio),
        "{when}: reported {reported} bytes, allocated {allocated} ({ratio:.3})"
    );
}
