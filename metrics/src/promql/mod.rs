//! PromQL: parsed by `promql-parser`, evaluated here over a [`Queryable`].
//!
//! `Query::parse` once, then `Engine::instant` / `Engine::range` as often as
//! needed. Semantics follow Prometheus 3.x: left-open range selectors and
//! lookback window, staleness markers end a series, rate extrapolation,
//! delayed removal of `__name__` (a function that drops the name only marks
//! the series, so `label_replace` can still read it; the name goes at the
//! end). `docs/promql.md` lists what is supported.
//!
//! The evaluator works on whole step ranges at once: a selector is read from
//! the store once per query (not once per step), and label work (matching
//! signatures, grouping keys, name dropping) happens once per series, not
//! once per step.

mod aggregate;
mod binary;
mod display;
mod eval;
mod functions;
mod go_strings;
mod histogram;
mod labels_out;
pub(crate) mod math;
mod narrowing;
mod range_functions;
mod selected;
mod selector;
mod shared;
mod variance_lanes;

use crate::{Labels, Queryable, Sample};
use eval::{Evaluated, Evaluator, Steps};
pub use shared::{RepeatedReads, SharedResults};

/// A range query may have at most this many steps, as in Prometheus: the
/// evaluator holds every step of every series in memory.
pub const MAX_RANGE_STEPS: usize = 11_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("parse error: {0}")]
    Parse(String),
    #[error("execution error: {0}")]
    Execution(String),
}

impl QueryError {
    pub(crate) fn exec(message: impl Into<String>) -> Self {
        QueryError::Execution(message.into())
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: promql_parser::parser::Expr,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let expr = promql_parser::parser::parse(text).map_err(QueryError::Parse)?;
        if let Some(literal) = go_strings::invalid_utf8_literal(text) {
            return Err(QueryError::Parse(format!(
                "invalid UTF-8 in string literal {literal}"
            )));
        }
        Ok(Query {
            text: text.to_string(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &promql_parser::parser::Expr {
        &self.expr
    }

    /// The metric names the query selects; `None` when a selector names
    /// no single metric, so that the query could read any.
    pub fn metric_names(&self) -> Option<std::collections::BTreeSet<String>> {
        selected::metric_names(&self.expr)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<VectorSample>),
    Matrix(Vec<RangeSeries>),
}

#[derive(Debug, Clone)]
pub struct Engine {
    /// How far back an instant selector looks for a sample (5 m default).
    pub lookback_ms: i64,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            lookback_ms: 5 * 60 * 1000,
        }
    }
}

impl Engine {
    /// An instant query at `t` (milliseconds).
    pub fn instant(&self, db: &dyn Queryable, q: &Query, t: i64) -> Result<Value, QueryError> {
        self.instant_with(db, q, t, None)
    }

    /// [`Engine::instant`], reusing the reads `shared` kept from queries
    /// evaluated before at the same time, and keeping this one's for those
    /// after it: what a rule group does (see [`SharedResults`]).
    pub fn instant_shared(
        &self,
        db: &dyn Queryable,
        q: &Query,
        t: i64,
        shared: &SharedResults,
    ) -> Result<Value, QueryError> {
        self.instant_with(db, q, t, Some(shared))
    }

    fn instant_with(
        &self,
        db: &dyn Queryable,
        q: &Query,
        t: i64,
        shared: Option<&SharedResults>,
    ) -> Result<Value, QueryError> {
        let steps = Steps::instant(t);
        let evaluator = Evaluator {
            shared,
            ..Evaluator::new(db, self.lookback_ms, &steps, true)
        };
        let result = evaluator.eval(&q.expr, &steps)?;
        Ok(match result {
            Evaluated::Scalar(values) => Value::Scalar { t, v: values[0] },
            Evaluated::String(s) => Value::String { t, s },
            Evaluated::Vector(series) => Value::Vector(labels_out::instant_vector(series, t)?),
            Evaluated::Matrix(series) => Value::Matrix(labels_out::matrix(series)?),
        })
    }

    /// A range query: a matrix with one point per step from `start` to `end`.
    pub fn range(
        &self,
        db: &dyn Queryable,
        q: &Query,
        start: i64,
        end: i64,
        step_ms: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::exec(format!(
                "range query step must be positive, got {step_ms} ms"
            )));
        }
        if end < start {
            return Err(QueryError::exec(format!(
                "range query end {end} is before its start {start}"
            )));
        }
        let steps = Steps::range(start, end, step_ms);
        if steps.count > MAX_RANGE_STEPS {
            return Err(QueryError::exec(format!(
                "exceeded maximum resolution of {MAX_RANGE_STEPS} points per timeseries; try a larger step"
            )));
        }
        let evaluator = Evaluator::new(db, self.lookback_ms, &steps, false);
        match evaluator.eval(&q.expr, &steps)? {
            Evaluated::Scalar(values) => Ok(vec![RangeSeries {
                labels: Labels::new(),
                samples: values
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| Sample {
                        t: steps.time(i),
                        v,
                    })
                    .collect(),
            }]),
            Evaluated::Vector(series) => labels_out::range_matrix(series, &steps),
            other => Err(QueryError::exec(format!(
                "a range query must return a scalar or an instant vector, not a {}",
                other.type_name()
            ))),
        }
    }
}
