//! The evaluator: walks the parsed expression once for all steps of a query.
//!
//! Every node evaluates to an [`Evaluated`] covering every step: a scalar is
//! one value per step, an instant vector is a list of [`Series`] with an
//! optional value per step. Labels are handled once per series.

use promql_parser::parser::{token, AtModifier, Expr, Offset};

use super::selector::{self, Windows};
use super::shared::SharedResults;
use super::{aggregate, binary, functions, QueryError};
use crate::{Labels, Queryable, Sample};

/// Subqueries without a step use this resolution, as Prometheus does with
/// its default global evaluation interval.
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// A subquery may evaluate at most this many inner steps: every step of
/// every inner series is held in memory.
const MAX_SUBQUERY_STEPS: usize = 1_000_000;

/// The evaluation times: `count` steps from `start`, `step` apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub start: i64,
    pub step: i64,
    pub count: usize,
}

impl Steps {
    pub fn instant(t: i64) -> Steps {
        Steps {
            start: t,
            step: 1,
            count: 1,
        }
    }

    /// `start`, `start + step`, … up to and including `end` when aligned.
    pub fn range(start: i64, end: i64, step: i64) -> Steps {
        Steps {
            start,
            step,
            count: (end.saturating_sub(start) / step) as usize + 1,
        }
    }

    pub fn time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// One series of an instant vector over all steps.
#[derive(Debug)]
pub(crate) struct Series {
    pub labels: Labels,
    /// Set when an operation dropped the metric name: `__name__` is removed
    /// when the result is returned (Prometheus's delayed name removal).
    pub drop_name: bool,
    /// One entry per step; `None` where the series has no value.
    pub points: Points,
}

/// By hand: the points are copied as a slice, where `SmallVec`'s own
/// clone goes element by element through its growth checks (2.6 % of the
/// PromQL batch's instructions when rules share reads, which are cloned).
impl Clone for Series {
    fn clone(&self) -> Self {
        Series {
            labels: self.labels.clone(),
            drop_name: self.drop_name,
            points: Points::from_slice(&self.points),
        }
    }
}

/// A series' value at each step, held inline for an instant query (one
/// step): rules evaluate thousands of series per tick, and a heap vector
/// each would cost an allocation and a free per series.
pub(crate) type Points = smallvec::SmallVec<[Option<f64>; 1]>;

/// One series of a range vector.
#[derive(Debug, Clone)]
pub(crate) struct SampleSeries {
    pub labels: Labels,
    pub drop_name: bool,
    pub samples: Vec<Sample>,
}

#[derive(Debug)]
pub(crate) enum Evaluated {
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<Series>),
    /// Only at the top of an instant query (`foo[5m]`, a subquery).
    Matrix(Vec<SampleSeries>),
}

impl Evaluated {
    pub fn type_name(&self) -> &'static str {
        match self {
            Evaluated::Scalar(_) => "scalar",
            Evaluated::String(_) => "string",
            Evaluated::Vector(_) => "instant vector",
            Evaluated::Matrix(_) => "range vector",
        }
    }
}

pub(crate) struct Evaluator<'a> {
    pub db: &'a dyn Queryable,
    pub lookback_ms: i64,
    /// The top-level query's start, end and step (0 for an instant query),
    /// for `@ start()`, `@ end()` and the `start()`, `end()`, `step()` and
    /// `range()` functions.
    pub query_start: i64,
    pub query_end: i64,
    pub query_step: i64,
    /// Reads shared with other queries at the same time, if any.
    pub shared: Option<&'a SharedResults>,
}

impl<'a> Evaluator<'a> {
    pub fn new(db: &'a dyn Queryable, lookback_ms: i64, top: &Steps, instant: bool) -> Self {
        Evaluator {
            db,
            lookback_ms,
            query_start: top.start,
            query_end: top.time(top.count - 1),
            query_step: if instant { 0 } else { top.step },
            shared: None,
        }
    }

    pub fn eval(&self, expr: &Expr, steps: &Steps) -> Result<Evaluated, QueryError> {
        match self.shared {
            Some(shared) => shared.reuse_or(expr, steps, (self.db, self.lookback_ms), |e| {
                self.eval_unshared(e, steps)
            }),
            None => self.eval_unshared(expr, steps),
        }
    }

    fn eval_unshared(&self, expr: &Expr, steps: &Steps) -> Result<Evaluated, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Evaluated::Scalar(vec![n.val; steps.count])),
            Expr::StringLiteral(s) => Ok(Evaluated::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, steps),
            Expr::Unary(u) => match self.eval(&u.expr, steps)? {
                Evaluated::Scalar(values) => {
                    Ok(Evaluated::Scalar(values.into_iter().map(|v| -v).collect()))
                }
                Evaluated::Vector(mut series) => {
                    for s in &mut series {
                        s.drop_name = true;
                        for v in s.points.iter_mut().flatten() {
                            *v = -*v;
                        }
                    }
                    Ok(Evaluated::Vector(series))
                }
                other => Err(QueryError::exec(format!(
                    "unary minus needs a scalar or an instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Evaluated::Vector(selector::instant_vector(
                self, vs, steps, false,
            ))),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if steps.count != 1 {
                    return Err(QueryError::exec(
                        "a range vector can only be returned by an instant query",
                    ));
                }
                let windows = self.eval_windows(expr, steps)?;
                Ok(Evaluated::Matrix(windows.into_matrix()))
            }
            Expr::Binary(b) => binary::eval(self, b, steps),
            Expr::Aggregate(a) => aggregate::eval(self, a, steps),
            Expr::Call(c) => functions::eval(self, c, steps),
            Expr::Extension(_) => Err(QueryError::exec("extension expressions are not supported")),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&self, expr: &Expr, steps: &Steps) -> Result<Vec<Series>, QueryError> {
        match self.eval(expr, steps)? {
            Evaluated::Vector(series) => Ok(series),
            other => Err(QueryError::exec(format!(
                "expected an instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an expression that must be a scalar: one value per step.
    pub fn eval_scalar(&self, expr: &Expr, steps: &Steps) -> Result<Vec<f64>, QueryError> {
        match self.eval(expr, steps)? {
            Evaluated::Scalar(values) => Ok(values),
            other => Err(QueryError::exec(format!(
                "expected a scalar, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn eval_string(&self, expr: &Expr, steps: &Steps) -> Result<String, QueryError> {
        match self.eval(expr, steps)? {
            Evaluated::String(s) => Ok(s),
            other => Err(QueryError::exec(format!(
                "expected a string, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates a range-vector argument (a matrix selector or a subquery,
    /// possibly in parentheses) into per-step windows.
    pub fn eval_windows<'e>(&self, expr: &'e Expr, steps: &Steps) -> Result<Windows<'e>, QueryError>
    where
        'a: 'e,
    {
        match expr {
            Expr::Paren(p) => self.eval_windows(&p.expr, steps),
            Expr::MatrixSelector(ms) => Ok(selector::matrix(self, ms, steps)),
            Expr::Subquery(sq) => {
                let range = duration_ms(&sq.range);
                let ends = self.reference_times(steps, sq.at.as_ref(), sq.offset.as_ref());
                let step = sq
                    .step
                    .as_ref()
                    .map(duration_ms)
                    .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
                if step <= 0 {
                    return Err(QueryError::exec("subquery step must be positive"));
                }
                let (lo, hi) = (ends[0].saturating_sub(range), ends[ends.len() - 1]);
                // Inner steps sit on multiples of the step, strictly after
                // the window start (windows are left-open).
                let first = lo
                    .div_euclid(step)
                    .saturating_mul(step)
                    .saturating_add(step);
                let series = if first > hi {
                    Vec::new()
                } else {
                    let inner = Steps::range(first, hi, step);
                    if inner.count > MAX_SUBQUERY_STEPS {
                        return Err(QueryError::exec(format!(
                            "subquery needs {} steps, more than the limit of {MAX_SUBQUERY_STEPS}; use a larger subquery step",
                            inner.count
                        )));
                    }
                    let evaluated = self.eval_vector(&sq.expr, &inner)?;
                    evaluated
                        .into_iter()
                        .map(|s| SampleSeries {
                            samples: s
                                .points
                                .iter()
                                .enumerate()
                                .filter_map(|(i, p)| {
                                    p.map(|v| Sample {
                                        t: inner.time(i),
                                        v,
                                    })
                                })
                                .collect(),
                            labels: s.labels,
                            drop_name: s.drop_name,
                        })
                        .filter(|s| !s.samples.is_empty())
                        .collect()
                };
                Ok(Windows::evaluated(series, range, ends))
            }
            other => Err(QueryError::exec(format!(
                "expected a range vector, got {}",
                other.value_type()
            ))),
        }
    }

    /// The time each step reads data at, after `@` and `offset`.
    pub fn reference_times(
        &self,
        steps: &Steps,
        at: Option<&AtModifier>,
        offset: Option<&Offset>,
    ) -> Vec<i64> {
        let offset = offset.map(offset_ms).unwrap_or(0);
        let fixed = at.map(|at| match at {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => system_time_ms(t),
        });
        (0..steps.count)
            .map(|i| {
                fixed
                    .unwrap_or_else(|| steps.time(i))
                    .saturating_sub(offset)
            })
            .collect()
    }
}

impl Windows<'_> {
    /// The samples of each window as a plain matrix (instant queries only).
    fn into_matrix(self) -> Vec<SampleSeries> {
        let end = self.ends[0];
        let start = end.saturating_sub(self.range_ms);
        let mut matrix = Vec::new();
        self.for_each_series(|labels, drop_name, samples| {
            let in_window: Vec<Sample> = samples
                .iter()
                .filter(|p| p.t > start && p.t <= end)
                .copied()
                .collect();
            if !in_window.is_empty() {
                matrix.push(SampleSeries {
                    labels: labels.clone(),
                    drop_name,
                    samples: in_window,
                });
            }
        });
        matrix
    }
}

pub(crate) fn duration_ms(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn offset_ms(offset: &Offset) -> i64 {
    match offset {
        Offset::Pos(d) => duration_ms(d),
        Offset::Neg(d) => -duration_ms(d),
    }
}

pub(crate) fn system_time_ms(t: &std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(before) => -duration_ms(&before.duration()),
    }
}

/// Whether a binary operator token is a comparison.
pub(crate) fn is_comparison(op: token::TokenId) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_LTE | token::T_LSS | token::T_GTE | token::T_GTR
    )
}
