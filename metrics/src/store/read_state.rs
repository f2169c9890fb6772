//! What reads leave in a series for the reads after them: resume points in
//! the chunks that windows start in (see `chunk.rs`), and summaries of the
//! closed chunks that windows cover whole (see `summary.rs`).
//!
//! Both sit in one allocation that a series gets on the first read that
//! leaves either, behind one pointer: most series of a large store are
//! never read with a window, and the pointer costs each 8 bytes where two
//! lists would cost 48. The resume points are held inline in it, so that
//! finding where to resume touches this allocation only, as it touched the
//! list of resume points before.

use std::mem::size_of;

use smallvec::SmallVec;

use super::chunk::{ClosedChunk, ResumePoints};
use crate::{Sample, SamplesSummary};

/// A series keeps resume points for at most this many chunks: the newest
/// ones that reads started in, such as the chunks a rule's `[1m]` and
/// `[5m]` windows start in.
const MAX_RESUME_CHUNKS: usize = 2;

#[derive(Default)]
pub(crate) struct ReadState {
    resume: SmallVec<[ResumePoints; MAX_RESUME_CHUNKS]>,
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
        size_of::<ReadState>() + self.summaries.capacity() * size_of::<ChunkSummary>()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.resume.is_empty() && self.summaries.is_empty()
    }

    /// Index of the resume points for the chunk starting at `chunk_min_t`,
    /// made if there is room or an older chunk's points can give way.
    pub(crate) fn resume_slot(&mut self, chunk_min_t: i64) -> Option<usize> {
        if let Some(i) = self
            .resume
            .iter()
            .position(|r| r.chunk_min_t() == chunk_min_t)
        {
            return Some(i);
        }
        if self.resume.len() < MAX_RESUME_CHUNKS {
            self.resume.push(ResumePoints::new(chunk_min_t));
            return Some(self.resume.len() - 1);
        }
        let (i, oldest) = self
            .resume
            .iter_mut()
            .enumerate()
            .min_by_key(|(_, r)| r.chunk_min_t())?;
        if oldest.chunk_min_t() > chunk_min_t {
            return None;
        }
        *oldest = ResumePoints::new(chunk_min_t);
        Some(i)
    }

    /// The resume points in `slot` (an index from [`ReadState::resume_slot`]
    /// and the chunk it was made for) if they belong to the chunk starting
    /// at `chunk_min_t`.
    pub(crate) fn points(
        &mut self,
        slot: Option<(usize, i64)>,
        chunk_min_t: i64,
    ) -> Option<&mut ResumePoints> {
        match slot {
            Some((i, start)) if start == chunk_min_t => self.resume.get_mut(i),
            _ => None,
        }
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
        let summary = SamplesSummary::of(&scratch[start..], true);
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

    /// Forgets what belongs to chunks starting before `oldest` (dropped).
    pub(crate) fn forget_before(&mut self, oldest: i64) {
        self.resume.retain(|r| r.chunk_min_t() >= oldest);
        self.summaries.retain(|s| s.chunk_min_t >= oldest);
    }
}
