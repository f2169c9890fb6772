//! A scraped sample's label set: the sample's own labels plus the target
//! labels (`job`, `instance` and the configured ones), a label the target
//! exposes itself under a target label's name being kept as
//! `exported_<name>`, as Prometheus does. Also decides, without building
//! it, whether a sample would get a given label set, so that the series
//! cache can recognise known series without keeping their text.

use opsdeck_metrics::exposition::SampleRef;
use opsdeck_metrics::labels::Iter;
use opsdeck_metrics::{Labels, METRIC_NAME};

use super::series_cache::Labeller;

const EXPORTED_PREFIX: &str = "exported_";

/// The labels every series of one target gets.
pub(super) struct TargetLabels {
    labels: Labels,
    /// Whether a label set built for a sample may lack a target label: a
    /// target label `exported_<name>` is overwritten when the sample
    /// exposes `<name>` and the target has it too.
    may_lose_own: bool,
}

impl TargetLabels {
    pub(super) fn new(labels: Labels) -> Self {
        let may_lose_own = labels.iter().any(|l| l.name.starts_with(EXPORTED_PREFIX));
        TargetLabels {
            labels,
            may_lose_own,
        }
    }

    fn clashes(&self, name: &str) -> bool {
        self.labels.get(name).is_some()
    }

    /// [`Labeller::build`] for a sample exposing a target label's name.
    fn build_renaming_clashes(&self, sample: &SampleRef<'_, '_>) -> Labels {
        let mut labels = sample.to_labels();
        for label in self.labels.iter() {
            if let Some(exposed) = labels.get(label.name) {
                let exposed = exposed.to_string();
                labels.set(format!("{EXPORTED_PREFIX}{}", label.name), exposed);
            }
            labels.set(label.name, label.value);
        }
        labels
    }

    /// The value `labels` holds for the sample's label `name`, which the
    /// target also has, so that it was renamed; `None` when the renamed
    /// name could stand for two labels (the sample or the target has an
    /// `exported_<name>` of its own), where the last one set wins and a
    /// comparison label by label would not be exact.
    fn exported_value<'l>(
        &self,
        sample: &SampleRef<'_, '_>,
        name: &str,
        labels: &'l Labels,
    ) -> Option<&'l str> {
        let is_exported = |n: &str| n.strip_prefix(EXPORTED_PREFIX) == Some(name);
        let ambiguous = self.labels.iter().any(|l| is_exported(l.name))
            || sample
                .labels
                .iter()
                .any(|l| !l.value.is_empty() && is_exported(l.name));
        if ambiguous {
            return None;
        }
        labels.iter().find(|l| is_exported(l.name)).map(|l| l.value)
    }
}

impl Labeller for TargetLabels {
    fn build(&self, sample: &SampleRef<'_, '_>) -> Labels {
        if sample.labels.iter().any(|l| self.clashes(l.name)) {
            return self.build_renaming_clashes(sample);
        }
        let name = std::iter::once((METRIC_NAME, sample.name));
        let exposed = sample.labels.iter().map(|l| (l.name, &*l.value));
        let target = self.labels.iter().map(|l| (l.name, l.value));
        Labels::from_pairs(name.chain(exposed).chain(target))
    }

    /// `labels` is a label set this labeller built, so that it holds the
    /// target labels (checked only where it may not): then every other
    /// label `build` would give is in `labels` with its value, and
    /// `labels` has no other. The names
    /// `build` gives are distinct (the parser rejects duplicate and
    /// `__name__` labels, configured names cannot start with `__`, and
    /// ambiguous renames never match), so equal counts leave no room for
    /// another label.
    fn matches(&self, sample: &SampleRef<'_, '_>, labels: &Labels) -> bool {
        if labels.metric_name() != Some(sample.name) {
            return false;
        }
        let mut stored_labels = SortedWalk::new(labels);
        let mut expected = 1 + self.labels.len();
        for label in sample.labels {
            // Empty values mean "no label" and are not stored.
            if label.value.is_empty() {
                continue;
            }
            expected += 1;
            let stored = if self.clashes(label.name) {
                self.exported_value(sample, label.name, labels)
            } else {
                stored_labels.get(label.name)
            };
            if stored != Some(&*label.value) {
                return false;
            }
        }
        labels.len() == expected
            && (!self.may_lose_own
                || self
                    .labels
                    .iter()
                    .all(|l| labels.get(l.name) == Some(l.value)))
    }
}

/// Looks names up in a label set, each search starting after the
/// previous find: targets mostly expose labels in name order, so a
/// sample's labels are then found one step apart instead of by a scan
/// from the start each (this comparison runs for every sample of every
/// scrape).
struct SortedWalk<'l> {
    labels: &'l Labels,
    /// The labels after the previous find.
    next: Iter<'l>,
}

impl<'l> SortedWalk<'l> {
    fn new(labels: &'l Labels) -> Self {
        SortedWalk {
            labels,
            next: labels.iter(),
        }
    }

    fn get(&mut self, name: &str) -> Option<&'l str> {
        let mut walk = self.next.clone();
        let found = match walk.find(|l| l.name == name) {
            Some(found) => found,
            None => {
                walk = self.labels.iter();
                walk.find(|l| l.name == name)?
            }
        };
        self.next = walk;
        Some(found.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsdeck_metrics::exposition::{parse_with, Format, Visitor};

    /// What `visit` returns for each sample of `body`.
    fn each_sample<T>(body: &str, visit: impl FnMut(&SampleRef<'_, '_>) -> T) -> Vec<T> {
        struct Collect<F, T>(F, Vec<T>);
        impl<'a, F: FnMut(&SampleRef<'_, '_>) -> T, T> Visitor<'a> for Collect<F, T> {
            fn sample(&mut self, sample: &SampleRef<'a, '_>) {
                let out = (self.0)(sample);
                self.1.push(out);
            }
        }
        let mut visitor = Collect(visit, Vec::new());
        parse_with(body.as_bytes(), Format::PrometheusText, &mut visitor).unwrap();
        visitor.1
    }

    fn app_target() -> TargetLabels {
        TargetLabels::new(Labels::from_pairs([("job", "app"), ("instance", "h:1")]))
    }

    #[test]
    fn target_labels_are_added_and_clashing_ones_exported() {
        let target = app_target();
        let got = each_sample("a{x=\"1\",empty=\"\"} 1\nb{job=\"own\",y=\"2\"} 2\n", |s| {
            target.build(s)
        });
        let plain = Labels::from_pairs([
            ("__name__", "a"),
            ("x", "1"),
            ("job", "app"),
            ("instance", "h:1"),
        ]);
        assert_eq!(got[0], plain);
        let clash = Labels::from_pairs([
            ("__name__", "b"),
            ("exported_job", "own"),
            ("y", "2"),
            ("job", "app"),
            ("instance", "h:1"),
        ]);
        assert_eq!(got[1], clash);
    }

    /// `matches` agrees with comparing what `build` gives, for every pair
    /// of samples, including renamed and ambiguous labels.
    #[test]
    fn matches_is_equality_of_built_labels() {
        let body = "\
a 1
a{x=\"1\"} 1
a{x=\"1\",y=\"\"} 1
a{x=\"2\"} 1
a{y=\"1\"} 1
a{x=\"1\",y=\"1\"} 1
a{y=\"1\",x=\"1\"} 1
a{y=\"2\",x=\"1\"} 1
b{x=\"1\"} 1
a{x=\"1\",job=\"own\"} 1
a{x=\"1\",exported_job=\"own\"} 1
a{job=\"own\",exported_job=\"own\"} 1
a{job=\"own\",exported_job=\"other\"} 1
a{job=\"\"} 1
a{job=\"own\"} 1
a{instance=\"h:1\"} 1
";
        let targets = [
            app_target(),
            TargetLabels::new(Labels::from_pairs([
                ("job", "app"),
                ("exported_job", "cfg"),
            ])),
            TargetLabels::new(Labels::new()),
        ];
        for target in targets {
            let built = each_sample(body, |s| target.build(s));
            let mut index = 0;
            each_sample(body, |sample| {
                for (other, labels) in built.iter().enumerate() {
                    let equal = target.build(sample) == *labels;
                    let matched = target.matches(sample, labels);
                    // Ambiguous renames may fail to match their own labels
                    // (costing a rebuild), never match other labels.
                    assert!(!matched || equal, "sample {index} vs {other}");
                    if equal && !matched {
                        assert!(
                            sample.labels.iter().any(|l| target.clashes(l.name)),
                            "sample {index} vs {other}"
                        );
                    }
                }
                index += 1;
            });
        }
    }
}
