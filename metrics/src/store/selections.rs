//! The series each selector matched, in label order, kept until the set
//! of series changes.
//!
//! Rules and dashboards run the same selectors every evaluation, while the
//! set of series of a steady fleet rarely changes. Selecting anew walks
//! postings, intersects them, sorts by rank and takes a reference to every
//! series (an atomic increment each, and a decrement when dropped): 6 % of
//! the PromQL batch's instructions. A kept selection is one lookup and one
//! reference to a shared list.
//!
//! Selections belong to one generation of the index: the first lookup or
//! insertion for a newer generation clears them, and removing a series
//! clears them at once, so that no list keeps a removed series alive.
//! They are bounded by the references they hold, and counted in the
//! store's bytes.

use std::collections::HashMap;
use std::fmt::Write;
use std::mem::size_of;
use std::sync::Arc;

use super::series::Series;
use crate::{MatchOp, Matcher};

/// The series of one selection, in label order.
pub(crate) type Selected = Arc<[Arc<Series>]>;

/// At most this many series references are kept over all selections
/// (512 KiB): 50 rules over a 10,000-series store hold about 20,000.
const MAX_HELD: usize = 64 * 1024;

/// Bytes an entry takes besides its references: the key's buffer, the
/// list's reference counts and the table slot, roughly.
const ENTRY_BYTES: usize = 128;

#[derive(Default)]
pub(crate) struct Selections {
    generation: u64,
    by_selector: HashMap<String, Selected>,
    /// Series references held by all entries.
    held: usize,
    /// Bytes counted for the entries, as added to the store's bytes.
    bytes: usize,
}

/// A selector's key: each matcher's name, operator and value, lengths
/// first so that no value can run into the next field.
pub(crate) fn selector_key(matchers: &[Matcher]) -> String {
    let mut key = String::new();
    for m in matchers {
        let (op, value) = match &m.op {
            MatchOp::Equal(v) => ('=', v.as_str()),
            MatchOp::NotEqual(v) => ('!', v.as_str()),
            MatchOp::Regex(re) => ('~', re.as_str()),
            MatchOp::NotRegex(re) => ('^', re.as_str()),
        };
        // Writing to a String cannot fail.
        let _ = write!(
            key,
            "{}:{}{op}{}:{}",
            m.name.len(),
            m.name,
            value.len(),
            value
        );
    }
    key
}

impl Selections {
    /// The selection kept for `key` in `generation`, if any.
    pub(crate) fn get(&self, generation: u64, key: &str) -> Option<Selected> {
        if generation != self.generation {
            return None;
        }
        self.by_selector.get(key).cloned()
    }

    /// Keeps `selected`, made in `generation`, unless that is older than
    /// what is kept or it would go over the bound. Returns the change in
    /// bytes.
    pub(crate) fn insert(&mut self, generation: u64, key: String, selected: Selected) -> isize {
        if generation < self.generation {
            return 0;
        }
        let mut delta = 0;
        if generation > self.generation {
            delta -= self.clear();
            self.generation = generation;
        }
        if self.held + selected.len() > MAX_HELD || self.by_selector.contains_key(&key) {
            return delta;
        }
        let bytes = ENTRY_BYTES + key.len() + selected.len() * size_of::<Arc<Series>>();
        self.held += selected.len();
        self.bytes += bytes;
        self.by_selector.insert(key, selected);
        delta + bytes as isize
    }

    /// Drops every selection; returns the bytes they were counted for.
    pub(crate) fn clear(&mut self) -> isize {
        let freed = self.bytes;
        self.by_selector.clear();
        self.held = 0;
        self.bytes = 0;
        freed as isize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_operators_and_field_boundaries_apart() {
        let key = |ms: &[Matcher]| selector_key(ms);
        let regex = Matcher::regex("a", "b").expect("valid regex");
        let keys = [
            key(&[Matcher::equal("a", "b")]),
            key(&[Matcher {
                name: "a".into(),
                op: MatchOp::NotEqual("b".into()),
            }]),
            key(&[regex]),
            key(&[Matcher::equal("a", "b=1:c")]),
            key(&[Matcher::equal("a", "b"), Matcher::equal("1", "c")]),
            key(&[]),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_newer_generation_replaces_what_is_kept_and_an_older_one_is_ignored() {
        let mut selections = Selections::default();
        let empty: Selected = Arc::from(Vec::new());
        let added = selections.insert(3, "k".into(), empty.clone());
        assert!(added > 0);
        assert!(selections.get(3, "k").is_some());
        assert!(selections.get(4, "k").is_none(), "another generation");
        assert_eq!(selections.insert(2, "old".into(), empty.clone()), 0);
        assert!(selections.get(3, "old").is_none());
        let replaced = selections.insert(4, "n".into(), empty);
        assert_eq!(
            replaced, 0,
            "the old entry's bytes freed, the new one's added"
        );
        assert!(selections.get(4, "n").is_some());
        assert!(selections.get(4, "k").is_none());
        assert_eq!(selections.clear(), added);
    }
}
