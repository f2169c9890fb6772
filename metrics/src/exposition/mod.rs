//! Prometheus text format 0.0.4 and OpenMetrics 1.0 text parsing.
//!
//! Two entry points over the same parser:
//! - [`parse`] returns an owned [`Exposition`] (samples with sorted
//!   [`Labels`], and the metadata of every family that had any);
//! - [`parse_with`] streams borrowed [`SampleRef`]s and metadata to a
//!   [`Visitor`] without copying names or label values: the fast path for
//!   a scraper that feeds a store.
//!
//! One malformed line fails the whole exposition, as in Prometheus, with a
//! [`ParseError`] naming the line and column. OpenMetrics input is checked
//! against the whole specification (metadata placement, family grouping,
//! histogram and counter invariants, `# EOF`), so it agrees with the
//! OpenMetrics conformance suite. `docs/exposition.md` describes both
//! formats as accepted here.

mod collect;
mod error;
mod escape;
mod line;
mod number;
mod openmetrics;
mod parser;
mod scan;

use std::borrow::Cow;

use crate::{Labels, METRIC_NAME};

pub use error::ParseError;

/// The two text formats a target can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format a scrape response's `Content-Type` announces.
    /// Anything other than `application/openmetrics-text` is read as the
    /// Prometheus text format, which is what Prometheus falls back to.
    pub fn from_content_type(content_type: &str) -> Format {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// A metric family's type as given by its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` in the Prometheus format, `unknown` in OpenMetrics, and
    /// the type of any sample without a `# TYPE` line.
    Untyped,
}

/// One sample of an owned [`Exposition`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// Includes `__name__`.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the epoch, when the exposition gave one.
    pub timestamp_ms: Option<i64>,
}

/// The `HELP`, `TYPE` and `UNIT` of one metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricMetadata {
    /// The family name as written on the metadata lines (for an
    /// OpenMetrics counter, without `_total`).
    pub name: String,
    pub kind: MetricType,
    pub help: Option<String>,
    pub unit: Option<String>,
}

/// A parsed exposition, samples in the order they were written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<ParsedSample>,
    /// One entry per family that had a `HELP`, `TYPE` or `UNIT` line, in
    /// the order the families first appeared.
    pub metadata: Vec<MetricMetadata>,
}

/// A label of a [`SampleRef`], borrowed from the input unless its value
/// had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRef<'a> {
    pub name: &'a str,
    /// Unescaped. May be empty, which Prometheus treats as "no label".
    pub value: Cow<'a, str>,
}

/// A sample as the parser sees it, borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRef<'a, 's> {
    /// The metric name (for example `http_requests_total` or `x_bucket`).
    pub name: &'a str,
    /// In the order written, without `__name__`; names are distinct.
    pub labels: &'s [LabelRef<'a>],
    pub value: f64,
    /// Milliseconds since the epoch: Prometheus text timestamps are taken
    /// as they are, OpenMetrics seconds are rounded to the millisecond.
    pub timestamp_ms: Option<i64>,
    /// The type of the family the sample belongs to.
    pub kind: MetricType,
}

impl SampleRef<'_, '_> {
    /// The sample's owned label set, `__name__` included and empty values
    /// left out.
    pub fn to_labels(&self) -> Labels {
        let name = std::iter::once((METRIC_NAME, self.name));
        Labels::from_pairs(name.chain(self.labels.iter().map(|l| (l.name, &*l.value))))
    }
}

/// One metadata line.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataItem<'a> {
    /// Unescaped help text.
    Help(Cow<'a, str>),
    Type(MetricType),
    Unit(&'a str),
}

/// Receives what [`parse_with`] reads, in input order.
///
/// When `parse_with` returns an error, everything the visitor received
/// belongs to a rejected exposition and must be discarded.
pub trait Visitor<'a> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>);

    /// A `HELP`, `TYPE` or `UNIT` line for the family `name`.
    fn metadata(&mut self, name: &'a str, item: MetadataItem<'a>) {
        let _ = (name, item);
    }
}

/// Parses a whole exposition into owned samples and metadata.
pub fn parse(input: &[u8], format: Format) -> Result<Exposition, ParseError> {
    let mut collector = collect::Collector::default();
    parse_with(input, format, &mut collector)?;
    Ok(collector.finish())
}

/// Parses a whole exposition, handing each sample and metadata line to
/// `visitor` without copying.
pub fn parse_with<'a, V: Visitor<'a>>(
    input: &'a [u8],
    format: Format,
    visitor: &mut V,
) -> Result<(), ParseError> {
    parser::run(input, format, visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_picks_the_format() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"),
            Format::PrometheusText
        );
        assert_eq!(Format::from_content_type(""), Format::PrometheusText);
    }
}
