//! Label sets. A series is identified by its sorted label set, the metric
//! name being the `__name__` label.

use std::fmt;
use std::sync::Arc;

pub const METRIC_NAME: &str = "__name__";

/// Up to this many labels, [`Labels::get`] scans instead of searching.
const SCAN_LIMIT: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// A label set kept sorted by name, with no empty values (an empty value
/// means "label absent" in Prometheus).
///
/// The labels are shared: cloning a label set is a reference-count
/// increment, not a copy of its strings. The store hands every query its
/// series' label sets, and the engine passes them through selectors,
/// functions and results, so each series' labels exist once. Changing a
/// shared label set copies it first (copy on write).
#[derive(Debug, Clone, Default, Eq, PartialOrd, Ord)]
pub struct Labels(Arc<Vec<Label>>);

/// Equal label sets are often one shared set: compare the pointer first.
impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

/// Hashes the labels, as equality compares them.
impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Labels {
    pub fn new() -> Self {
        Labels::default()
    }

    /// Builds a label set from pairs in any order; later duplicates win and
    /// empty values are dropped.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut labels = Labels::new();
        for (name, value) in pairs {
            labels.set(name, value);
        }
        labels
    }

    /// Builds a label set from labels whose names are already known to be
    /// distinct (a parser that rejected duplicates): sorts them and drops
    /// empty values, without the per-label search of `from_pairs`.
    pub fn from_distinct(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Labels(Arc::new(labels))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        // A series has a handful of labels, whose names mostly differ in
        // length: a scan that compares lengths first beats a binary search
        // that compares every name it visits byte by byte.
        if self.0.len() <= SCAN_LIMIT {
            return self
                .0
                .iter()
                .find(|l| l.name == name)
                .map(|l| l.value.as_str());
        }
        self.position(name).ok().map(|i| self.0[i].value.as_str())
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets a label; an empty value removes it.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.position(&name) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) if self.0[i].value == value => {}
            Ok(i) => Arc::make_mut(&mut self.0)[i].value = value,
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, Label { name, value }),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.position(name).ok()?;
        Some(Arc::make_mut(&mut self.0).remove(i).value)
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
    fn filtered(&self, keep: impl Fn(&Label) -> bool) -> Labels {
        if self.0.iter().all(&keep) {
            return self.clone();
        }
        Labels(Arc::new(
            self.0.iter().filter(|l| keep(l)).cloned().collect(),
        ))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The shared list, which lives in the shared allocation: for cache
    /// hints (`store/prefetch.rs`).
    pub(crate) fn shared_list(&self) -> &Vec<Label> {
        &self.0
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Formats as PromQL does: `name{a="1", b="2"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        let rest: Vec<&Label> = self.0.iter().filter(|l| l.name != METRIC_NAME).collect();
        if rest.is_empty() && self.metric_name().is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.iter().enumerate() {
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

    #[test]
    fn set_keeps_sorted_and_drops_empty() {
        let mut l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(l.to_string(), r#"{a="1", b="2"}"#);
        l.set("__name__", "up");
        assert_eq!(l.to_string(), r#"up{a="1", b="2"}"#);
        l.set("a", "");
        assert_eq!(l.get("a"), None);
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
    fn clones_share_and_a_change_copies() {
        let a = Labels::from_pairs([("job", "x"), ("instance", "1")]);
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        b.set("job", "y");
        assert_eq!(a.get("job"), Some("x"));
        assert_eq!(b.get("job"), Some("y"));
        assert_eq!(a.without_metric_name(), a);
    }
}
