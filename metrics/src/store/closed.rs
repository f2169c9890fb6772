//! The closed chunks of one series, oldest first, with the newest held
//! inline in the series rather than in the list of the older ones.
//!
//! Nearly every read is a short window at the end of a series (a rule's
//! `[5m]`), which starts in the head or in the newest closed chunk. With
//! that chunk inline, such a read finds it in the series' own memory and
//! does not touch the list: one cache miss fewer per series, on reads
//! that are mostly cache misses.

use std::collections::VecDeque;
use std::mem::size_of;

use super::chunk::ClosedChunk;

#[derive(Debug, Default)]
pub(crate) struct ClosedChunks {
    /// All but the newest, oldest first.
    older: VecDeque<ClosedChunk>,
    /// `None` only when there are no closed chunks at all.
    newest: Option<ClosedChunk>,
}

impl ClosedChunks {
    pub(crate) fn len(&self) -> usize {
        self.older.len() + usize::from(self.newest.is_some())
    }

    /// Heap bytes of the list of older chunks (not of their data, which
    /// [`ClosedChunk::heap_bytes`] counts).
    pub(crate) fn list_bytes(&self) -> usize {
        self.older.capacity() * size_of::<ClosedChunk>()
    }

    pub(crate) fn push(&mut self, chunk: ClosedChunk) {
        if let Some(previous) = self.newest.replace(chunk) {
            self.older.push_back(previous);
        }
    }

    pub(crate) fn front(&self) -> Option<&ClosedChunk> {
        self.older.front().or(self.newest.as_ref())
    }

    pub(crate) fn pop_front(&mut self) -> Option<ClosedChunk> {
        self.older.pop_front().or_else(|| self.newest.take())
    }

    pub(crate) fn newest(&self) -> Option<&ClosedChunk> {
        self.newest.as_ref()
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ClosedChunk> {
        self.older.iter().chain(&self.newest)
    }

    /// The chunks holding samples in `[mint, maxt]`, oldest first. The
    /// list of older chunks is looked at only when `mint` is before the
    /// newest chunk's start. Always inlined: every read calls it, and
    /// whether the compiler inlines a plain `#[inline]` changed with
    /// unrelated edits of the read (1.6 M instructions a batch).
    #[inline(always)]
    pub(crate) fn overlapping(
        &self,
        mint: i64,
        maxt: i64,
    ) -> impl Iterator<Item = &ClosedChunk> + Clone {
        let starts_in_newest = self.newest.as_ref().is_some_and(|c| c.min_t <= mint);
        let older = if starts_in_newest {
            self.older.range(self.older.len()..)
        } else {
            // In time order: the first that ends at or after `mint` is
            // found by halving rather than by looking at every chunk.
            let first = self.older.partition_point(|c| c.max_t < mint);
            self.older.range(first..)
        };
        older
            .chain(&self.newest)
            .skip_while(move |c| c.max_t < mint)
            .take_while(move |c| c.min_t <= maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::chunk::HeadChunk;

    /// A closed chunk of samples at `ts`.
    fn chunk(ts: &[i64]) -> ClosedChunk {
        let mut head = HeadChunk::new(ts[0], 1.0);
        for &t in &ts[1..] {
            head.append(t, 1.0);
        }
        head.freeze()
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
            closed.push(chunk(&[start, start + 50]));
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
