//! Peak heap of one PromQL evaluation: the agent's default rule
//! `rate(http_requests_total[2m])` over 4,900 series scraped every second,
//! as an instant query. The heap is counted by a global allocator that
//! tracks the bytes allocated and their high-water mark; the figure is the
//! peak during the evaluation above what was allocated before it (the
//! store), result included.
//!
//! Run: `cargo bench -p opsdeck-metrics --bench query_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use opsdeck_metrics::promql::{Engine, Query, Value};
use opsdeck_metrics::{Labels, SeriesStore, StoreConfig};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let grown = new_size - layout.size();
            let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SERIES: usize = 4_900;
const SCRAPE_MS: i64 = 1_000;
/// Ten minutes of history, enough for the `[2m]` window to hold 120
/// samples of every series.
const SCRAPES: i64 = 600;
const NOW: i64 = 1_700_000_000_000;

fn main() {
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        max_bytes: None,
    });
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", "http_requests_total".to_string()),
                ("job", "app".to_string()),
                ("instance", format!("node-{}", i % 49)),
                ("handler", format!("/api/{}", i / 49)),
            ])
        })
        .collect();
    let start = NOW - (SCRAPES - 1) * SCRAPE_MS;
    for scrape in 0..SCRAPES {
        for (i, l) in labels.iter().enumerate() {
            let value = (scrape * (1 + i as i64 % 7)) as f64;
            store
                .append(l, start + scrape * SCRAPE_MS, value)
                .expect("append");
        }
    }
    let engine = Engine::default();
    let query = Query::parse("rate(http_requests_total[2m])").expect("parses");
    // The first evaluation ranks the series and leaves resume points, which
    // the store keeps; measure the ones after it, as a rule loop runs them.
    engine.instant(&store, &query, NOW).expect("query");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let value = engine.instant(&store, &query, NOW).expect("query");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let Value::Vector(samples) = &value else {
        panic!("expected a vector, got {value:?}");
    };
    println!(
        "rate(http_requests_total[2m]) over {SERIES} series at 1 s, instant: {} samples out, \
         peak heap during the evaluation {:.1} KiB above the store's {:.1} MiB",
        samples.len(),
        peak as f64 / 1024.0,
        before as f64 / (1024.0 * 1024.0)
    );
}
