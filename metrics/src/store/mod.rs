//! The in-memory series store.
//!
//! FIRST CUT: uncompressed samples per series behind one lock. The API here
//! is the contract the rest of opsdeck builds on; the internals are being
//! replaced by compressed chunks with retention, staleness and a memory cap.

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::{Labels, Matcher, Sample};

/// Read access to series, used by the PromQL engine.
pub trait Queryable: Send + Sync {
    /// Every series matching all `matchers`, with its samples whose
    /// timestamps lie in `[mint, maxt]` (milliseconds, inclusive), oldest
    /// first. Stale markers are included as samples with `STALE_NAN`.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Samples older than the newest sample minus this are dropped. `None`
    /// keeps everything (used by rule unit tests and PromQL conformance).
    pub retention_ms: Option<i64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention_ms: Some(60 * 60 * 1000),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AppendError {
    #[error("out of order sample for {labels}: {t} is not after {last}")]
    OutOfOrder { labels: Labels, t: i64, last: i64 },
}

#[derive(Default)]
pub struct SeriesStore {
    config: StoreConfig,
    series: RwLock<HashMap<Labels, Vec<Sample>>>,
}

impl SeriesStore {
    pub fn new(config: StoreConfig) -> Self {
        SeriesStore {
            config,
            series: RwLock::default(),
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        let mut series = self.series.write();
        let samples = series.entry(labels.clone()).or_default();
        if let Some(last) = samples.last() {
            if t <= last.t {
                return Err(AppendError::OutOfOrder {
                    labels: labels.clone(),
                    t,
                    last: last.t,
                });
            }
        }
        samples.push(Sample { t, v });
        Ok(())
    }
}

impl Queryable for SeriesStore {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        let series = self.series.read();
        series
            .iter()
            .filter(|(labels, _)| matchers.iter().all(|m| m.matches(labels)))
            .map(|(labels, samples)| SeriesSamples {
                labels: labels.clone(),
                samples: samples
                    .iter()
                    .filter(|s| s.t >= mint && s.t <= maxt)
                    .copied()
                    .collect(),
            })
            .collect()
    }
}
