//! Counters the store keeps about itself, for the agent to export.

use std::sync::atomic::{AtomicU64, Ordering};

use super::series::Freed;

/// A point-in-time view of the store's size and of what it dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Series currently stored.
    pub series: usize,
    /// Samples currently stored, stale markers included.
    pub samples: u64,
    /// Same as [`super::SeriesStore::bytes_used`].
    pub bytes_used: usize,
    /// Chunks, samples and series dropped because they fell out of the
    /// retention window.
    pub expired_chunks: u64,
    pub expired_samples: u64,
    pub expired_series: u64,
    /// Chunks, samples and series dropped to stay under the memory cap.
    pub evicted_chunks: u64,
    pub evicted_samples: u64,
    pub evicted_series: u64,
    /// New series refused because the cap was reached with nothing left to
    /// evict.
    pub rejected_series: u64,
    /// Bytes of the chunk files, for a store with a chunk directory.
    pub disk_bytes: u64,
    /// Chunk file writes and reads that failed. A chunk that could not be
    /// written stays in memory; a read that failed returns the samples
    /// after the chunk it could not read.
    pub disk_errors: u64,
}

/// Why data left the store.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DropReason {
    Retention,
    MemoryCap,
}

#[derive(Default)]
pub(crate) struct Counters {
    samples: AtomicU64,
    expired_chunks: AtomicU64,
    expired_samples: AtomicU64,
    expired_series: AtomicU64,
    evicted_chunks: AtomicU64,
    evicted_samples: AtomicU64,
    evicted_series: AtomicU64,
    rejected_series: AtomicU64,
}

impl Counters {
    pub(crate) fn samples_added(&self, n: u64) {
        self.samples.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn series_rejected(&self) {
        self.rejected_series.fetch_add(1, Ordering::Relaxed);
    }

    /// Records dropped chunks; `series_removed` says whether they were a
    /// whole series.
    pub(crate) fn dropped(&self, reason: DropReason, freed: Freed, series_removed: bool) {
        self.samples.fetch_sub(freed.samples, Ordering::Relaxed);
        let (chunks, samples, series) = match reason {
            DropReason::Retention => (
                &self.expired_chunks,
                &self.expired_samples,
                &self.expired_series,
            ),
            DropReason::MemoryCap => (
                &self.evicted_chunks,
                &self.evicted_samples,
                &self.evicted_series,
            ),
        };
        chunks.fetch_add(freed.chunks, Ordering::Relaxed);
        samples.fetch_add(freed.samples, Ordering::Relaxed);
        if series_removed {
            series.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, series: usize, bytes_used: usize) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            series,
            samples: get(&self.samples),
            bytes_used,
            expired_chunks: get(&self.expired_chunks),
            expired_samples: get(&self.expired_samples),
            expired_series: get(&self.expired_series),
            evicted_chunks: get(&self.evicted_chunks),
            evicted_samples: get(&self.evicted_samples),
            evicted_series: get(&self.evicted_series),
            rejected_series: get(&self.rejected_series),
            disk_bytes: 0,
            disk_errors: 0,
        }
    }
}
