//! opsdeck-metrics: the sample and label model, exposition parsing, the
//! in-memory series store and PromQL evaluation.
//!
//! Everything opsdeck knows is a time series. Timestamps are milliseconds
//! since the Unix epoch (`i64`), values are `f64`, as in Prometheus.

pub mod exposition;
pub mod labels;
pub mod matcher;
pub mod promql;
pub mod sample;
pub mod store;
pub mod summary;

pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use sample::{is_stale_nan, Sample, STALE_NAN};
pub use store::{Piece, Queryable, SeriesSamples, SeriesStore, StoreConfig};
pub use summary::{SamplesSummary, SummaryKind};
