//! The closed chunks of one series, oldest first: in memory, with the
//! newest held inline in the series rather than in the list of the older
//! ones, or in the store's chunk files, reached through the newest.
//!
//! Nearly every read is a short window at the end of a series (a rule's
//! `[5m]`), which starts in the head or in the newest closed chunk. With
//! that chunk inline, such a read finds it in the series' own memory and
//! does not touch the list: one cache miss fewer per series, on reads
//! that are mostly cache misses.

use std::collections::VecDeque;
use std::mem::size_of;

use super::chunk::{ClosedChunk, HeadChunk};
use super::disk::{ChunkFiles, DiskChunk};

#[derive(Debug)]
pub(crate) enum ClosedChunks {
    /// A store without chunk files.
    InMemory {
        /// All but the newest, oldest first.
        older: VecDeque<ClosedChunk>,
        /// `None` only when there are no closed chunks at all.
        newest: Option<ClosedChunk>,
    },
    /// In the store's chunk files, reached through the newest. One enum
    /// rather than a field for each: the disk's takes the room of the
    /// memory's, so that a series stays within 232 bytes.
    OnDisk(Option<DiskChunk>),
}

impl Default for ClosedChunks {
    fn default() -> Self {
        ClosedChunks::InMemory {
            older: VecDeque::new(),
            newest: None,
        }
    }
}

/// Why a closed chunk could not be stored: writing it to the chunk files
/// failed. The caller keeps it (in its open head) instead of losing it.
pub(crate) struct NotWritten;

/// The chunks in memory of a series that keeps them on disk.
static NONE_IN_MEMORY: VecDeque<ClosedChunk> = VecDeque::new();

impl ClosedChunks {
    /// The chunks in memory: the older ones and the newest.
    fn in_memory(&self) -> (&VecDeque<ClosedChunk>, Option<&ClosedChunk>) {
        match self {
            ClosedChunks::InMemory { older, newest } => (older, newest.as_ref()),
            ClosedChunks::OnDisk(_) => (&NONE_IN_MEMORY, None),
        }
    }

    /// Chunks held in memory.
    pub(crate) fn len(&self) -> usize {
        let (older, newest) = self.in_memory();
        older.len() + usize::from(newest.is_some())
    }

    /// Heap bytes of the list of older chunks (not of their data, which
    /// [`ClosedChunk::heap_bytes`] counts).
    pub(crate) fn list_bytes(&self) -> usize {
        self.in_memory().0.capacity() * size_of::<ClosedChunk>()
    }

    /// Keeps the full `head` as a closed chunk, a copy in memory or,
    /// given chunk files, written to them straight from the head's
    /// buffer; returns the heap bytes it holds here. A series' chunks are
    /// all in one place: files are given to every push of a store, or to
    /// none.
    pub(crate) fn push(
        &mut self,
        head: &HeadChunk,
        files: Option<&ChunkFiles>,
    ) -> Result<usize, NotWritten> {
        match (self, files) {
            (ClosedChunks::InMemory { older, newest }, None) => {
                let chunk = head.freeze();
                let bytes = chunk.heap_bytes();
                if let Some(previous) = newest.replace(chunk) {
                    older.push_back(previous);
                }
                Ok(bytes)
            }
            (closed, Some(files)) => {
                let previous = match closed {
                    ClosedChunks::OnDisk(previous) => previous.as_ref(),
                    ClosedChunks::InMemory { .. } => None,
                };
                let written = files.write(head, previous).map_err(|_| NotWritten)?;
                *closed = ClosedChunks::OnDisk(Some(written));
                Ok(0)
            }
            (ClosedChunks::OnDisk(_), None) => Err(NotWritten),
        }
    }

    /// The oldest chunk in memory.
    pub(crate) fn front(&self) -> Option<&ClosedChunk> {
        let (older, newest) = self.in_memory();
        older.front().or(newest)
    }

    pub(crate) fn pop_front(&mut self) -> Option<ClosedChunk> {
        match self {
            ClosedChunks::InMemory { older, newest } => older.pop_front().or_else(|| newest.take()),
            ClosedChunks::OnDisk(_) => None,
        }
    }

    pub(crate) fn newest_in_memory(&self) -> Option<&ClosedChunk> {
        self.in_memory().1
    }

    /// Forgets the chunks on disk if even the newest ends before `cutoff`
    /// (their segments are deleted on their own); returns whether any are
    /// left.
    pub(crate) fn forget_disk_before(&mut self, cutoff: i64) -> bool {
        match self {
            ClosedChunks::OnDisk(newest) => {
                if newest.is_some_and(|c| c.max_t < cutoff) {
                    *newest = None;
                }
                newest.is_some()
            }
            ClosedChunks::InMemory { .. } => false,
        }
    }

    /// The chunks in memory, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ClosedChunk> {
        let (older, newest) = self.in_memory();
        older.iter().chain(newest)
    }

    /// Appends the chunks on disk that hold samples in `[mint, maxt]` to
    /// `out`, oldest first; none without chunk files.
    pub(crate) fn read_from_disk(
        &self,
        files: Option<&ChunkFiles>,
        range: (i64, i64),
        out: &mut Vec<ClosedChunk>,
    ) {
        if let (ClosedChunks::OnDisk(Some(newest)), Some(files)) = (self, files) {
            files.read_overlapping(newest, range, out);
        }
    }

    /// The chunks in memory holding samples in `[mint, maxt]`, oldest
    /// first. The list of older chunks is looked at only when `mint` is
    /// before the newest chunk's start. Always inlined: every read calls
    /// it, and whether the compiler inlines a plain `#[inline]` changed
    /// with unrelated edits of the read (1.6 M instructions a batch).
    #[inline(always)]
    pub(crate) fn overlapping(
        &self,
        mint: i64,
        maxt: i64,
    ) -> impl Iterator<Item = &ClosedChunk> + Clone {
        let (older, newest) = self.in_memory();
        let starts_in_newest = newest.is_some_and(|c| c.min_t <= mint);
        let older = if starts_in_newest {
            older.range(older.len()..)
        } else {
            // In time order: the first that ends at or after `mint` is
            // found by halving rather than by looking at every chunk.
            let first = older.partition_point(|c| c.max_t < mint);
            older.range(first..)
        };
        older
            .chain(newest)
            .skip_while(move |c| c.max_t < mint)
            .take_while(move |c| c.min_t <= maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::chunk::HeadChunk;

    /// A full head of samples at `ts`.
    fn chunk(ts: &[i64]) -> HeadChunk {
        let mut head = HeadChunk::new(ts[0], 1.0);
        for &t in &ts[1..] {
            head.append(t, 1.0);
        }
        head
    }

    fn starts<'a>(chunks: impl Iterator<Item = &'a ClosedChunk>) -> Vec<i64> {
        chunks.map(|c| c.min_t).collect()
    }

    #[test]
    fn overlapping_is_every_chunk_touching_the_range_in_order() {
        let mut closed = ClosedChunks::default();
        assert_eq!(
            starts(closed.overlapping(i64::MIN, i64::MAX)),
            Vec::<i64>::new()
        );
        for start in [0, 100, 200, 300] {
            closed.push(&chunk(&[start, start + 50]), None).ok();
        }
        assert_eq!(closed.len(), 4);
        assert_eq!(starts(closed.iter()), [0, 100, 200, 300]);
        assert_eq!(
            starts(closed.overlapping(i64::MIN, i64::MAX)),
            [0, 100, 200, 300]
        );
        assert_eq!(starts(closed.overlapping(310, 400)), [300], "newest only");
        assert_eq!(starts(closed.overlapping(351, 400)), Vec::<i64>::new());
        assert_eq!(
            starts(closed.overlapping(260, 400)),
            [300],
            "in the gap before it"
        );
        assert_eq!(starts(closed.overlapping(150, 250)), [100, 200]);
        assert_eq!(starts(closed.overlapping(0, 0)), [0]);
        assert_eq!(starts(closed.overlapping(60, 90)), Vec::<i64>::new());
        assert_eq!(closed.pop_front().map(|c| c.min_t), Some(0));
        assert_eq!(closed.front().map(|c| c.min_t), Some(100));
        closed.pop_front();
        closed.pop_front();
        assert_eq!(
            closed.front().map(|c| c.min_t),
            Some(300),
            "the newest is the last left"
        );
        closed.pop_front();
        assert_eq!(closed.len(), 0);
        assert!(closed.pop_front().is_none());
    }
}
