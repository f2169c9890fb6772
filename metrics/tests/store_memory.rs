//! `bytes_used` is honest: it agrees with the bytes actually allocated, as
//! counted by a wrapping global allocator. This is the only test in this
//! binary so no other test's allocations interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use opsdeck_metrics::{Labels, SeriesStore, StoreConfig};

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
    let allocated = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64;
    let reported = store.bytes_used() as f64;
    let ratio = reported / allocated;
    assert!(
        (0.85..=1.15).contains(&ratio),
        "reported {reported} bytes, allocated {allocated} ({ratio:.3})"
    );
    drop(store);
}
