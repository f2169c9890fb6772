//! Label sets. A series is identified by its sorted label set, the metric
//! name being the `__name__` label.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use smallvec::SmallVec;

pub const METRIC_NAME: &str = "__name__";

/// One label of a label set, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// A label set kept sorted by name, with no empty values (an empty value
/// means "label absent" in Prometheus).
///
/// The whole set is one allocation: each name and value in turn, each
/// after its length (LEB128), as Prometheus's `stringlabels` build keeps
/// them. An agent holds one label set per series for as long as the
/// series lives, and a set of a dozen separately allocated strings costs
/// several times its bytes in allocator overhead.
///
/// The labels are shared: cloning a label set is a reference-count
/// increment, not a copy. The store hands every query its series' label
/// sets, and the engine passes them through selectors, functions and
/// results, so each series' labels exist once. Changing a label set
/// builds a new one; its clones keep the old labels.
#[derive(Clone, Default, Eq)]
pub struct Labels(Arc<[u8]>);

/// Equal label sets are often one shared set: compare the pointer first.
/// The encoding is canonical (sorted, distinct names), so equal sets have
/// equal bytes.
impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

/// Hashes the bytes, as equality compares them.
impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Label by label, name before value, as Prometheus orders label sets.
/// (The bytes would not do: a length prefix sorts `b` after `aa`.)
impl Ord for Labels {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Labels {
    pub fn new() -> Self {
        Labels::default()
    }

    /// Builds a label set from pairs in any order; later duplicates win and
    /// empty values are dropped.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut pairs: Vec<(N, V)> = pairs.into_iter().collect();
        // Stable, so that of equal names the later pair stays last.
        pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let kept = pairs.iter().enumerate().filter_map(|(i, (name, value))| {
            let overridden = pairs
                .get(i + 1)
                .is_some_and(|next| next.0.as_ref() == name.as_ref());
            (!overridden).then(|| Label {
                name: name.as_ref(),
                value: value.as_ref(),
            })
        });
        Labels::encode(kept)
    }

    /// Encodes labels that are sorted by name with distinct names; empty
    /// values are left out.
    fn encode<'a>(labels: impl Iterator<Item = Label<'a>>) -> Self {
        let mut bytes = Encoding::new();
        for label in labels.filter(|l| !l.value.is_empty()) {
            put_str(&mut bytes, label.name);
            put_str(&mut bytes, label.value);
        }
        Labels(Arc::from(&bytes[..]))
    }

    /// Where the shared set lives: equal for clones of one set, and never
    /// for two sets alive at once, so a reader holding the sets the
    /// store's reads hand over tells their series apart by it.
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.0).cast::<u8>() as usize
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|(_, value)| value)
    }

    /// The bytes the label named `name` takes in the encoding, and its
    /// value. A series has a handful of labels, whose names mostly differ
    /// in length or first byte: those are compared before the rest.
    fn find(&self, name: &str) -> Option<(Range<usize>, &str)> {
        let bytes = &self.0[..];
        let name = name.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let start = at;
            let found = take_bytes(bytes, &mut at);
            let value = take_bytes(bytes, &mut at);
            if found.len() == name.len() && found.first() == name.first() && found == name {
                return Some((start..at, as_str(value)));
            }
        }
        None
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets a label; an empty value removes it.
    pub fn set(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        if self.get(name).unwrap_or("") == value {
            return;
        }
        let added = Label { name, value };
        let others = self.iter().filter(|l| l.name != name);
        let before = others.clone().take_while(|l| l.name < name);
        let after = others.skip_while(|l| l.name < name);
        *self = Labels::encode(before.chain(std::iter::once(added)).chain(after));
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let (span, value) = self.find(name)?;
        let value = value.to_string();
        let mut bytes = Encoding::new();
        bytes.extend_from_slice(&self.0[..span.start]);
        bytes.extend_from_slice(&self.0[span.end..]);
        *self = Labels(Arc::from(&bytes[..]));
        Some(value)
    }

    pub fn without_metric_name(&self) -> Labels {
        self.filtered(|l| l.name != METRIC_NAME)
    }

    /// Keeps only the named labels.
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Labels {
        self.filtered(|l| names.iter().any(|n| n.as_ref() == l.name))
    }

    /// Drops the named labels.
    pub fn drop_names(&self, names: &[impl AsRef<str>]) -> Labels {
        self.filtered(|l| !names.iter().any(|n| n.as_ref() == l.name))
    }

    /// The labels `keep` accepts; shares this set when that is all of them.
    /// One pass: each label kept is copied as it is encoded (a subset of a
    /// canonical encoding is canonical), from the first label dropped on.
    fn filtered(&self, keep: impl Fn(&Label) -> bool) -> Labels {
        let all = &self.0[..];
        // Filled in place (not moved into an `Option`: it is a few hundred
        // bytes on the stack).
        let mut kept = Encoding::new();
        let mut dropped = false;
        let mut at = 0;
        while at < all.len() {
            let start = at;
            let label = take_label(all, &mut at);
            match (dropped, keep(&label)) {
                (true, true) => kept.extend_from_slice(&all[start..at]),
                (false, false) => {
                    kept.extend_from_slice(&all[..start]);
                    dropped = true;
                }
                _ => {}
            }
        }
        if dropped {
            Labels(Arc::from(&kept[..]))
        } else {
            self.clone()
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter { rest: &self.0 }
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoding of just the labels whose names `keep` accepts (the
    /// encoding a set of them would have): a slice of this set's own when
    /// they sit together in it, so that a key made of them needs no copy;
    /// else `None`, with the encoding written into `scratch`.
    pub(crate) fn encoded_subset(
        &self,
        keep: impl Fn(&str) -> bool,
        scratch: &mut Vec<u8>,
    ) -> Option<&[u8]> {
        let all = &self.0[..];
        // The kept labels' bytes so far, while they are one run.
        let mut run = 0..0;
        let mut together = true;
        let mut at = 0;
        while at < all.len() {
            let start = at;
            let label = take_label(all, &mut at);
            if !keep(label.name) {
                continue;
            }
            if !together {
                scratch.extend_from_slice(&all[start..at]);
            } else if run.is_empty() {
                // No label's bytes are empty: this is the first one kept.
                run = start..at;
            } else if run.end == start {
                run.end = at;
            } else {
                together = false;
                scratch.clear();
                scratch.extend_from_slice(&all[run.clone()]);
                scratch.extend_from_slice(&all[start..at]);
            }
        }
        together.then(|| &all[run])
    }

    /// The encoded labels, which live in the shared allocation: for cache
    /// hints (`store/prefetch.rs`) and for counting the store's bytes.
    pub(crate) fn encoded(&self) -> &[u8] {
        &self.0
    }
}

/// The labels of a set in order.
#[derive(Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = Label<'a>;

    fn next(&mut self) -> Option<Label<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let mut at = 0;
        let label = take_label(self.rest, &mut at);
        self.rest = &self.rest[at..];
        Some(label)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// A label set being encoded: on the stack unless unusually long, so that
/// the set's one allocation is the only one.
type Encoding = SmallVec<[u8; 256]>;

fn put_str(bytes: &mut Encoding, s: &str) {
    let mut len = s.len();
    while len >= 0x80 {
        bytes.push((len as u8) | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
    bytes.extend_from_slice(s.as_bytes());
}

/// Takes the label at `at` of an encoding, moving `at` past it.
#[inline]
fn take_label<'a>(bytes: &'a [u8], at: &mut usize) -> Label<'a> {
    let name = as_str(take_bytes(bytes, at));
    let value = as_str(take_bytes(bytes, at));
    Label { name, value }
}

/// Takes the length-prefixed string at `at` of an encoding, moving `at`
/// past it. Nearly every length fits in one byte, which is read inline.
#[inline]
fn take_bytes<'a>(bytes: &'a [u8], at: &mut usize) -> &'a [u8] {
    let first = bytes[*at];
    *at += 1;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        take_long_len(bytes, at, first)
    };
    let taken = &bytes[*at..*at + len];
    *at += len;
    taken
}

/// The rest of a length of more than one byte, whose first byte was
/// `first`.
#[cold]
fn take_long_len(bytes: &[u8], at: &mut usize, first: u8) -> usize {
    let mut len = usize::from(first & 0x7f);
    let mut shift = 7;
    loop {
        let byte = bytes[*at];
        *at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return len;
        }
        shift += 7;
    }
}

/// A string taken from an encoding.
fn as_str(bytes: &[u8]) -> &str {
    // SAFETY: an encoding is only ever written by `put_str`, from whole
    // `&str`s (and copied whole labels at a time), and read back from its
    // start one whole string at a time, so each string taken is exactly
    // the bytes of one `&str` put.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|l| (l.name, l.value)))
            .finish()
    }
}

/// Formats as PromQL does: `name{a="1", b="2"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(name) = name {
            f.write_str(name)?;
        }
        let mut rest = self.iter().filter(|l| l.name != METRIC_NAME).peekable();
        if rest.peek().is_none() && name.is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn set_keeps_sorted_and_drops_empty() {
        let mut l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(l.to_string(), r#"{a="1", b="2"}"#);
        l.set("__name__", "up");
        assert_eq!(l.to_string(), r#"up{a="1", b="2"}"#);
        l.set("a", "");
        assert_eq!(l.get("a"), None);
        l.set("c", "3");
        assert_eq!(l.to_string(), r#"up{b="2", c="3"}"#);
    }

    #[test]
    fn later_duplicates_win() {
        let l = Labels::from_pairs([("a", "1"), ("b", "2"), ("a", "3"), ("b", "")]);
        assert_eq!(l.to_string(), r#"{a="3"}"#);
    }

    #[test]
    fn get_finds_labels_in_small_and_large_sets() {
        for size in [1, 8, 9, 30] {
            let l = Labels::from_pairs((0..size).map(|i| (format!("n{i:02}"), format!("v{i}"))));
            for i in 0..size {
                assert_eq!(l.get(&format!("n{i:02}")), Some(format!("v{i}").as_str()));
            }
            assert_eq!(l.get("n"), None);
            assert_eq!(l.get("zz"), None);
        }
    }

    #[test]
    fn long_names_and_values_round_trip() {
        let long = "x".repeat(20_000);
        let l = Labels::from_pairs([(long.as_str(), "1"), ("b", long.as_str())]);
        assert_eq!(l.get(&long), Some("1"));
        assert_eq!(l.get("b"), Some(long.as_str()));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn clones_share_and_a_change_copies() {
        let a = Labels::from_pairs([("job", "x"), ("instance", "1")]);
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        b.set("job", "y");
        assert_eq!(a.get("job"), Some("x"));
        assert_eq!(b.get("job"), Some("y"));
        assert!(Arc::ptr_eq(&a.without_metric_name().0, &a.0));
    }

    #[test]
    fn orders_label_by_label() {
        let short_first = Labels::from_pairs([("a", "b")]);
        let long = Labels::from_pairs([("aa", "a")]);
        assert!(short_first < long);
        let fewer = Labels::from_pairs([("a", "1")]);
        let more = Labels::from_pairs([("a", "1"), ("b", "0")]);
        assert!(fewer < more);
    }

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        // Short names collide often, which exercises duplicates; values
        // are now and then long enough for a two-byte length.
        let name = "[a-c_]{1,3}";
        let value = prop_oneof![4 => "[a-z0-9\u{e9}\"]{0,6}", 1 => "[a-z]{120,300}"];
        prop::collection::vec((name, value), 0..12)
    }

    proptest! {
        /// The set behaves as an ordered map without empty values.
        #[test]
        fn acts_as_a_sorted_map(input in pairs(), edits in pairs()) {
            let mut model: BTreeMap<String, String> = BTreeMap::new();
            for (n, v) in &input {
                model.insert(n.clone(), v.clone());
            }
            model.retain(|_, v| !v.is_empty());
            let mut labels = Labels::from_pairs(input.iter().map(|(n, v)| (n, v)));
            for (n, v) in &edits {
                labels.set(n, v);
                if v.is_empty() { model.remove(n); } else { model.insert(n.clone(), v.clone()); }
            }
            let got: Vec<(&str, &str)> = labels.iter().map(|l| (l.name, l.value)).collect();
            let want: Vec<(&str, &str)> = model.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(labels.len(), model.len());
            for (n, v) in &model {
                prop_assert_eq!(labels.get(n), Some(v.as_str()));
            }
            let rebuilt = Labels::from_pairs(model.iter());
            prop_assert_eq!(&rebuilt, &labels);
        }

        /// Removing, keeping and dropping labels leave the labels a map
        /// would, encoded as a set built from them is (canonically).
        #[test]
        fn removes_keeps_and_drops_as_a_map(
            input in pairs(),
            names in prop::collection::vec("[a-c_]{1,3}", 0..4),
        ) {
            let labels = Labels::from_pairs(input);
            let model: BTreeMap<String, String> = labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            let named = |n: &str| names.iter().any(|k| k == n);
            let want = |keep: &dyn Fn(&str) -> bool| {
                Labels::from_pairs(model.iter().filter(|(n, _)| keep(n)))
            };
            prop_assert_eq!(labels.keep_only(&names), want(&named));
            prop_assert_eq!(labels.drop_names(&names), want(&|n| !named(n)));
            for keep in [&named as &dyn Fn(&str) -> bool, &|n: &str| !named(n)] {
                let mut scratch = Vec::new();
                let subset = match labels.encoded_subset(keep, &mut scratch) {
                    Some(own) => own.to_vec(),
                    None => scratch,
                };
                prop_assert_eq!(subset, want(keep).encoded().to_vec());
            }
            for name in &names {
                let mut removed = labels.clone();
                prop_assert_eq!(removed.remove(name), model.get(name).cloned());
                prop_assert_eq!(removed, want(&|n| n != name));
            }
        }

        /// Ordering agrees with comparing the labels as a list.
        #[test]
        fn orders_as_label_lists(a in pairs(), b in pairs()) {
            let a = Labels::from_pairs(a);
            let b = Labels::from_pairs(b);
            let list = |l: &Labels| l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect::<Vec<_>>();
            prop_assert_eq!(a.cmp(&b), list(&a).cmp(&list(&b)));
            prop_assert_eq!(a == b, list(&a) == list(&b));
        }
    }
}
