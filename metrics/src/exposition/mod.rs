//! Prometheus text format 0.0.4 and OpenMetrics 1.0 parsing.
//!
//! CONTRACT ONLY: the parser is being written; `parse` is the entry point
//! the agent's scraper and `opsdeck query --file` call.

use crate::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    PrometheusText,
    OpenMetrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Untyped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// Includes `__name__`.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the epoch, when the exposition gave one.
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricMetadata {
    pub name: String,
    pub kind: MetricType,
    pub help: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<ParsedSample>,
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

pub fn parse(_input: &[u8], _format: Format) -> Result<Exposition, ParseError> {
    Err(ParseError {
        line: 1,
        column: 1,
        message: "exposition parser not built yet".into(),
    })
}
