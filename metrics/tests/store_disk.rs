//! A store keeping its closed chunks in files answers every read as a
//! store keeping them in memory does, holds a fraction of the memory,
//! expires whole segments with the retention, and loses nothing when the
//! files cannot be written.

use opsdeck_metrics::promql::{Engine, Query, Value};
use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

const HOUR_MS: i64 = 3_600_000;
const START: i64 = 1_700_000_000_000;

fn config() -> StoreConfig {
    StoreConfig {
        retention_ms: Some(HOUR_MS),
        max_bytes: None,
    }
}

/// Appends `seconds` of one sample a second to `series` series, with
/// values that compress poorly (about 8 bytes a sample), so that an hour
/// fills several segments.
fn fill(stores: &[&SeriesStore], series: usize, seconds: i64) {
    let labels: Vec<Labels> = (0..series)
        .map(|i| Labels::from_pairs([("__name__", "load"), ("i", &i.to_string())]))
        .collect();
    for s in 0..seconds {
        for (i, l) in labels.iter().enumerate() {
            let v = ((s * 7919 + i as i64 * 104_729) % 100_003) as f64 / 7.0;
            for store in stores {
                store.append(l, START + s * 1000, v).unwrap();
            }
        }
    }
}

fn selected(store: &SeriesStore, mint: i64, maxt: i64) -> Vec<(String, Vec<(i64, u64)>)> {
    store
        .select(&[Matcher::equal("__name__", "load")], mint, maxt)
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

/// What range functions that work from chunk summaries compute, by
/// series: the stores cut chunks at different sizes (120 samples on disk,
/// 240 in memory), so the pieces differ but the results must not, beyond
/// the rounding of sums taken in another order.
fn over_time(store: &SeriesStore, window: &str, at: i64) -> Vec<(String, f64)> {
    let mut results = Vec::new();
    for function in [
        "avg_over_time",
        "max_over_time",
        "count_over_time",
        "rate",
        "deriv",
        "changes",
    ] {
        let query = Query::parse(&format!("{function}(load[{window}])")).unwrap();
        // Twice: the second read uses the summaries the first left.
        for _ in 0..2 {
            let Value::Vector(samples) = Engine::default().instant(store, &query, at).unwrap()
            else {
                panic!("{function} is not a vector");
            };
            results.extend(
                samples
                    .into_iter()
                    .map(|s| (format!("{function} {}", s.labels), s.v)),
            );
        }
    }
    results
}

fn assert_close(got: &[(String, f64)], expected: &[(String, f64)]) {
    assert_eq!(got.len(), expected.len());
    for ((name, g), (expected_name, e)) in got.iter().zip(expected) {
        assert_eq!(name, expected_name);
        assert!(
            (g - e).abs() <= 1e-9 * e.abs().max(1.0),
            "{name}: {g} against {e}"
        );
    }
}

#[test]
fn reads_match_a_store_in_memory_and_segments_expire_with_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let memory = SeriesStore::new(config());
    let disk = SeriesStore::with_chunk_dir(config(), dir.path()).unwrap();
    let seconds = 2 * HOUR_MS / 1000;
    fill(&[&memory, &disk], 60, seconds);
    let now = START + (seconds - 1) * 1000;
    for (back, width) in [
        (120_000, 120_000),
        (900_000, 900_000),
        (HOUR_MS, HOUR_MS),
        (2 * HOUR_MS, HOUR_MS),
        (1_234_567, 60_000),
    ] {
        let mint = now - back;
        let maxt = mint + width;
        assert_eq!(
            selected(&disk, mint, maxt),
            selected(&memory, mint, maxt),
            "[{mint}, {maxt}]"
        );
    }
    for window in ["2m", "15m", "1h"] {
        for at in [now, now - 456_789] {
            assert_close(
                &over_time(&disk, window, at),
                &over_time(&memory, window, at),
            );
        }
    }
    let (on_disk, in_memory) = (disk.stats(), memory.stats());
    assert_eq!(on_disk.disk_errors, 0);
    assert!(
        on_disk.bytes_used * 4 < in_memory.bytes_used,
        "heads only: {} bytes against {}",
        on_disk.bytes_used,
        in_memory.bytes_used
    );
    // An hour and a bit of data is left on disk; the first hour's
    // segments are gone from the directory too.
    assert!(on_disk.expired_chunks > 0);
    let left: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(left, on_disk.disk_bytes);
    let hour_of_chunks = in_memory.bytes_used as u64;
    assert!(
        on_disk.disk_bytes < hour_of_chunks * 3 / 2,
        "{} bytes on disk for about {hour_of_chunks} bytes of chunks",
        on_disk.disk_bytes
    );
}

#[test]
fn chunks_that_cannot_be_written_stay_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let memory = SeriesStore::new(config());
    let disk = SeriesStore::with_chunk_dir(config(), dir.path()).unwrap();
    // Each segment file is made when the first chunk for it closes.
    std::fs::remove_dir(dir.path()).unwrap();
    fill(&[&memory, &disk], 5, 1800);
    let now = START + 1799 * 1000;
    for mint in [i64::MIN, now - 600_000, now - 60_000] {
        assert_eq!(selected(&disk, mint, now), selected(&memory, mint, now));
    }
    let stats = disk.stats();
    assert!(stats.disk_errors > 0);
    assert_eq!(stats.samples, memory.stats().samples, "nothing lost");
    // Once the directory is back, heads close into it again.
    std::fs::create_dir(dir.path()).unwrap();
    let labels = Labels::from_pairs([("__name__", "load"), ("i", "0")]);
    for s in 1800..2400 {
        disk.append(&labels, START + s * 1000, s as f64).unwrap();
    }
    assert!(disk.stats().disk_bytes > 0);
}
