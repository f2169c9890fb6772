//! Results that instant queries evaluated at the same time can share.
//!
//! A rule pack repeats its reads: `rate(http_requests_total[5m])` feeds an
//! error ratio and a traffic alert, `avg_over_time(latency[5m])` a
//! threshold and a top-k, the same two gauges a ratio and a prediction.
//! Every rule of a group is evaluated at the group's time, so such a read
//! gives the same series each time. [`SharedResults`] keeps the result of
//! each read for the queries after it: a selector, or a function whose
//! arguments are selectors and literals (`rate(x[5m])`,
//! `quantile_over_time(0.9, x[10m])`, `absent(x{a="b"})`). Whatever
//! combines reads (operators, aggregations) is computed per query, as it
//! reads no samples.
//!
//! A read stays valid until series it selects are written: after writing
//! samples of a metric (a recording rule's output), call
//! [`SharedResults::forget`] with its name. Reads whose selectors name no
//! metric are forgotten with any.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use parking_lot::Mutex;
use promql_parser::label::{MatchOp, METRIC_NAME};
use promql_parser::parser::{Expr, VectorSelector};

use super::eval::{Evaluated, Series, Steps};
use super::QueryError;

/// The reads of instant queries at one time, shared between them (see the
/// module documentation). Used from several threads at once, each read is
/// computed outside the lock: two threads that need the same read at the
/// same moment may both compute it.
pub struct SharedResults {
    t: i64,
    reads: Mutex<HashMap<String, Read>>,
}

struct Read {
    /// The metrics the read selects; `None` when a selector names none.
    metrics: Option<Vec<String>>,
    series: Arc<Vec<Series>>,
}

impl SharedResults {
    /// Shares the reads of instant queries at `t` (milliseconds); queries
    /// at other times, and range queries, share nothing.
    pub fn new(t: i64) -> Self {
        SharedResults {
            t,
            reads: Mutex::default(),
        }
    }

    /// Forgets the reads that may select series of `metric`, after
    /// samples of it were written.
    pub fn forget(&self, metric: &str) {
        self.reads.lock().retain(|_, read| {
            read.metrics
                .as_ref()
                .is_some_and(|names| names.iter().all(|n| n != metric))
        });
    }

    /// `expr` evaluated by `evaluate`, or the result of an earlier
    /// evaluation of the same read at the same time.
    pub(crate) fn reuse_or(
        &self,
        expr: &Expr,
        steps: &Steps,
        lookback_ms: i64,
        evaluate: impl FnOnce() -> Result<Evaluated, QueryError>,
    ) -> Result<Evaluated, QueryError> {
        if steps.count != 1 || steps.start != self.t {
            return evaluate();
        }
        let Some((key, metrics)) = read_key(expr, lookback_ms) else {
            return evaluate();
        };
        let kept = self.reads.lock().get(&key).map(|r| Arc::clone(&r.series));
        if let Some(series) = kept {
            return Ok(Evaluated::Vector(series.as_ref().clone()));
        }
        let evaluated = evaluate()?;
        if let Evaluated::Vector(series) = &evaluated {
            let read = Read {
                metrics,
                series: Arc::new(series.clone()),
            };
            self.reads.lock().insert(key, read);
        }
        Ok(evaluated)
    }
}

/// The key of a read and the metrics it selects, if `expr` is one: a
/// selector, or a call whose arguments are selectors and literals, at
/// least one a selector. The parsed expression's debug form tells every
/// detail apart (matchers, ranges, offsets, `@`, exact literals); the
/// lookback is part of it, since it changes what a selector returns.
fn read_key(expr: &Expr, lookback_ms: i64) -> Option<(String, Option<Vec<String>>)> {
    let selectors: Vec<&VectorSelector> = match expr {
        Expr::VectorSelector(vs) => vec![vs],
        Expr::Call(call) => {
            let mut selectors = Vec::new();
            for arg in &call.args.args {
                match arg.as_ref() {
                    Expr::VectorSelector(vs) => selectors.push(vs),
                    Expr::MatrixSelector(ms) => selectors.push(&ms.vs),
                    Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
                    _ => return None,
                }
            }
            if selectors.is_empty() {
                return None;
            }
            selectors
        }
        _ => return None,
    };
    let metrics: Option<Vec<String>> = selectors.iter().map(|vs| metric_of(vs)).collect();
    let mut key = String::new();
    // Writing to a String cannot fail.
    let _ = write!(key, "{lookback_ms} {expr:?}");
    Some((key, metrics))
}

/// The metric a selector names, by name or by a `__name__` equality
/// (not one inside `or` alternatives, which may name others).
fn metric_of(vs: &VectorSelector) -> Option<String> {
    if vs.name.is_some() {
        return vs.name.clone();
    }
    if !vs.matchers.or_matchers.is_empty() {
        return None;
    }
    vs.matchers
        .matchers
        .iter()
        .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
        .map(|m| m.value.clone())
}
