//! Dropping data: the retention sweep and the memory-cap eviction policy.
//! Both run on the appending thread when due, one at a time; a second
//! writer that finds one running simply skips it.
//!
//! Eviction policy, when `bytes_used` exceeds `max_bytes`, freeing down to
//! 90 % of the cap so that eviction does not run on every append:
//! 1. whole series whose newest sample is a stale marker (their target
//!    stopped exposing them), the longest-stale first;
//! 2. then the oldest closed chunks across all series, which shortens the
//!    history every series keeps by the same amount of time;
//! 3. open head chunks are never evicted; if the cap is still exceeded
//!    (too many live series for the cap), new series are refused with
//!    [`super::AppendError::MemoryCap`] while existing ones keep
//!    appending, their filled chunks becoming evictable in turn.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::series::{Freed, Series};
use super::stats::DropReason;
use super::SeriesStore;
use crate::{is_stale_nan, Sample};

/// How far data time advances between retention sweeps. Chunks span up to
/// 15 minutes, so sweeping more often would rarely free anything.
const SWEEP_INTERVAL_MS: i64 = 60 * 1000;

/// After a pass that could not get under the cap, the next pass waits
/// until usage has grown by this fraction of the cap, so a store full of
/// live data is not rescanned on every append.
const RETRY_GROWTH_DIVISOR: usize = 20;

#[derive(Default)]
pub(crate) struct Housekeeping {
    /// Data time at which the next retention sweep is due.
    next_sweep_t: Option<i64>,
    /// Usage after the last eviction pass that could not get under the cap.
    failed_at_bytes: Option<usize>,
}

impl SeriesStore {
    /// Runs the retention sweep if data time has advanced far enough.
    pub(super) fn expire_if_due(&self) {
        if self.config.retention_ms.is_none() {
            return;
        }
        let Some(mut state) = self.housekeeping.try_lock() else {
            return;
        };
        let now = self.max_t.load(Ordering::Relaxed);
        match state.next_sweep_t {
            Some(due) if now < due => return,
            None => {
                // Nothing can have expired at the first sample.
                state.next_sweep_t = Some(now.saturating_add(SWEEP_INTERVAL_MS));
                return;
            }
            Some(_) => state.next_sweep_t = Some(now.saturating_add(SWEEP_INTERVAL_MS)),
        }
        drop(state);
        self.drop_expired();
    }

    /// Drops chunks and series entirely older than the retention cutoff.
    fn drop_expired(&self) {
        let cutoff = self.retention_cutoff();
        let all = self.index.read().all();
        for series in &all {
            let freed = series.drop_chunks_before(cutoff);
            self.release(freed, DropReason::Retention, false);
        }
        let expired: Vec<Arc<Series>> = all
            .into_iter()
            .filter(|s| s.last_sample().t < cutoff)
            .collect();
        self.remove_series(&expired, |newest| newest.t < cutoff, DropReason::Retention);
        if let Some(files) = &self.files {
            self.release(files.expire_before(cutoff), DropReason::Retention, false);
        }
    }

    /// Evicts per the policy above until usage is under 90 % of the cap.
    pub(super) fn enforce_cap(&self) {
        let Some(max_bytes) = self.config.max_bytes else {
            return;
        };
        let Some(mut state) = self.housekeeping.try_lock() else {
            return;
        };
        let used = self.bytes_used();
        let retry_at = state
            .failed_at_bytes
            .map_or(0, |b| b.saturating_add(max_bytes / RETRY_GROWTH_DIVISOR));
        if used <= max_bytes || used < retry_at {
            return;
        }
        let target = max_bytes - max_bytes / 10;
        let all = self.index.read().all();
        self.evict_stale_series(&all, target);
        if self.bytes_used() > target {
            self.evict_oldest_chunks(&all, target);
        }
        let used = self.bytes_used();
        state.failed_at_bytes = (used > max_bytes).then_some(used);
    }

    fn evict_stale_series(&self, all: &[Arc<Series>], target: usize) {
        let mut stale: Vec<(i64, &Arc<Series>)> = all
            .iter()
            .filter_map(|s| {
                let newest = s.last_sample();
                is_stale_nan(newest.v).then_some((newest.t, s))
            })
            .collect();
        stale.sort_unstable_by_key(|(t, _)| *t);
        // Pick just enough series to get under the target, then remove
        // them under one index lock.
        let mut need = self.bytes_used().saturating_sub(target);
        let mut victims = Vec::new();
        for (_, series) in stale {
            if need == 0 {
                break;
            }
            need = need.saturating_sub(series.fixed_bytes() + series.chunk_bytes());
            victims.push(Arc::clone(series));
        }
        // Still stale at removal: a series revived meanwhile is kept.
        self.remove_series(
            &victims,
            |newest| is_stale_nan(newest.v),
            DropReason::MemoryCap,
        );
    }

    fn evict_oldest_chunks(&self, all: &[Arc<Series>], target: usize) {
        let mut ages: Vec<(i64, usize)> = all.iter().flat_map(|s| s.closed_chunk_ages()).collect();
        ages.sort_unstable_by_key(|(max_t, _)| *max_t);
        let need = self.bytes_used().saturating_sub(target);
        let mut freed = 0;
        let mut cutoff = None;
        for (max_t, bytes) in ages {
            cutoff = Some(max_t);
            freed += bytes;
            if freed >= need {
                break;
            }
        }
        let Some(cutoff) = cutoff else {
            return; // Only open heads are left.
        };
        for series in all {
            let freed = series.drop_chunks_before(cutoff.saturating_add(1));
            self.release(freed, DropReason::MemoryCap, false);
        }
    }

    /// Removes each series for which `condition` still holds on its newest
    /// sample when it is locked for removal.
    fn remove_series(
        &self,
        victims: &[Arc<Series>],
        condition: impl Fn(Sample) -> bool,
        reason: DropReason,
    ) {
        if victims.is_empty() {
            return;
        }
        let mut index = self.index.write();
        for series in victims {
            if let Some(mut freed) = series.remove_if(&condition) {
                freed.bytes += index.remove(series);
                self.release(freed, reason, true);
            }
        }
        drop(index);
        // Kept selections would keep removed series alive.
        let kept_bytes = self.selections.lock().clear();
        self.adjust_bytes(-kept_bytes);
    }

    fn release(&self, freed: Freed, reason: DropReason, series_removed: bool) {
        if freed == Freed::default() && !series_removed {
            return;
        }
        self.bytes.fetch_sub(freed.bytes, Ordering::Relaxed);
        self.counters.dropped(reason, freed, series_removed);
    }
}
