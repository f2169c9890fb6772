//! The rules of OpenMetrics 1.0 beyond line syntax: which samples belong
//! to which family, where metadata may appear, that a series' samples are
//! written together with timestamps going forward, the value constraints
//! of each type, and the shape of histograms. These follow the
//! specification and its reference parser, so the conformance suite's
//! verdicts are ours.

use std::borrow::Cow;
use std::collections::HashSet;

use super::line::SampleLine;
use super::number::parse_value;
use super::{LabelRef, MetadataItem, MetricType, ParseError};

/// Checks an OpenMetrics exposition line by line.
#[derive(Default)]
pub(super) struct OpenMetricsRules<'a> {
    family: Option<Family<'a>>,
    /// Every sample name a finished family could have used; a later family
    /// may not reuse one.
    seen_names: HashSet<String>,
}

/// The family being read.
struct Family<'a> {
    name: &'a str,
    /// `None` until a `# TYPE` line; read as `unknown`.
    kind: Option<MetricType>,
    has_help: bool,
    unit: Option<&'a str>,
    has_samples: bool,
    first_line: usize,
    last_timestamp: Option<i64>,
    group: Option<Group<'a>>,
    /// Every group the family has had, so a group cannot come back.
    seen_groups: HashSet<GroupKey<'a>>,
    histogram: HistogramRun,
}

/// The labels that make samples one series (a histogram's buckets, a
/// summary's quantiles, a state set's states), sorted by name.
type GroupKey<'a> = Vec<(&'a str, Cow<'a, str>)>;

struct Group<'a> {
    key: GroupKey<'a>,
    timestamp: Option<i64>,
}

/// Sample names a family of each type may have, as suffixes of its name.
fn suffixes(kind: Option<MetricType>) -> &'static [&'static str] {
    match kind {
        Some(MetricType::Counter) => &["_total", "_created"],
        Some(MetricType::Summary) => &["", "_count", "_sum", "_created"],
        Some(MetricType::Histogram) => &["_count", "_sum", "_bucket", "_created"],
        Some(MetricType::GaugeHistogram) => &["_gcount", "_gsum", "_bucket"],
        Some(MetricType::Info) => &["_info"],
        Some(MetricType::Gauge | MetricType::StateSet | MetricType::Untyped) | None => &[""],
    }
}

fn is_histogram(kind: MetricType) -> bool {
    matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram)
}

#[cold]
fn error(line: usize, message: String) -> ParseError {
    ParseError {
        line,
        column: 1,
        message,
    }
}

impl<'a> OpenMetricsRules<'a> {
    pub fn metadata(
        &mut self,
        line_no: usize,
        name: &'a str,
        item: &MetadataItem<'a>,
    ) -> Result<(), ParseError> {
        match &self.family {
            Some(family) if family.name == name => {
                if family.has_samples {
                    return Err(error(
                        line_no,
                        format!("metadata for {name} after its samples"),
                    ));
                }
            }
            _ => {
                self.finish_family()?;
                self.family = Some(Family::new(name, line_no));
            }
        }
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        let repeated = match item {
            MetadataItem::Help(_) => std::mem::replace(&mut family.has_help, true),
            MetadataItem::Type(kind) => family.kind.replace(*kind).is_some(),
            MetadataItem::Unit(unit) => family.unit.replace(unit).is_some(),
        };
        if repeated {
            let what = match item {
                MetadataItem::Help(_) => "HELP",
                MetadataItem::Type(_) => "TYPE",
                MetadataItem::Unit(_) => "UNIT",
            };
            return Err(error(line_no, format!("second {what} line for {name}")));
        }
        Ok(())
    }

    /// Checks a sample and returns the type of its family.
    pub fn sample(
        &mut self,
        line_no: usize,
        sample: &SampleLine<'a>,
        labels: &[LabelRef<'a>],
    ) -> Result<MetricType, ParseError> {
        let member = self.family.as_ref().and_then(|f| f.suffix_of(sample.name));
        let suffix = match member {
            Some(suffix) => suffix,
            None => {
                // A sample outside the current family starts an untyped one.
                self.finish_family()?;
                self.family = Some(Family::new(sample.name, line_no));
                ""
            }
        };
        let Some(family) = self.family.as_mut() else {
            return Ok(MetricType::Untyped);
        };
        family.has_samples = true;
        family.check_sample(line_no, suffix, sample, labels)?;
        Ok(family.kind.unwrap_or(MetricType::Untyped))
    }

    /// Checks what can only be checked once the input has ended.
    pub fn finish(&mut self) -> Result<(), ParseError> {
        self.finish_family()
    }

    fn finish_family(&mut self) -> Result<(), ParseError> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        let name = family.name;
        let kind = family.kind.unwrap_or(MetricType::Untyped);
        let own_suffixes = suffixes(family.kind).iter().filter(|s| !s.is_empty());
        for suffix in std::iter::once(&"").chain(own_suffixes) {
            let sample_name = format!("{name}{suffix}");
            if !self.seen_names.insert(sample_name) {
                return Err(error(
                    family.first_line,
                    format!("metric family {name} clashes with an earlier family over the name {name}{suffix}"),
                ));
            }
        }
        if let Some(unit) = family.unit.filter(|u| !u.is_empty()) {
            if !name
                .strip_suffix(unit)
                .is_some_and(|rest| rest.ends_with('_'))
            {
                return Err(error(
                    family.first_line,
                    format!("metric family {name} has unit {unit:?} but its name does not end in _{unit}"),
                ));
            }
            if matches!(kind, MetricType::Info | MetricType::StateSet) {
                return Err(error(
                    family.first_line,
                    format!("{kind:?} family {name} cannot have a unit"),
                ));
            }
        }
        if is_histogram(kind) {
            family.histogram.finish(name)?;
        }
        Ok(())
    }
}

impl<'a> Family<'a> {
    fn new(name: &'a str, line_no: usize) -> Family<'a> {
        Family {
            name,
            kind: None,
            has_help: false,
            unit: None,
            has_samples: false,
            first_line: line_no,
            last_timestamp: None,
            group: None,
            seen_groups: HashSet::new(),
            histogram: HistogramRun::default(),
        }
    }

    /// The suffix `sample_name` has as a sample of this family, if it is one.
    fn suffix_of(&self, sample_name: &str) -> Option<&'static str> {
        let rest = sample_name.strip_prefix(self.name)?;
        suffixes(self.kind).iter().copied().find(|s| *s == rest)
    }

    fn check_sample(
        &mut self,
        line_no: usize,
        suffix: &'static str,
        sample: &SampleLine<'a>,
        labels: &[LabelRef<'a>],
    ) -> Result<(), ParseError> {
        let name = self.name;
        let kind = self.kind.unwrap_or(MetricType::Untyped);
        let label = |wanted: &str| labels.iter().find(|l| l.name == wanted).map(|l| &*l.value);
        let bucket_bound = if suffix == "_bucket" {
            Some(bucket_bound(line_no, label("le"), sample.name)?)
        } else {
            None
        };
        let is_quantile = kind == MetricType::Summary && suffix.is_empty();
        if is_quantile {
            let quantile = label("quantile").and_then(parse_value);
            if !quantile.is_some_and(|q| (0.0..=1.0).contains(&q)) {
                return Err(error(
                    line_no,
                    format!("summary {name} needs a quantile label between 0 and 1"),
                ));
            }
        }

        // The label that tells apart the samples of one series, if any.
        let series_label = match kind {
            MetricType::StateSet => Some(name),
            MetricType::Summary if is_quantile => Some("quantile"),
            _ if bucket_bound.is_some() => Some("le"),
            _ => None,
        };
        if kind == MetricType::StateSet && label(name).is_none() {
            return Err(error(
                line_no,
                format!("state set {name} needs a {name} label"),
            ));
        }
        // Info families cannot be told apart into series: one group.
        let group_labels = if kind == MetricType::Info {
            &[]
        } else {
            labels
        };
        let new_group = self.enter_group(
            line_no,
            group_labels,
            series_label,
            sample.timestamp_ms,
            kind,
        )?;

        check_value(line_no, kind, suffix, is_quantile, sample)?;
        let exemplar_allowed = (is_histogram(kind) && suffix == "_bucket")
            || (kind == MetricType::Counter && suffix == "_total");
        if sample.has_exemplar && !exemplar_allowed {
            return Err(error(
                line_no,
                format!(
                    "only counter _total and histogram _bucket samples can have exemplars, not {}",
                    sample.name
                ),
            ));
        }

        if is_histogram(kind) {
            let new_run = new_group || sample.timestamp_ms != self.last_timestamp;
            self.histogram
                .add(new_run, line_no, suffix, bucket_bound, sample.value, name)?;
        }
        self.last_timestamp = sample.timestamp_ms;
        Ok(())
    }

    /// Moves to the group of `labels` (without `series_label`), checking
    /// that a group is never left and re-entered and that its timestamps
    /// are consistent. Returns whether the group changed.
    fn enter_group(
        &mut self,
        line_no: usize,
        labels: &[LabelRef<'a>],
        series_label: Option<&str>,
        timestamp: Option<i64>,
        kind: MetricType,
    ) -> Result<bool, ParseError> {
        let in_group = |l: &&LabelRef<'a>| Some(l.name) != series_label;
        if let Some(group) = self.group.as_mut() {
            let same = labels.iter().filter(in_group).count() == group.key.len()
                && labels
                    .iter()
                    .filter(in_group)
                    .all(|l| group.key.iter().any(|(n, v)| *n == l.name && *v == l.value));
            if same {
                if group.timestamp.is_some() != timestamp.is_some() {
                    return Err(error(
                        line_no,
                        format!(
                            "samples of one {} series mix having and lacking timestamps",
                            self.name
                        ),
                    ));
                }
                if kind != MetricType::Info && group.timestamp > timestamp {
                    return Err(error(
                        line_no,
                        format!("timestamps of a {} series go backwards", self.name),
                    ));
                }
                group.timestamp = timestamp;
                return Ok(false);
            }
        }
        let mut key: GroupKey<'a> = labels
            .iter()
            .filter(in_group)
            .map(|l| (l.name, l.value.clone()))
            .collect();
        key.sort_unstable();
        if !self.seen_groups.insert(key.clone()) {
            return Err(error(
                line_no,
                format!(
                    "samples of a {} series are split by samples of other series",
                    self.name
                ),
            ));
        }
        self.group = Some(Group { key, timestamp });
        Ok(true)
    }
}

/// A bucket's `le` bound: a number, not NaN, with infinity spelled `+Inf`.
fn bucket_bound(line_no: usize, le: Option<&str>, sample_name: &str) -> Result<f64, ParseError> {
    let Some(le) = le else {
        return Err(error(
            line_no,
            format!("bucket {sample_name} has no le label"),
        ));
    };
    match parse_value(le) {
        Some(b) if b.is_finite() => Ok(b),
        Some(b) if b.is_infinite() && (le == "+Inf" || le == "-Inf") => Ok(b),
        _ => Err(error(
            line_no,
            format!("bucket {sample_name} has an invalid le label {le:?}"),
        )),
    }
}

/// Value constraints by type: counters, counts, sums and buckets are never
/// negative or NaN (a gauge histogram's sum may be negative), state set
/// values are 0 or 1, info values are 1, and quantile values are not
/// negative.
fn check_value(
    line_no: usize,
    kind: MetricType,
    suffix: &str,
    is_quantile: bool,
    sample: &SampleLine<'_>,
) -> Result<(), ParseError> {
    let value = sample.value;
    let name = sample.name;
    let problem = match kind {
        MetricType::StateSet if value != 0.0 && value != 1.0 => {
            Some("a state set value must be 0 or 1")
        }
        MetricType::Info if value != 1.0 => Some("an info value must be 1"),
        MetricType::Summary if is_quantile && value < 0.0 => {
            Some("a quantile value cannot be negative")
        }
        _ => match suffix {
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum" if value.is_nan() => {
                Some("a counter, count, sum or bucket cannot be NaN")
            }
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" if value < 0.0 => {
                Some("a counter, count, sum or bucket cannot be negative")
            }
            _ => None,
        },
    };
    match problem {
        Some(problem) => Err(error(line_no, format!("{name} {value}: {problem}"))),
        None => Ok(()),
    }
}

/// The samples of one histogram series at one timestamp, checked as they
/// arrive and as a whole when the next series starts.
#[derive(Default)]
struct HistogramRun {
    started: bool,
    first_line: usize,
    count: Option<f64>,
    last_bound: Option<f64>,
    last_bucket_value: f64,
    negative_bucket: bool,
    has_sum: bool,
    has_gsum: bool,
    negative_gsum: bool,
}

impl HistogramRun {
    fn add(
        &mut self,
        new_run: bool,
        line_no: usize,
        suffix: &str,
        bound: Option<f64>,
        value: f64,
        name: &str,
    ) -> Result<(), ParseError> {
        if new_run {
            self.finish(name)?;
            *self = HistogramRun {
                started: true,
                first_line: line_no,
                ..HistogramRun::default()
            };
        }
        match (suffix, bound) {
            ("_bucket", Some(bound)) => {
                if self.last_bound.is_some_and(|last| bound <= last) {
                    return Err(error(
                        line_no,
                        format!("buckets of {name} are not in increasing le order"),
                    ));
                }
                if value < self.last_bucket_value {
                    return Err(error(line_no, format!("bucket counts of {name} decrease")));
                }
                self.negative_bucket |= bound < 0.0;
                self.last_bound = Some(bound);
                self.last_bucket_value = value;
            }
            ("_count" | "_gcount", _) => self.count = Some(value),
            ("_sum", _) => self.has_sum = true,
            ("_gsum", _) => {
                self.has_gsum = true;
                self.negative_gsum |= value < 0.0;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&self, name: &str) -> Result<(), ParseError> {
        if !self.started {
            return Ok(());
        }
        let problem = if self.last_bound != Some(f64::INFINITY) {
            Some("has no +Inf bucket")
        } else if self.count.is_some_and(|c| c != self.last_bucket_value) {
            Some("has a count that differs from its +Inf bucket")
        } else if (self.has_sum || self.has_gsum) && self.count.is_none() {
            Some("has a sum but no count")
        } else if self.count.is_some() && !(self.has_sum || self.has_gsum) {
            Some("has a count but no sum")
        } else if self.negative_bucket && self.has_sum {
            Some("has negative buckets, so it cannot have a _sum")
        } else if self.negative_gsum && !self.negative_bucket {
            Some("has a negative _gsum but no negative buckets")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(error(
                self.first_line,
                format!("the histogram {name} series starting here {problem}"),
            )),
            None => Ok(()),
        }
    }
}
