//! The series index: series by label set and by id, and postings (label
//! name and value to the ids of the series carrying them) so that a
//! selector with an equality matcher looks at its own series only.
//! Postings are [`IdList`]s, about a byte an id: a label every series of
//! a target carries (`job`, `instance`) lists all of them. They are keyed
//! by a hash of the label value (see [`ValuePostings`]).

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};

use std::hash::{BuildHasher, Hash, Hasher};
use std::mem::size_of;
use std::sync::Arc;

use super::postings::{ValuePostings, Values};
use super::series::{Series, SeriesId};
use crate::{Labels, Matcher};

/// Lets the label-set table hold the series itself, so label sets are not
/// stored twice: the key hashes and compares as the series' labels.
struct ByLabels(Arc<Series>);

impl Hash for ByLabels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.labels.hash(state);
    }
}

impl PartialEq for ByLabels {
    fn eq(&self, other: &Self) -> bool {
        self.0.labels == other.0.labels
    }
}

impl Eq for ByLabels {}

impl Borrow<Labels> for ByLabels {
    fn borrow(&self) -> &Labels {
        &self.0.labels
    }
}

#[derive(Default)]
pub(crate) struct SeriesIndex {
    by_labels: HashSet<ByLabels>,
    /// Every series, ascending by id: ids are handed out in order, so a
    /// new series is a push. 8 bytes a series where a hash table took
    /// about 19 with its spare room, and a lookup is usually one probe
    /// (see [`SeriesIndex::position_of`]).
    by_id: Vec<Arc<Series>>,
    /// By label name.
    postings: HashMap<String, ValuePostings>,
    /// Keys the hashes of label values the postings are found by: per
    /// process, as the values come from scrape targets.
    value_hasher: RandomState,
    next_id: SeriesId,
    /// Counts insertions and removals.
    generation: u64,
    /// The generation the series' ranks were last set for.
    ranked_generation: Option<u64>,
}

/// Approximate bytes of one hash-table slot: the entry plus its control
/// byte, at the table's typical 7/8 load.
pub(super) fn table_slot_bytes<T>() -> usize {
    (size_of::<T>() + 1) * 8 / 7
}

/// Series `id` in `by_id`, all series ascending by id. A series is at
/// most as far from the first as its id is from the first's, exactly as
/// far when no series between them was removed: that place is tried
/// first, then a binary search before it.
pub(super) fn series_by_id(by_id: &[Arc<Series>], id: SeriesId) -> Option<&Arc<Series>> {
    position_in(by_id, id).map(|i| &by_id[i])
}

fn position_in(by_id: &[Arc<Series>], id: SeriesId) -> Option<usize> {
    let first = by_id.first()?.id;
    let furthest = usize::try_from(id.checked_sub(first)?).ok()?;
    if by_id.get(furthest).is_some_and(|s| s.id == id) {
        return Some(furthest);
    }
    let end = furthest.min(by_id.len());
    by_id[..end].binary_search_by_key(&id, |s| s.id).ok()
}

impl SeriesIndex {
    pub(crate) fn get(&self, labels: &Labels) -> Option<&Arc<Series>> {
        self.by_labels.get(labels).map(|k| &k.0)
    }

    pub(crate) fn get_by_id(&self, id: SeriesId) -> Option<&Arc<Series>> {
        series_by_id(&self.by_id, id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether every series' rank is its position in label order.
    pub(crate) fn is_ranked(&self) -> bool {
        self.ranked_generation == Some(self.generation)
    }

    /// Gives each series of `ordered`, all series of generation
    /// `generation` sorted by labels, its position as rank; does nothing
    /// if series were added or removed since that generation.
    pub(crate) fn set_ranks(&mut self, generation: u64, ordered: &[Arc<Series>]) {
        if generation != self.generation {
            return;
        }
        for (rank, series) in ordered.iter().enumerate() {
            series.set_rank(rank);
        }
        self.ranked_generation = Some(generation);
    }

    /// Creates a series holding its first sample, returning it with the
    /// bytes the index grew by (series struct and labels included).
    pub(crate) fn insert(&mut self, labels: Labels, t: i64, v: f64) -> (Arc<Series>, usize) {
        let id = self.next_id;
        self.next_id += 1;
        self.generation += 1;
        let series = Arc::new(Series::new(id, labels, t, v));
        let mut bytes =
            series.fixed_bytes() + table_slot_bytes::<ByLabels>() + size_of::<Arc<Series>>();
        for label in &series.labels {
            let postings = match self.postings.get_mut(label.name) {
                Some(postings) => postings,
                None => {
                    bytes += table_slot_bytes::<(String, ValuePostings)>() + label.name.len();
                    self.postings.entry(label.name.to_string()).or_default()
                }
            };
            let hash = self.value_hasher.hash_one(label.value);
            let values = Values {
                name: label.name,
                by_id: &self.by_id,
            };
            bytes += postings.insert(hash, label.value, id, values);
        }
        self.by_labels.insert(ByLabels(Arc::clone(&series)));
        self.by_id.push(Arc::clone(&series));
        (series, bytes)
    }

    /// Removes a series, returning the bytes [`SeriesIndex::insert`] counted
    /// for it (postings tables that become empty are freed and counted too).
    pub(crate) fn remove(&mut self, series: &Series) -> usize {
        let Some(position) = position_in(&self.by_id, series.id) else {
            return 0;
        };
        self.generation += 1;
        self.by_labels.remove(&series.labels);
        let mut bytes =
            series.fixed_bytes() + table_slot_bytes::<ByLabels>() + size_of::<Arc<Series>>();
        // Postings first: a list's value is read from its first series,
        // which may be this one.
        for label in &series.labels {
            let Some(postings) = self.postings.get_mut(label.name) else {
                continue;
            };
            let hash = self.value_hasher.hash_one(label.value);
            let values = Values {
                name: label.name,
                by_id: &self.by_id,
            };
            bytes += postings.remove(hash, label.value, series.id, values);
            if postings.is_empty() {
                self.postings.remove(label.name);
                bytes += table_slot_bytes::<(String, ValuePostings)>() + label.name.len();
            }
        }
        self.by_id.remove(position);
        bytes
    }

    pub(crate) fn all(&self) -> Vec<Arc<Series>> {
        self.by_id.clone()
    }

    /// The series matching every matcher. Matchers that cannot match an
    /// absent label narrow the candidates through postings, which answer
    /// them exactly; the rest are checked on the candidates only.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Vec<Arc<Series>> {
        let (mut narrowing, checked): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| !m.matches_value(""));
        // Equality matchers first: they are one lookup and usually narrowest.
        narrowing.sort_by_key(|m| !matches!(m.op, crate::MatchOp::Equal(_)));
        let mut candidates: Option<Vec<SeriesId>> = None;
        for matcher in narrowing {
            let ids = self.postings_for(matcher);
            let narrowed = match candidates {
                None => ids,
                Some(current) => intersect_sorted(&current, &ids),
            };
            let none_left = narrowed.is_empty();
            candidates = Some(narrowed);
            if none_left {
                break;
            }
        }
        let keep = |s: &&Arc<Series>| checked.iter().all(|m| m.matches(&s.labels));
        match candidates {
            Some(ids) => ids
                .iter()
                .filter_map(|&id| self.get_by_id(id))
                .filter(keep)
                .cloned()
                .collect(),
            None => self.by_id.iter().filter(keep).cloned().collect(),
        }
    }

    /// Ids of the series whose value for the matcher's label matches it,
    /// ascending.
    fn postings_for(&self, matcher: &Matcher) -> Vec<SeriesId> {
        let Some(postings) = self.postings.get(matcher.name.as_str()) else {
            return Vec::new();
        };
        let values = Values {
            name: &matcher.name,
            by_id: &self.by_id,
        };
        if let crate::MatchOp::Equal(value) = &matcher.op {
            let hash = self.value_hasher.hash_one(value.as_str());
            return postings
                .get(hash, value, values)
                .map_or_else(Vec::new, |list| list.iter().collect());
        }
        let mut ids: Vec<SeriesId> = postings
            .iter(values)
            .filter(|(value, _)| matcher.matches_value(value))
            .flat_map(|(_, list)| list.iter())
            .collect();
        ids.sort_unstable();
        ids
    }
}

fn intersect_sorted(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(label_sets: &[&[(&str, &str)]]) -> SeriesIndex {
        let mut index = SeriesIndex::default();
        for (i, pairs) in label_sets.iter().enumerate() {
            index.insert(Labels::from_pairs(pairs.iter().copied()), i as i64, 0.0);
        }
        index
    }

    fn names(series: &[Arc<Series>]) -> Vec<String> {
        let mut out: Vec<String> = series.iter().map(|s| s.labels.to_string()).collect();
        out.sort();
        out
    }

    #[test]
    fn select_uses_postings_and_checks_every_matcher() {
        let index = index_with(&[
            &[("__name__", "up"), ("job", "a")],
            &[("__name__", "up"), ("job", "b")],
            &[("__name__", "down"), ("job", "a")],
            &[("__name__", "up")],
        ]);
        let up_a = index.select(&[Matcher::equal("__name__", "up"), Matcher::equal("job", "a")]);
        assert_eq!(names(&up_a), [r#"up{job="a"}"#]);
        let up_without_job =
            index.select(&[Matcher::equal("__name__", "up"), Matcher::equal("job", "")]);
        assert_eq!(names(&up_without_job), ["up"]);
        let regex = index.select(&[Matcher::regex("job", "a|b").unwrap()]);
        assert_eq!(regex.len(), 3);
        assert!(index
            .select(&[Matcher::equal("__name__", "nope")])
            .is_empty());
    }

    #[test]
    fn series_are_found_by_id_after_removals() {
        let mut index = SeriesIndex::default();
        let series: Vec<Arc<Series>> = (0..10)
            .map(|i| {
                index
                    .insert(Labels::from_pairs([("k", format!("{i}"))]), 0, 0.0)
                    .0
            })
            .collect();
        let removed = [0, 3, 4, 9];
        for i in removed {
            index.remove(&series[i]);
        }
        for (i, s) in series.iter().enumerate() {
            let found = index.get_by_id(s.id).map(|f| f.id);
            let expected = (!removed.contains(&i)).then_some(s.id);
            assert_eq!(found, expected, "series {i}");
        }
        assert!(index.get_by_id(series[9].id + 1).is_none());
        assert_eq!(index.len(), 6);
    }

    #[test]
    fn remove_gives_back_what_insert_counted() {
        let mut index = SeriesIndex::default();
        let (first, first_bytes) = index.insert(
            Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            0,
            1.0,
        );
        let (second, second_bytes) = index.insert(
            Labels::from_pairs([("__name__", "up"), ("job", "b")]),
            0,
            1.0,
        );
        assert!(
            second_bytes < first_bytes,
            "shared postings are counted once"
        );
        assert_eq!(index.remove(&second), second_bytes);
        assert_eq!(index.remove(&first), first_bytes);
        assert_eq!(index.remove(&first), 0, "removing twice frees nothing");
        assert!(index.postings.is_empty());
    }
}
