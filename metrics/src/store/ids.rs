//! Ascending series ids in about a byte each. Ids are handed out in
//! order, so the lists the index keeps per label value (postings) and
//! the scrape sources keep per target are mostly runs of small steps:
//! each id is stored as the LEB128 of its difference from the one before
//! (the first as is), one byte for a step below 128, instead of eight.
//! Reading a list decodes it, about a nanosecond an id.

use super::series::SeriesId;

#[derive(Default, Debug, Clone, PartialEq)]
pub(crate) struct IdList {
    /// The largest id, so that a push need not decode; 0 when empty.
    last: SeriesId,
    /// The first id, then each id's difference from the one before.
    bytes: Vec<u8>,
}

impl IdList {
    /// A list of `ids`, which must be ascending.
    pub(crate) fn from_ascending(ids: &[SeriesId]) -> Self {
        let mut list = IdList::default();
        for &id in ids {
            list.push(id);
        }
        list.bytes.shrink_to_fit();
        list
    }

    /// Appends `id`, which must be larger than every id in the list.
    /// Returns the bytes the list grew by.
    pub(crate) fn push(&mut self, id: SeriesId) -> usize {
        debug_assert!(self.is_empty() || id > self.last, "ids must ascend");
        let step = if self.is_empty() { id } else { id - self.last };
        self.last = id;
        write_leb128(&mut self.bytes, step)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes of the encoded ids (not of the buffer's spare capacity).
    pub(crate) fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn iter(&self) -> Ids<'_> {
        Ids {
            bytes: &self.bytes,
            previous: 0,
        }
    }

    /// Removes `id`; returns the bytes the list shrank by, or `None` if
    /// it did not hold `id`. The steps before and after it become one
    /// step, whose encoding is never longer than theirs together.
    pub(crate) fn remove(&mut self, id: SeriesId) -> Option<usize> {
        let mut position = 0;
        let mut previous = 0;
        while position < self.bytes.len() {
            let (step, step_len) = read_leb128(&self.bytes[position..]);
            let current = previous + step;
            if current > id {
                return None;
            }
            if current < id {
                position += step_len;
                previous = current;
                continue;
            }
            let after = position + step_len;
            let len_before = self.bytes.len();
            if after == self.bytes.len() {
                // The last id: the one before it becomes the last.
                self.bytes.truncate(position);
                self.last = previous;
            } else {
                let (next_step, next_len) = read_leb128(&self.bytes[after..]);
                let mut merged = Vec::with_capacity(MAX_LEB128_BYTES);
                write_leb128(&mut merged, step + next_step);
                self.bytes.splice(position..after + next_len, merged);
            }
            if self.bytes.is_empty() {
                self.last = 0;
            }
            self.shrink_if_sparse();
            return Some(len_before - self.bytes.len());
        }
        None
    }

    /// Gives back the buffer's capacity once it is more than twice what
    /// the ids need, so that a list that shrank does not keep its peak.
    fn shrink_if_sparse(&mut self) {
        if self.bytes.capacity() > 2 * self.bytes.len().max(8) {
            self.bytes.shrink_to_fit();
        }
    }
}

/// The ids of an [`IdList`], ascending.
pub(crate) struct Ids<'a> {
    bytes: &'a [u8],
    previous: SeriesId,
}

impl Iterator for Ids<'_> {
    type Item = SeriesId;

    fn next(&mut self) -> Option<SeriesId> {
        if self.bytes.is_empty() {
            return None;
        }
        let (step, len) = read_leb128(self.bytes);
        self.bytes = &self.bytes[len..];
        self.previous += step;
        Some(self.previous)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // At least one byte an id, at most ten.
        (
            self.bytes.len().div_ceil(MAX_LEB128_BYTES),
            Some(self.bytes.len()),
        )
    }
}

const MAX_LEB128_BYTES: usize = 10;

/// Appends `value` as LEB128; returns the bytes written.
fn write_leb128(out: &mut Vec<u8>, mut value: u64) -> usize {
    let start = out.len();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out.len() - start;
        }
        out.push(low | 0x80);
    }
}

/// The LEB128 value at the start of `bytes`, with its length. Lists are
/// only written by [`write_leb128`], so a value always ends in the slice.
fn read_leb128(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn steps_below_128_take_a_byte() {
        let ids: Vec<SeriesId> = (1000..2000).collect();
        let list = IdList::from_ascending(&ids);
        assert_eq!(list.encoded_len(), 2 + 999);
        assert!(list.iter().eq(ids.iter().copied()));
    }

    #[test]
    fn removing_gives_back_the_bytes_and_keeps_the_rest() {
        let mut list = IdList::default();
        let grown: usize = [3, 200, 201, 100_000].map(|id| list.push(id)).iter().sum();
        assert_eq!(list.remove(7), None);
        assert_eq!(list.remove(100_001), None);
        let freed: usize = [201, 3, 100_000, 200]
            .map(|id| list.remove(id).unwrap())
            .iter()
            .sum();
        assert_eq!(freed, grown);
        assert!(list.is_empty());
        assert_eq!(list.push(5), 1, "an emptied list starts afresh");
        assert!(list.iter().eq([5]));
    }

    proptest! {
        /// Any ascending ids, any of them removed: the list holds exactly
        /// the others, and its bytes are what pushes and removals reported.
        #[test]
        fn behaves_as_a_sorted_vec(
            steps in proptest::collection::vec(1u64..100_000, 0..200),
            remove_mask in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let ids: Vec<SeriesId> = steps.iter().scan(0, |id, step| { *id += step; Some(*id) }).collect();
            let mut list = IdList::default();
            let mut size = 0;
            for &id in &ids {
                size += list.push(id);
            }
            let mut kept = Vec::new();
            for (i, &id) in ids.iter().enumerate() {
                if remove_mask[i] {
                    size -= list.remove(id).unwrap();
                } else {
                    kept.push(id);
                }
            }
            prop_assert!(list.iter().eq(kept.iter().copied()));
            prop_assert_eq!(list.encoded_len(), size);
            prop_assert_eq!(list, IdList::from_ascending(&kept));
        }
    }
}
