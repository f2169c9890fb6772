//! PromQL: parsed by `promql-parser`, evaluated here over a [`Queryable`].
//!
//! CONTRACT ONLY: the evaluator is being written. `Query::parse` once, then
//! `Engine::instant` / `Engine::range` as often as needed.

use crate::{Labels, Queryable, Sample};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("parse error: {0}")]
    Parse(String),
    #[error("execution error: {0}")]
    Execution(String),
}

#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: promql_parser::parser::Expr,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let expr = promql_parser::parser::parse(text).map_err(QueryError::Parse)?;
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
    pub fn instant(&self, _db: &dyn Queryable, _q: &Query, _t: i64) -> Result<Value, QueryError> {
        Err(QueryError::Execution("evaluator not built yet".into()))
    }

    /// A range query: a matrix with one point per step from `start` to `end`.
    pub fn range(
        &self,
        _db: &dyn Queryable,
        _q: &Query,
        _start: i64,
        _end: i64,
        _step_ms: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        Err(QueryError::Execution("evaluator not built yet".into()))
    }
}
