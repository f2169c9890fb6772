//! The label sets of a target's series, kept between scrapes so that a
//! sample of a series already seen costs a hash lookup of its text instead
//! of a fresh `Labels` (about nine allocations per sample). The cached
//! label set is the one the store keeps (a shared `Labels`), so caching
//! costs no second copy of the labels, and the store finds the series by
//! pointer comparison.

use std::collections::HashMap;

use opsdeck_metrics::exposition::{SampleRef, Visitor};
use opsdeck_metrics::Labels;

/// Keys come from the scrape target's text; foldhash is seeded per process
/// (some resistance to crafted collisions) and several times faster than
/// the standard SipHash on these short keys.
type KeyHasher = foldhash::fast::RandomState;

/// Known series of one target, keyed by their exposed name and labels,
/// with the target labels already applied.
#[derive(Default)]
pub(super) struct SeriesCache {
    known: HashMap<Box<[u8]>, Known, KeyHasher>,
    /// Counts scrapes; a series not seen in the latest one is dropped.
    generation: u64,
}

struct Known {
    labels: Labels,
    seen_in: u64,
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
        self.generation += 1;
        samples.clear();
        ScrapeVisitor {
            cache: self,
            samples,
            key: Vec::new(),
            label,
        }
    }

    /// Forgets the series the latest scrape did not expose, so the cache
    /// follows the target's churn instead of growing with it.
    pub(super) fn forget_unseen(&mut self) {
        let generation = self.generation;
        self.known.retain(|_, known| known.seen_in == generation);
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
        let generation = self.cache.generation;
        let labels = match self.cache.known.get_mut(self.key.as_slice()) {
            Some(known) => {
                known.seen_in = generation;
                known.labels.clone()
            }
            None => {
                let labels = (self.label)(sample);
                self.cache.known.insert(
                    self.key.as_slice().into(),
                    Known {
                        labels: labels.clone(),
                        seen_in: generation,
                    },
                );
                labels
            }
        };
        self.samples.push((labels, sample.value));
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
