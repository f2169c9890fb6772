//! A recording rule: its expression's result, renamed and relabelled, is
//! written back into the store.

use std::collections::{BTreeMap, HashSet};

use opsdeck_metrics::promql::{Query, VectorSample};
use opsdeck_metrics::{Labels, METRIC_NAME};

use super::RuleError;

#[derive(Debug, Clone)]
pub struct RecordingRule {
    name: String,
    query: Query,
    labels: BTreeMap<String, String>,
}

impl RecordingRule {
    pub fn new(name: &str, query: Query, labels: &BTreeMap<String, String>) -> Self {
        RecordingRule {
            name: name.to_string(),
            query,
            labels: labels.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The series to record for one evaluation's result.
    pub fn eval(
        &self,
        result: Vec<VectorSample>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let mut out = Vec::with_capacity(result.len());
        let mut seen = HashSet::with_capacity(result.len());
        for sample in result {
            let mut labels = sample.labels;
            labels.set(METRIC_NAME, self.name.clone());
            for (name, value) in &self.labels {
                labels.set(name.clone(), value.clone());
            }
            if !seen.insert(labels.clone()) {
                return Err(RuleError::DuplicateRecordLabels);
            }
            out.push((labels, sample.v));
        }
        if limit > 0 && out.len() > limit {
            return Err(RuleError::SeriesLimit {
                limit,
                count: out.len(),
            });
        }
        Ok(out)
    }
}
