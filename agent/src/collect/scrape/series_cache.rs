//! The label sets of a target's series, kept between scrapes so that a
//! sample of a series already seen costs a comparison with its labels
//! instead of a fresh `Labels` (about nine allocations per sample). The
//! cached label set is the one the store keeps (a shared `Labels`), so
//! caching costs no second copy of the labels, and the store finds the
//! series by pointer comparison.
//!
//! Targets expose their series in the same order at every scrape, so each
//! sample is first compared with the series at its position in the
//! previous scrape: a sequential walk through memory, where a hash lookup
//! per sample was bound by cache misses (16 % of the agent's CPU in the
//! `steady_state` bench). Only samples out of place are looked up, by a
//! hash of their text, and the lookup's answer is compared like a series
//! in place: the cache keeps 24 bytes per series instead of the series'
//! text (about 1 MiB less heap for a 5,000-series target). While every
//! sample is the series at its place, the scrape writes nothing: a second
//! list of the series is only built from the first sample out of place
//! on, so a target whose series keep their order costs one list, not two.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use opsdeck_metrics::exposition::{SampleRef, Visitor};
use opsdeck_metrics::Labels;

/// Hashes come from the scrape target's text; foldhash is seeded per
/// process (some resistance to crafted collisions, which would cost only
/// time: every hit is checked against the labels) and several times
/// faster than the standard SipHash on these short keys.
type KeyHasher = foldhash::fast::RandomState;

/// How a sample gets its label set, and whether a label set is the one it
/// would get.
pub(super) trait Labeller {
    fn build(&self, sample: &SampleRef<'_, '_>) -> Labels;
    /// Whether `build(sample)` would equal `labels`, a label set `build`
    /// gave for some sample. May answer false for an equal label set (the
    /// series then gets a fresh one), never true for another.
    fn matches(&self, sample: &SampleRef<'_, '_>, labels: &Labels) -> bool;
}

/// A series' label set, with the target labels already applied, and the
/// hash of the sample text that first gave it.
struct Series {
    hash: u64,
    labels: Labels,
}

/// Known series of one target: those of the latest scrape.
#[derive(Default)]
pub(super) struct SeriesCache {
    hasher: KeyHasher,
    /// The latest scrape's series, in exposition order.
    order: Vec<Series>,
    /// Samples of the scrape in progress so far.
    seen: usize,
    /// The scrape in progress's series, in order, once one of its samples
    /// was not the series at its place in `order`; `None` until then, all
    /// samples so far being `order`'s first `seen` series.
    next: Option<Vec<Series>>,
    /// Positions in `order` by hash, for samples out of place: built on
    /// the first one of a scrape and dropped after it, since a target
    /// whose series keep their order never needs it.
    by_hash: HashMap<u64, usize, KeyHasher>,
}

impl SeriesCache {
    /// A visitor for one scrape: it appends each sample's value to
    /// `values`, and its label set to the cache's next series, building
    /// labels with `labeller` only for series not seen before.
    pub(super) fn scrape<'c, L: Labeller>(
        &'c mut self,
        values: &'c mut Vec<f64>,
        labeller: &'c L,
    ) -> ScrapeVisitor<'c, L> {
        self.seen = 0;
        self.next = None;
        values.clear();
        fit_capacity(values, self.order.len());
        ScrapeVisitor {
            cache: self,
            values,
            labeller,
        }
    }

    /// Makes the finished scrape's series the known ones, forgetting those
    /// it did not expose, so the cache follows the target's churn instead
    /// of growing with it.
    pub(super) fn forget_unseen(&mut self) {
        match self.next.take() {
            Some(next) => self.order = next,
            // Every sample was in place: only series past the last one
            // can have gone.
            None => self.order.truncate(self.seen),
        }
        self.seen = 0;
        shrink_slack(&mut self.order);
        self.by_hash = HashMap::default();
    }

    /// The latest scrape's label sets, in the order of its values.
    pub(super) fn latest(&self) -> impl Iterator<Item = &Labels> {
        self.order.iter().map(|s| &s.labels)
    }

    fn hash(&self, sample: &SampleRef<'_, '_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(sample.name.as_bytes());
        for label in sample.labels {
            hasher.write_u8(SEPARATOR);
            hasher.write(label.name.as_bytes());
            hasher.write_u8(SEPARATOR);
            hasher.write(label.value.as_bytes());
        }
        hasher.finish()
    }

    /// The series at `position` in the previous scrape, if it is the
    /// sample's.
    fn known_at<L: Labeller>(
        &self,
        position: usize,
        sample: &SampleRef<'_, '_>,
        labeller: &L,
    ) -> Option<&Series> {
        self.order
            .get(position)
            .filter(|s| labeller.matches(sample, &s.labels))
    }

    fn index_by_hash(&mut self) {
        if self.by_hash.is_empty() {
            self.by_hash.reserve(self.order.len());
            self.by_hash
                .extend(self.order.iter().enumerate().map(|(i, s)| (s.hash, i)));
        }
    }
}

/// Capacity beyond a quarter more than the length is given back: the
/// buffers are reused every scrape, and growing them by doubling would
/// otherwise keep up to twice the target's series count for good.
fn shrink_slack<T>(buffer: &mut Vec<T>) {
    if buffer.capacity() > buffer.len() + buffer.len() / 4 {
        buffer.shrink_to_fit();
    }
}

/// Sizes an empty buffer for `expected` items, giving back capacity beyond
/// a quarter more (see [`shrink_slack`]).
fn fit_capacity<T>(buffer: &mut Vec<T>, expected: usize) {
    if buffer.capacity() > expected + expected / 4 {
        buffer.shrink_to(expected);
    }
    buffer.reserve_exact(expected);
}

/// Separates a name from its value in the hash.
const SEPARATOR: u8 = 0xff;

pub(super) struct ScrapeVisitor<'c, L> {
    cache: &'c mut SeriesCache,
    values: &'c mut Vec<f64>,
    labeller: &'c L,
}

impl<'a, L: Labeller> Visitor<'a> for ScrapeVisitor<'_, L> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        let cache = &mut *self.cache;
        let position = cache.seen;
        cache.seen += 1;
        self.values.push(sample.value);
        let in_place = cache.known_at(position, sample, self.labeller);
        if in_place.is_some() && cache.next.is_none() {
            return;
        }
        let series = match in_place {
            Some(series) => Series {
                hash: series.hash,
                labels: series.labels.clone(),
            },
            None => {
                let hash = cache.hash(sample);
                cache.index_by_hash();
                let known = cache
                    .by_hash
                    .get(&hash)
                    .and_then(|&i| cache.known_at(i, sample, self.labeller));
                let labels = match known {
                    Some(series) => series.labels.clone(),
                    None => self.labeller.build(sample),
                };
                Series { hash, labels }
            }
        };
        let SeriesCache { order, next, .. } = cache;
        // From the first sample out of place on, the scrape's series are
        // listed anew, starting with those in place before it.
        let next = next.get_or_insert_with(|| {
            let mut next = Vec::with_capacity(order.len().max(position + 1));
            next.extend(order[..position].iter().map(|s| Series {
                hash: s.hash,
                labels: s.labels.clone(),
            }));
            next
        });
        next.push(series);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::scrape::target_labels::TargetLabels;
    use opsdeck_metrics::exposition::{parse_with, Format};
    use std::cell::Cell;

    /// Target labels that count the label sets they build.
    struct Counting {
        target: TargetLabels,
        built: Cell<usize>,
    }

    impl Labeller for Counting {
        fn build(&self, sample: &SampleRef<'_, '_>) -> Labels {
            self.built.set(self.built.get() + 1);
            self.target.build(sample)
        }
        fn matches(&self, sample: &SampleRef<'_, '_>, labels: &Labels) -> bool {
            self.target.matches(sample, labels)
        }
    }

    fn counting() -> Counting {
        Counting {
            target: TargetLabels::new(Labels::from_pairs([("job", "j")])),
            built: Cell::new(0),
        }
    }

    fn scrape(cache: &mut SeriesCache, body: &str, labeller: &Counting) -> Vec<(Labels, f64)> {
        let mut values = Vec::new();
        let mut visitor = cache.scrape(&mut values, labeller);
        parse_with(body.as_bytes(), Format::PrometheusText, &mut visitor).unwrap();
        cache.forget_unseen();
        cache.latest().cloned().zip(values).collect()
    }

    #[test]
    fn labels_are_built_once_per_series_and_dropped_when_gone() {
        let mut cache = SeriesCache::default();
        let labeller = counting();
        let first = scrape(&mut cache, "a{x=\"1\"} 1\na{x=\"2\"} 2\nb 3\n", &labeller);
        assert_eq!(labeller.built.get(), 3);
        assert_eq!(first[1].0.get("x"), Some("2"));
        assert_eq!(first[1].0.get("job"), Some("j"));
        assert_eq!(first[2].1, 3.0);

        let second = scrape(&mut cache, "a{x=\"1\"} 5\nb 6\n", &labeller);
        assert_eq!(labeller.built.get(), 3, "known series reuse their labels");
        assert_eq!(first[0].0, second[0].0);
        assert_eq!(
            cache.latest().count(),
            2,
            "a{{x=\"2\"}} was not exposed again"
        );

        let reordered = scrape(&mut cache, "b 7\na{x=\"1\"} 8\n", &labeller);
        assert_eq!(
            labeller.built.get(),
            3,
            "series out of place are found by hash"
        );
        assert_eq!(reordered[1].0, first[0].0);
        assert_eq!(reordered[1].1, 8.0);

        scrape(&mut cache, "a{x=\"2\"} 7\n", &labeller);
        assert_eq!(labeller.built.get(), 4);
        assert_eq!(cache.latest().count(), 1);
    }

    #[test]
    fn series_gone_after_the_last_one_in_place_are_forgotten() {
        let mut cache = SeriesCache::default();
        let labeller = counting();
        let first = scrape(&mut cache, "a 1\nb 2\nc 3\n", &labeller);
        let second = scrape(&mut cache, "a 4\nb 5\n", &labeller);
        assert_eq!(labeller.built.get(), 3);
        assert_eq!(second.len(), 2);
        assert_eq!(second[1], (first[1].0.clone(), 5.0));
        assert_eq!(cache.latest().count(), 2, "c was not exposed again");
        let third = scrape(&mut cache, "a 6\nb 7\nc 8\n", &labeller);
        assert_eq!(labeller.built.get(), 4, "c came back as a new series");
        assert_eq!(third[2].0.get("__name__"), Some("c"));
    }

    #[test]
    fn a_series_in_another_series_place_gets_its_own_labels() {
        let mut cache = SeriesCache::default();
        let labeller = counting();
        scrape(&mut cache, "m{a=\"1\"} 1\nm{a=\"2\"} 2\n", &labeller);
        let swapped = scrape(&mut cache, "m{a=\"3\"} 1\nm{a=\"1\"} 2\n", &labeller);
        assert_eq!(labeller.built.get(), 3);
        assert_eq!(swapped[0].0.get("a"), Some("3"));
        assert_eq!(swapped[1].0.get("a"), Some("1"));
    }

    #[test]
    fn a_hash_collision_is_caught_by_the_labels() {
        let mut cache = SeriesCache::default();
        let labeller = counting();
        scrape(&mut cache, "m{a=\"1\"} 1\nm{a=\"2\"} 2\n", &labeller);
        // The new series' hash leads to another known series, as a
        // collision would (an index already in place is not rebuilt).
        let body = "m{a=\"1\"} 1\nm{a=\"9\"} 2\n";
        let colliding = cache_hash_of("m{a=\"9\"} 2\n", &cache);
        cache.by_hash.insert(colliding, 0);
        let samples = scrape(&mut cache, body, &labeller);
        assert_eq!(labeller.built.get(), 3);
        assert_eq!(samples[1].0.get("a"), Some("9"));
    }

    /// The hash the cache gives the single sample of `body`.
    fn cache_hash_of(body: &str, cache: &SeriesCache) -> u64 {
        struct Hash<'c>(&'c SeriesCache, u64);
        impl<'a> Visitor<'a> for Hash<'_> {
            fn sample(&mut self, sample: &SampleRef<'a, '_>) {
                self.1 = self.0.hash(sample);
            }
        }
        let mut visitor = Hash(cache, 0);
        parse_with(body.as_bytes(), Format::PrometheusText, &mut visitor).unwrap();
        visitor.1
    }
}
