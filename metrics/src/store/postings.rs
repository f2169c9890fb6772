//! One label's postings: for each of its values, the ids of the series
//! carrying it. The values themselves are not stored: each list is keyed
//! by the value's hash, and the value is read back from the labels of
//! the list's first series, which carry it. A label whose values are
//! mostly distinct (a route, a path) then costs a table slot and a short
//! list per value, not also a copy of the value.
//!
//! Two values with one hash are told apart by that read-back: the value
//! that came second goes into a small table keyed by the value itself.
//! The hashes are keyed per process, so a scrape target cannot choose
//! values that collide; if they did, lookups would stay correct.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ids::IdList;
use super::index::{series_by_id, table_slot_bytes};
use super::series::{Series, SeriesId};

#[derive(Default)]
pub(crate) struct ValuePostings {
    /// By the value's hash. The keys are already random, so the table's
    /// own hash only needs to be fast.
    by_hash: FxHashMap<u64, IdList>,
    /// Values whose hash another value held when they were first added.
    collided: HashMap<Box<str>, IdList>,
}

/// Where a label's values are read back from: the labels of the series
/// in `by_id` (all series of the index, ascending by id).
#[derive(Clone, Copy)]
pub(crate) struct Values<'a> {
    pub(crate) name: &'a str,
    pub(crate) by_id: &'a [Arc<Series>],
}

impl<'a> Values<'a> {
    /// The value `list` is for: that of its first series.
    fn of(&self, list: &IdList) -> Option<&'a str> {
        let first = list.iter().next()?;
        series_by_id(self.by_id, first)?.labels.get(self.name)
    }
}

impl ValuePostings {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_hash.is_empty() && self.collided.is_empty()
    }

    /// The ids of the series with `value` (whose hash is `hash`).
    pub(crate) fn get(&self, hash: u64, value: &str, values: Values<'_>) -> Option<&IdList> {
        match self.by_hash.get(&hash) {
            Some(list) if values.of(list) == Some(value) => Some(list),
            _ => self.collided.get(value),
        }
    }

    /// Adds series `id`, larger than any added before, under `value`;
    /// returns the bytes the postings grew by.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        value: &str,
        id: SeriesId,
        values: Values<'_>,
    ) -> usize {
        let holder_is_value = self
            .by_hash
            .get(&hash)
            .map(|list| values.of(list) == Some(value));
        if holder_is_value == Some(true) {
            return self.by_hash.get_mut(&hash).map_or(0, |list| list.push(id));
        }
        // Checked before taking a free hash: the value may have collided
        // with one that has gone since.
        if let Some(list) = self.collided.get_mut(value) {
            return list.push(id);
        }
        let mut list = IdList::default();
        let bytes = list.push(id);
        if holder_is_value.is_none() {
            self.by_hash.insert(hash, list);
            bytes + table_slot_bytes::<(u64, IdList)>()
        } else {
            self.collided.insert(value.into(), list);
            bytes + table_slot_bytes::<(Box<str>, IdList)>() + value.len()
        }
    }

    /// Removes series `id` from `value`'s list while the series is still
    /// in `values.by_id` (the list's value may be read from it); returns
    /// the bytes freed, the list's slot included when it empties.
    pub(crate) fn remove(
        &mut self,
        hash: u64,
        value: &str,
        id: SeriesId,
        values: Values<'_>,
    ) -> usize {
        if let Some(list) = self.by_hash.get_mut(&hash) {
            if values.of(list) == Some(value) {
                let mut bytes = list.remove(id).unwrap_or(0);
                if list.is_empty() {
                    self.by_hash.remove(&hash);
                    bytes += table_slot_bytes::<(u64, IdList)>();
                }
                return bytes;
            }
        }
        let Some(list) = self.collided.get_mut(value) else {
            return 0;
        };
        let mut bytes = list.remove(id).unwrap_or(0);
        if list.is_empty() {
            self.collided.remove(value);
            bytes += table_slot_bytes::<(Box<str>, IdList)>() + value.len();
        }
        bytes
    }

    /// Every value with the ids of its series.
    pub(crate) fn iter<'s>(
        &'s self,
        values: Values<'s>,
    ) -> impl Iterator<Item = (&'s str, &'s IdList)> + 's {
        let hashed = self
            .by_hash
            .values()
            .filter_map(move |list| Some((values.of(list)?, list)));
        hashed.chain(self.collided.iter().map(|(value, list)| (&**value, list)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Labels;

    /// Series 0..n with label `k` set to the given values.
    fn series(values: &[&str]) -> Vec<Arc<Series>> {
        values
            .iter()
            .enumerate()
            .map(|(id, v)| {
                let labels = Labels::from_pairs([("k", *v)]);
                Arc::new(Series::new(id as SeriesId, labels, 0, 0.0))
            })
            .collect()
    }

    fn ids(list: Option<&IdList>) -> Vec<SeriesId> {
        list.map_or_else(Vec::new, |l| l.iter().collect())
    }

    /// Every value given the same hash, as colliding values would be:
    /// each still gets its own series, and the lists empty out cleanly.
    #[test]
    fn values_with_one_hash_keep_their_own_lists() {
        let by_id = series(&["a", "b", "a", "c", "b"]);
        let values = Values {
            name: "k",
            by_id: &by_id,
        };
        let mut postings = ValuePostings::default();
        let mut grown = 0;
        for s in &by_id {
            grown += postings.insert(7, s.labels.get("k").unwrap(), s.id, values);
        }
        assert_eq!(ids(postings.get(7, "a", values)), [0, 2]);
        assert_eq!(ids(postings.get(7, "b", values)), [1, 4]);
        assert_eq!(ids(postings.get(7, "c", values)), [3]);
        assert!(postings.get(7, "d", values).is_none());
        let mut listed: Vec<(&str, Vec<SeriesId>)> = postings
            .iter(values)
            .map(|(v, l)| (v, l.iter().collect()))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [("a", vec![0, 2]), ("b", vec![1, 4]), ("c", vec![3])]
        );

        // "a" holds the hash; once it is gone, "b" (collided) is still found
        // and still added to, not given a second list.
        let freed_a = postings.remove(7, "a", 0, values) + postings.remove(7, "a", 2, values);
        assert!(postings.get(7, "a", values).is_none());
        assert_eq!(ids(postings.get(7, "b", values)), [1, 4]);
        let more_by_id = series(&["a", "b", "a", "c", "b", "b"]);
        let more = Values {
            name: "k",
            by_id: &more_by_id,
        };
        grown += postings.insert(7, "b", 5, more);
        assert_eq!(ids(postings.get(7, "b", more)), [1, 4, 5]);
        let freed_rest: usize = [(1, "b"), (4, "b"), (5, "b"), (3, "c")]
            .iter()
            .map(|&(id, v)| postings.remove(7, v, id, more))
            .sum();
        assert!(postings.is_empty());
        assert_eq!(freed_a + freed_rest, grown);
    }
}
