//! The label sets of a target's series, kept between scrapes so that a
//! sample of a series already seen costs a comparison of its text instead
//! of a fresh `Labels` (about nine allocations per sample). The cached
//! label set is the one the store keeps (a shared `Labels`), so caching
//! costs no second copy of the labels, and the store finds the series by
//! pointer comparison.
//!
//! Targets expose their series in the same order at every scrape, so each
//! sample is first compared with the series at its position in the
//! previous scrape: a sequential walk through memory, where a hash lookup
//! per sample was bound by cache misses (16 % of the agent's CPU in the
//! `steady_state` bench). Only samples out of place are looked up by key.

use std::collections::HashMap;
use std::sync::Arc;

use opsdeck_metrics::exposition::{SampleRef, Visitor};
use opsdeck_metrics::Labels;

/// Keys come from the scrape target's text; foldhash is seeded per process
/// (some resistance to crafted collisions) and several times faster than
/// the standard SipHash on these short keys.
type KeyHasher = foldhash::fast::RandomState;

/// A series' key (see [`series_key`]) and its label set, with the target
/// labels already applied.
type Series = (Arc<[u8]>, Labels);

/// Known series of one target: those of the latest scrape.
#[derive(Default)]
pub(super) struct SeriesCache {
    /// The latest scrape's series, in exposition order.
    order: Vec<Series>,
    /// The same series by key, for samples out of order.
    known: HashMap<Arc<[u8]>, Labels, KeyHasher>,
    /// The scrape in progress's series, in order; its buffer is reused.
    next: Vec<Series>,
    /// Whether the scrape in progress differs from the latest in order.
    reordered: bool,
}

impl SeriesCache {
    /// A visitor for one scrape: it appends each sample's label set and
    /// value to `samples`, building labels with `label` only for series
    /// not seen before.
    pub(super) fn scrape<'c, F>(
        &'c mut self,
        samples: &'c mut Vec<(Labels, f64)>,
        label: F,
    ) -> ScrapeVisitor<'c, F>
    where
        F: Fn(&SampleRef<'_, '_>) -> Labels,
    {
        self.next.clear();
        self.reordered = false;
        samples.clear();
        ScrapeVisitor {
            cache: self,
            samples,
            key: Vec::new(),
            label,
        }
    }

    /// Makes the finished scrape's series the known ones, forgetting those
    /// it did not expose, so the cache follows the target's churn instead
    /// of growing with it.
    pub(super) fn forget_unseen(&mut self) {
        let changed = self.reordered || self.next.len() != self.order.len();
        std::mem::swap(&mut self.order, &mut self.next);
        self.next.clear();
        if changed {
            self.known.clear();
            self.known.extend(self.order.iter().cloned());
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.known.len()
    }
}

pub(super) struct ScrapeVisitor<'c, F> {
    cache: &'c mut SeriesCache,
    samples: &'c mut Vec<(Labels, f64)>,
    /// Reused for every sample's key.
    key: Vec<u8>,
    label: F,
}

impl<'a, F> Visitor<'a> for ScrapeVisitor<'_, F>
where
    F: Fn(&SampleRef<'_, '_>) -> Labels,
{
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        series_key(sample, &mut self.key);
        let cache = &mut *self.cache;
        let in_place = cache
            .order
            .get(cache.next.len())
            .filter(|(key, _)| **key == *self.key);
        let series = match in_place {
            Some(series) => series.clone(),
            None => {
                cache.reordered = true;
                match cache.known.get_key_value(self.key.as_slice()) {
                    Some((key, labels)) => (key.clone(), labels.clone()),
                    None => (self.key.as_slice().into(), (self.label)(sample)),
                }
            }
        };
        self.samples.push((series.1.clone(), sample.value));
        cache.next.push(series);
    }
}

/// Separates the parts of a key: never found in UTF-8 text, so no name
/// can hold it.
const SEPARATOR: u8 = 0xff;

/// The series' identity as bytes: the name, then each label as
/// `SEPARATOR name SEPARATOR <value length> value`. The length prefix
/// keeps any value unambiguous.
fn series_key(sample: &SampleRef<'_, '_>, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(sample.name.as_bytes());
    for label in sample.labels {
        key.push(SEPARATOR);
        key.extend_from_slice(label.name.as_bytes());
        key.push(SEPARATOR);
        key.extend_from_slice(&label.value.len().to_le_bytes());
        key.extend_from_slice(label.value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsdeck_metrics::exposition::{parse_with, Format};

    fn scrape(cache: &mut SeriesCache, body: &str, built: &mut usize) -> Vec<(Labels, f64)> {
        let mut samples = Vec::new();
        let counter = std::cell::Cell::new(0);
        let mut visitor = cache.scrape(&mut samples, |s| {
            counter.set(counter.get() + 1);
            s.to_labels()
        });
        parse_with(body.as_bytes(), Format::PrometheusText, &mut visitor).unwrap();
        cache.forget_unseen();
        *built += counter.get();
        samples
    }

    #[test]
    fn labels_are_built_once_per_series_and_dropped_when_gone() {
        let mut cache = SeriesCache::default();
        let mut built = 0;
        let first = scrape(&mut cache, "a{x=\"1\"} 1\na{x=\"2\"} 2\nb 3\n", &mut built);
        assert_eq!(built, 3);
        assert_eq!(first[1].0.get("x"), Some("2"));
        assert_eq!(first[2].1, 3.0);

        let second = scrape(&mut cache, "a{x=\"1\"} 5\nb 6\n", &mut built);
        assert_eq!(built, 3, "known series reuse their labels");
        assert_eq!(first[0].0, second[0].0);
        assert_eq!(cache.len(), 2, "a{{x=\"2\"}} was not exposed again");

        let reordered = scrape(&mut cache, "b 7\na{x=\"1\"} 8\n", &mut built);
        assert_eq!(built, 3, "series out of place are found by key");
        assert_eq!(reordered[1].0, first[0].0);
        assert_eq!(reordered[1].1, 8.0);

        scrape(&mut cache, "a{x=\"2\"} 7\n", &mut built);
        assert_eq!(built, 4);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn keys_do_not_confuse_label_boundaries() {
        let mut cache = SeriesCache::default();
        let mut built = 0;
        let samples = scrape(
            &mut cache,
            "m{a=\"1,b=1:2\"} 1\nm{a=\"1\",b=\"2\"} 2\n",
            &mut built,
        );
        assert_eq!(built, 2);
        assert_ne!(samples[0].0, samples[1].0);
    }
}
