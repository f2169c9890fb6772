//! Rules and rule groups: evaluation over the series store.

mod alerting;
mod concurrent;
mod dependencies;
mod group;
mod recording;

use opsdeck_metrics::promql::{Engine, Query, QueryError, Value, VectorSample};
use opsdeck_metrics::Queryable;

pub use alerting::{Alert, AlertState, AlertingRule, TemplateEnv, RESOLVED_RETENTION_MS};
pub use group::{EvalContext, RuleEntry, RuleGroup};
pub use recording::RecordingRule;

use crate::template::{QuerySamples, TemplateError, TemplateQuerier};

/// Why a rule's evaluation failed. Worded as Prometheus words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Query(String),
    #[error("rule result is not a vector or scalar")]
    NotAVector,
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabels,
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecordLabels,
    #[error("exceeded limit of {limit} with {count} alerts")]
    AlertLimit { limit: usize, count: usize },
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit { limit: usize, count: usize },
    #[error("{0} {1}")]
    Template(String, TemplateError),
    /// A bug in opsdeck, not in the rule: the evaluation panicked. The
    /// rule reports it and the other rules, and later evaluations, run.
    #[error("internal error: evaluation panicked: {0}")]
    Panicked(String),
}

impl From<QueryError> for RuleError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Parse(m) | QueryError::Execution(m) => RuleError::Query(m),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => r.name(),
            Rule::Recording(r) => r.name(),
        }
    }

    pub fn query(&self) -> &Query {
        match self {
            Rule::Alerting(r) => r.query(),
            Rule::Recording(r) => r.query(),
        }
    }
}

/// An instant query as rules see it: a scalar becomes a one-sample vector
/// with no labels; strings and matrices are errors.
pub fn query_vector(
    engine: &Engine,
    store: &dyn Queryable,
    query: &Query,
    ts: i64,
) -> Result<Vec<VectorSample>, RuleError> {
    vector_of(engine.instant(store, query, ts)?)
}

/// A query's value as rules see it (see [`query_vector`]).
pub(crate) fn vector_of(value: Value) -> Result<Vec<VectorSample>, RuleError> {
    match value {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![VectorSample {
            labels: Default::default(),
            t,
            v,
        }]),
        Value::String { .. } | Value::Matrix(_) => Err(RuleError::NotAVector),
    }
}

/// The `query` template function over the store at one evaluation time.
pub struct StoreQuerier<'a> {
    pub engine: &'a Engine,
    pub store: &'a dyn Queryable,
    pub ts: i64,
}

impl TemplateQuerier for StoreQuerier<'_> {
    fn query(&self, expr: &str) -> Result<QuerySamples, String> {
        let query = Query::parse(expr).map_err(|e| e.to_string())?;
        let samples =
            query_vector(self.engine, self.store, &query, self.ts).map_err(|e| e.to_string())?;
        Ok(samples
            .into_iter()
            .map(|s| {
                (
                    s.labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    s.v,
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
