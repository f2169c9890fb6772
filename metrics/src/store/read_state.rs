//! What reads leave in a series for the reads after them: resume points in
//! the chunks that windows start in (see `chunk.rs`), the extremes by
//! blocks of such a chunk (see `suffix.rs`), and summaries of the closed
//! chunks that windows cover whole (see `summary.rs`).
//!
//! Resume points and summaries sit in one allocation that a series gets
//! on the first read that leaves either, behind one pointer: most series
//! of a large store are never read with a window, and the pointer costs
//! each 8 bytes where two lists would cost 48. The resume points are held
//! inline in it, so that finding where to resume touches this allocation
//! only, as it touched the list of resume points before. The extremes by
//! blocks, which only `min_` and `max_over_time` make, have an allocation
//! of their own.

use std::mem::size_of;

use super::chunk::{ClosedChunk, ResumePoints};
use super::series::expected_in;
use super::suffix::SuffixExtremes;
use crate::summary::Sums;
use crate::{Sample, SamplesSummary};

/// What reads left in one series.
#[derive(Default)]
pub(crate) struct ReadState {
    /// Resume points in one chunk: the newest that a read started in,
    /// such as the chunk a rule's `[2m]` window starts in. One chunk's
    /// points rather than two cost the 50-alert batch 0.2 % more
    /// instructions and a rule's series 0.5 KiB less each.
    resume: Option<ResumePoints>,
    /// The extremes by blocks of the closed chunk that `min_` or
    /// `max_over_time`'s window last started in: made by decoding the
    /// chunk once, and kept for the next evaluations.
    suffix: Option<Box<SuffixExtremes>>,
    /// Oldest first. Made by the first read that covers a chunk whole and
    /// kept while the chunk is: a closed chunk never changes, and a rule
    /// reads the same long window at every evaluation.
    summaries: Vec<ChunkSummary>,
}

/// The summary of the closed chunk starting at `chunk_min_t`; `None` when
/// it holds only stale markers.
struct ChunkSummary {
    chunk_min_t: i64,
    summary: Option<SamplesSummary>,
}

impl ReadState {
    /// Bytes of the allocation and of the list of summaries.
    pub(crate) fn heap_bytes(&self) -> usize {
        size_of::<ReadState>()
            + self.summaries.capacity() * size_of::<ChunkSummary>()
            + self
                .suffix
                .as_ref()
                .map_or(0, |_| size_of::<SuffixExtremes>())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.resume.is_none() && self.suffix.is_none() && self.summaries.is_empty()
    }

    /// Makes room for resume points in the chunk starting at
    /// `chunk_min_t`, unless those of a newer chunk hold it; returns
    /// whether the chunk has its points here.
    pub(crate) fn keep_points_for(&mut self, chunk_min_t: i64) -> bool {
        match &self.resume {
            Some(r) if r.chunk_min_t() >= chunk_min_t => r.chunk_min_t() == chunk_min_t,
            _ => {
                self.resume = Some(ResumePoints::new(chunk_min_t));
                true
            }
        }
    }

    /// The resume points of the chunk starting at `chunk_min_t`, if kept.
    pub(crate) fn points(&mut self, chunk_min_t: i64) -> Option<&mut ResumePoints> {
        self.resume
            .as_mut()
            .filter(|r| r.chunk_min_t() == chunk_min_t)
    }

    /// The summary of a closed chunk, made (by decoding the chunk into the
    /// spare room of `scratch`) and kept if it is not there yet.
    pub(crate) fn summary(
        &mut self,
        chunk: &ClosedChunk,
        scratch: &mut Vec<Sample>,
    ) -> Option<SamplesSummary> {
        // Chunks are summarised in time order, mostly the newest last.
        let at = self
            .summaries
            .partition_point(|s| s.chunk_min_t < chunk.min_t);
        if let Some(known) = self
            .summaries
            .get(at)
            .filter(|s| s.chunk_min_t == chunk.min_t)
        {
            return known.summary;
        }
        let start = scratch.len();
        chunk.extend_between((i64::MIN, i64::MAX), scratch, None);
        let summary = SamplesSummary::of(&scratch[start..], Sums::All);
        scratch.truncate(start);
        // One chunk is closed at a time: room for one more, not double.
        self.summaries.reserve_exact(1);
        self.summaries.insert(
            at,
            ChunkSummary {
                chunk_min_t: chunk.min_t,
                summary,
            },
        );
        summary
    }

    /// The summary, with fit sums, of a closed chunk's samples from `mint`
    /// on, worked out from the chunk's whole summary less that of the
    /// samples before `mint` (see `SamplesSummary::without`), when those
    /// are fewer than the ones after it and the chunk holds no NaN: a long
    /// window starts near a chunk's start as often as near its end. `None`
    /// where the window is to be decoded.
    pub(crate) fn summary_less_before(
        &mut self,
        chunk: &ClosedChunk,
        mint: i64,
        scratch: &mut Vec<Sample>,
    ) -> Option<SamplesSummary> {
        let count = chunk.count as usize;
        let before = expected_in((chunk.min_t, mint - 1), chunk.min_t, chunk.max_t, count);
        if 2 * before > count {
            return None;
        }
        let whole = self.summary(chunk, scratch)?;
        // The kept summary tells whether the chunk holds a NaN: a stale
        // marker is left out of its count, any other NaN is in its
        // extremes. No need to decode the chunk for its totals as well.
        let no_nan = whole.count == chunk.count && whole.extremes.is_some_and(|e| !e.has_nan);
        if !no_nan {
            return None;
        }
        let start = scratch.len();
        let first = chunk.split_at(mint, scratch);
        let cut = SamplesSummary::of(&scratch[start..], Sums::Fit);
        scratch.truncate(start);
        whole.without(&cut?, first?)
    }

    /// The summary, with extremes, of a closed chunk's samples from `mint`
    /// on, for a chunk that keeps its resume points here (`Some(None)`: no
    /// sample is from `mint` on): from the chunk's totals and its
    /// extremes by blocks, made (by decoding the chunk into the spare room
    /// of `scratch`) and kept if they are not here yet. `None` where the
    /// chunk holds a NaN (a stale marker included) and is to be decoded.
    pub(crate) fn summary_with_extremes(
        &mut self,
        chunk: &ClosedChunk,
        mint: i64,
        scratch: &mut Vec<Sample>,
    ) -> Option<Option<SamplesSummary>> {
        let points = self
            .resume
            .as_mut()
            .filter(|r| r.chunk_min_t() == chunk.min_t)?;
        let end = chunk.end(points);
        if !end.usable() {
            return None;
        }
        if self
            .suffix
            .as_ref()
            .is_none_or(|s| s.chunk_min_t() != chunk.min_t)
        {
            let start = scratch.len();
            chunk.extend_between((i64::MIN, i64::MAX), scratch, None);
            let made = SuffixExtremes::of(chunk.min_t, &scratch[start..]);
            scratch.truncate(start);
            match (&mut self.suffix, made) {
                (Some(kept), Some(made)) => **kept = made,
                (kept, made) => *kept = made.map(Box::new),
            }
        }
        let suffix = self.suffix.as_deref()?;
        Some(chunk.summary_with_extremes(mint, points, (&end, suffix)))
    }

    /// Forgets what belongs to chunks starting before `oldest` (dropped).
    pub(crate) fn forget_before(&mut self, oldest: i64) {
        if self
            .resume
            .as_ref()
            .is_some_and(|r| r.chunk_min_t() < oldest)
        {
            self.resume = None;
        }
        if self
            .suffix
            .as_ref()
            .is_some_and(|s| s.chunk_min_t() < oldest)
        {
            self.suffix = None;
        }
        self.summaries.retain(|s| s.chunk_min_t >= oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_read_state_fits_glibcs_336_byte_chunk() {
        // A rule's window leaves one in each series it reads: thousands.
        // 160 of the bytes are running totals (the chunk's, and each resume
        // point's), which spare a rule's `rate` or `avg_over_time`
        // decoding its window.
        assert!(size_of::<ReadState>() <= 328, "{}", size_of::<ReadState>());
    }

    #[test]
    fn points_are_kept_for_the_newest_chunk_a_read_starts_in() {
        let mut state = ReadState::default();
        assert!(state.keep_points_for(100));
        assert!(state.points(100).is_some());
        assert!(
            !state.keep_points_for(50),
            "an older chunk does not take them"
        );
        assert!(state.points(50).is_none());
        assert!(state.keep_points_for(200), "a newer one does");
        assert!(state.points(100).is_none());
        state.forget_before(300);
        assert!(state.is_empty());
    }
}
