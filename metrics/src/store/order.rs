//! Series in label order, as `select` returns them, without comparing
//! label sets on every query.
//!
//! Sorting a selector's series by their labels compares strings, several
//! per pair, and costs more than reading the samples of a short range.
//! Instead every series carries its rank in the order of all label sets,
//! and a select sorts by that number. Ranks are set for one generation of
//! the index (its set of series): after series are added or removed, the
//! next select sorts by labels as before and then ranks all series anew,
//! sorting outside the index lock and storing the ranks under the write
//! lock only if no series came or went meanwhile. Readers read ranks under
//! the read lock, so they never see a half-written ranking.

use std::sync::Arc;

use super::selections::{selector_key, Selected};
use super::series::Series;
use super::SeriesStore;
use crate::Matcher;

impl SeriesStore {
    /// The series matching `matchers`, ordered by label set: kept from an
    /// earlier select while no series came or went (see `selections.rs`).
    pub(super) fn select_in_label_order(&self, matchers: &[Matcher]) -> Selected {
        let key = selector_key(matchers);
        let generation = self.index.read().generation();
        if let Some(kept) = self.selections.lock().get(generation, &key) {
            return kept;
        }
        let (selected, generation) = self.select_sorted(matchers);
        let selected: Selected = selected.into();
        let bytes_delta = self
            .selections
            .lock()
            .insert(generation, key, Arc::clone(&selected));
        self.adjust_bytes(bytes_delta);
        selected
    }

    /// The series matching `matchers`, sorted by label set, with the
    /// generation of the index they were selected in.
    fn select_sorted(&self, matchers: &[Matcher]) -> (Vec<Arc<Series>>, u64) {
        let (mut ranked, current, generation) = {
            let index = self.index.read();
            let ranked: Vec<(usize, Arc<Series>)> = index
                .select(matchers)
                .into_iter()
                .map(|s| (s.rank(), s))
                .collect();
            (ranked, index.is_ranked(), index.generation())
        };
        if current {
            ranked.sort_unstable_by_key(|(rank, _)| *rank);
            return (ranked.into_iter().map(|(_, s)| s).collect(), generation);
        }
        let mut series: Vec<Arc<Series>> = ranked.into_iter().map(|(_, s)| s).collect();
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        self.rank_series();
        (series, generation)
    }

    /// Ranks all series by label set, unless another reader is at it.
    fn rank_series(&self) {
        let Some(_ranking) = self.ranking.try_lock() else {
            return;
        };
        let (generation, mut all) = {
            let index = self.index.read();
            if index.is_ranked() {
                return;
            }
            (index.generation(), index.all())
        };
        all.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        self.index.write().set_ranks(generation, &all);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

    fn names(store: &SeriesStore) -> Vec<String> {
        store
            .select(&[Matcher::equal("__name__", "m")], 0, i64::MAX)
            .iter()
            .map(|s| s.labels.to_string())
            .collect()
    }

    /// Ranked or not, and as series come and go, selects stay in label
    /// order.
    #[test]
    fn select_is_in_label_order_across_generations() {
        let store = SeriesStore::new(StoreConfig {
            retention_ms: Some(60_000),
            max_bytes: None,
        });
        let add = |i: u32, t: i64| {
            let labels =
                Labels::from_pairs([("__name__", "m".to_string()), ("k", format!("{i:03}"))]);
            store.append(&labels, t, 1.0).unwrap();
            labels.to_string()
        };
        let mut expected: Vec<String> = Vec::new();
        // Insert in an order unlike label order.
        for i in [7, 3, 9, 1, 5, 8, 2, 6, 4, 0] {
            expected.push(add(i, 1));
            expected.sort();
            assert_eq!(names(&store), expected, "first select after adding {i}");
            assert_eq!(names(&store), expected, "ranked select after adding {i}");
        }
        // Two minutes later the retention sweep removes all of those: a
        // removal changes the set of series too.
        expected.clear();
        for i in [17, 13, 19, 11, 15] {
            expected.push(add(i, 120_000));
            expected.sort();
            assert_eq!(names(&store), expected, "first select after adding {i}");
            assert_eq!(names(&store), expected, "ranked select after adding {i}");
        }
    }

    /// A kept selection is counted in the store's bytes, and dropped
    /// (with its bytes) when series are removed, so that it keeps none of
    /// them alive.
    #[test]
    fn kept_selections_are_counted_and_dropped_with_removed_series() {
        let store = SeriesStore::new(StoreConfig {
            retention_ms: Some(60_000),
            max_bytes: None,
        });
        let labels =
            |i: u32| Labels::from_pairs([("__name__", "m".to_string()), ("k", i.to_string())]);
        for i in 0..10 {
            store.append(&labels(i), 1, 1.0).unwrap();
        }
        let before = store.bytes_used();
        assert_eq!(names(&store).len(), 10);
        let kept = store.bytes_used() - before;
        assert!(
            kept >= 10 * std::mem::size_of::<usize>(),
            "{kept} bytes kept"
        );
        assert_eq!(names(&store).len(), 10, "served from what was kept");
        assert_eq!(store.bytes_used() - before, kept, "kept once");
        // Two minutes later the retention sweep removes those ten series.
        store.append(&labels(99), 120_000, 1.0).unwrap();
        assert_eq!(store.stats().series, 1);
        let held = store.selections.lock().clear();
        assert_eq!(held, 0, "nothing kept after the removal");
        assert_eq!(names(&store).len(), 1);
    }
}
