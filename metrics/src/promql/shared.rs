//! Results that instant queries evaluated at the same time can share.
//!
//! A rule pack repeats its reads: `rate(http_requests_total[5m])` feeds an
//! error ratio and a traffic alert, `avg_over_time(latency[5m])` a
//! threshold and a top-k, the same two gauges a ratio and a prediction.
//! Every rule of a group is evaluated at the group's time, so such a read
//! gives the same series each time. [`SharedResults`] keeps the result of
//! each read for the queries after it (with [`SharedResults::sharing`],
//! of each read that the [`RepeatedReads`] of the queries list): a selector, or a function whose
//! arguments are selectors and literals (`rate(x[5m])`,
//! `quantile_over_time(0.9, x[10m])`, `absent(x{a="b"})`). Whatever
//! combines reads (operators, aggregations) is computed per query, as it
//! reads no samples. A read that a wider read of the queries holds
//! (`rate(x{code=~"5.."}[5m])` beside `rate(x[5m])`) is picked out of that
//! read's result (see `narrowing`).
//!
//! A read stays valid until series it selects are written: after writing
//! samples of a metric (a recording rule's output), call
//! [`SharedResults::forget`] with its name. Reads whose selectors name no
//! metric are forgotten with any.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::fmt::Write;
use std::sync::Arc;

use parking_lot::Mutex;
use promql_parser::label::{MatchOp, Matcher as ParserMatcher};
use promql_parser::parser::{AtModifier, Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};

use super::eval::{duration_ms, offset_ms, system_time_ms, Evaluated, Series, Steps};
use super::narrowing::Narrowing;
use super::selected::metric_of;
use super::{Engine, Query, QueryError};
use crate::Queryable;

/// The reads of instant queries at one time, shared between them (see the
/// module documentation). Used from several threads at once, each read is
/// computed outside the lock: two threads that need the same read at the
/// same moment may both compute it.
pub struct SharedResults {
    t: i64,
    /// The keys of the reads worth keeping; `None` keeps every read.
    wanted: Option<Arc<HashSet<String>>>,
    /// The reads picked out of wider ones, by key.
    narrowings: Arc<HashMap<String, Narrowing>>,
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
            wanted: None,
            narrowings: Arc::default(),
            reads: Mutex::default(),
        }
    }

    /// Like [`SharedResults::new`], keeping only the reads in `repeated`:
    /// copying out a read that no other query makes saves nothing.
    pub fn sharing(t: i64, repeated: &RepeatedReads) -> Self {
        SharedResults {
            wanted: Some(Arc::clone(&repeated.keys)),
            narrowings: Arc::clone(&repeated.narrowings),
            ..SharedResults::new(t)
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
    /// evaluation of the same read at the same time, or picked out of a
    /// wider read's result (evaluated by `evaluate` if not yet kept).
    pub(crate) fn reuse_or(
        &self,
        expr: &Expr,
        steps: &Steps,
        (db, lookback_ms): (&dyn Queryable, i64),
        evaluate: impl Fn(&Expr) -> Result<Evaluated, QueryError>,
    ) -> Result<Evaluated, QueryError> {
        if steps.count != 1 || steps.start != self.t {
            return evaluate(expr);
        }
        let Some((key, metrics)) = read_key(expr, lookback_ms) else {
            return evaluate(expr);
        };
        let wanted = self.wanted.as_ref().is_none_or(|w| w.contains(&key));
        let kept = if wanted { self.kept(&key) } else { None };
        if let Some(series) = kept {
            return Ok(Evaluated::Vector(series.as_ref().clone()));
        }
        let narrowing = self
            .narrowings
            .get(&key)
            .and_then(|n| Some((n, n.worth_picking(db)?)));
        if !wanted && narrowing.is_none() {
            return evaluate(expr);
        }
        let series = match narrowing {
            Some((narrowing, selected)) => {
                let wider = match self.kept(&narrowing.wider_key) {
                    Some(wider) => wider,
                    None => match evaluate(&narrowing.wider)? {
                        Evaluated::Vector(wider) => self.keep(
                            narrowing.wider_key.clone(),
                            narrowing.wider_metrics.clone(),
                            wider,
                        ),
                        _ => return evaluate(expr),
                    },
                };
                Narrowing::pick(&wider, &selected)
            }
            None => match evaluate(expr)? {
                Evaluated::Vector(series) => series,
                other => return Ok(other),
            },
        };
        if wanted {
            self.keep(key, metrics, series.clone());
        }
        Ok(Evaluated::Vector(series))
    }

    /// The series of the read `key`, if kept.
    fn kept(&self, key: &str) -> Option<Arc<Vec<Series>>> {
        self.reads.lock().get(key).map(|r| Arc::clone(&r.series))
    }

    /// Keeps `series` as the result of the read `key`, of `metrics`.
    fn keep(
        &self,
        key: String,
        metrics: Option<Vec<String>>,
        series: Vec<Series>,
    ) -> Arc<Vec<Series>> {
        let series = Arc::new(series);
        let read = Read {
            metrics,
            series: Arc::clone(&series),
        };
        self.reads.lock().insert(key, read);
        series
    }
}

/// The reads that a set of queries make more than once, worth sharing
/// among them. They depend on the queries alone, so a rule group finds
/// them once, not at every evaluation.
#[derive(Debug, Clone)]
pub struct RepeatedReads {
    lookback_ms: i64,
    keys: Arc<HashSet<String>>,
    /// The reads picked out of wider ones that the queries also make.
    narrowings: Arc<HashMap<String, Narrowing>>,
}

impl RepeatedReads {
    /// The reads `queries` make more than once, evaluated by `engine`.
    pub fn of<'q>(engine: &Engine, queries: impl IntoIterator<Item = &'q Query>) -> Self {
        let mut made = Reads {
            lookback_ms: engine.lookback_ms,
            counts: HashMap::new(),
            narrowings: HashMap::new(),
        };
        for query in queries {
            // Never fails: the visitor's error type is `Infallible`.
            let _ = walk_expr(&mut made, query.expr());
        }
        // A narrow read is picked out of a wider one the queries make,
        // which is then kept however often it is made.
        let mut narrowings = made.narrowings;
        narrowings.retain(|_, n| made.counts.contains_key(&n.wider_key));
        let mut keys: HashSet<String> = made
            .counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(key, _)| key)
            .collect();
        keys.extend(narrowings.values().map(|n| n.wider_key.clone()));
        RepeatedReads {
            lookback_ms: engine.lookback_ms,
            keys: Arc::new(keys),
            narrowings: Arc::new(narrowings),
        }
    }

    /// Whether these are the reads of an engine with `engine`'s lookback,
    /// which is part of every read.
    pub fn fits(&self, engine: &Engine) -> bool {
        self.lookback_ms == engine.lookback_ms
    }
}

/// The key of a read and the metrics it selects, if `expr` is one: a
/// selector, or a call whose arguments are selectors and literals, at
/// least one a selector. The key holds every detail that changes the
/// result (matchers, ranges, offsets, `@`, exact literals, the lookback).
pub(super) fn read_key(expr: &Expr, lookback_ms: i64) -> Option<(String, Option<Vec<String>>)> {
    let mut key = Key::default();
    key.int(lookback_ms);
    let mut selectors: Vec<&VectorSelector> = Vec::new();
    match expr {
        Expr::VectorSelector(vs) => {
            key.selector(vs);
            selectors.push(vs);
        }
        Expr::Call(call) => {
            key.text(call.func.name);
            for arg in &call.args.args {
                match arg.as_ref() {
                    Expr::VectorSelector(vs) => {
                        key.selector(vs);
                        selectors.push(vs);
                    }
                    Expr::MatrixSelector(ms) => {
                        key.int(duration_ms(&ms.range));
                        key.selector(&ms.vs);
                        selectors.push(&ms.vs);
                    }
                    Expr::NumberLiteral(n) => key.int(n.val.to_bits() as i64),
                    Expr::StringLiteral(s) => key.text(&s.val),
                    _ => return None,
                }
            }
            if selectors.is_empty() {
                return None;
            }
        }
        _ => return None,
    }
    let metrics: Option<Vec<String>> = selectors.iter().map(|vs| metric_of(vs).cloned()).collect();
    Some((key.0, metrics))
}

/// Counts the reads queries make, by key, and finds those that could be
/// picked out of wider ones.
struct Reads {
    lookback_ms: i64,
    counts: HashMap<String, u32>,
    narrowings: HashMap<String, Narrowing>,
}

impl ExprVisitor for Reads {
    type Error = Infallible;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Infallible> {
        let Some((key, _)) = read_key(expr, self.lookback_ms) else {
            return Ok(true);
        };
        if let Some(narrowing) = Narrowing::of(expr, self.lookback_ms) {
            self.narrowings.insert(key.clone(), narrowing);
        }
        *self.counts.entry(key).or_default() += 1;
        Ok(true)
    }
}

/// A key built field by field, each tagged or length-prefixed so that no
/// field can run into the next. Only integers and strings are written: a
/// rule evaluation in the agent touches no other formatting code.
#[derive(Default)]
struct Key(String);

impl Key {
    fn text(&mut self, text: &str) {
        self.int(text.len() as i64);
        self.0.push_str(text);
    }

    fn int(&mut self, n: i64) {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{n};");
    }

    fn selector(&mut self, vs: &VectorSelector) {
        self.0.push('{');
        self.text(vs.name.as_deref().unwrap_or(""));
        self.matchers(&vs.matchers.matchers);
        for alternative in &vs.matchers.or_matchers {
            self.0.push('|');
            self.matchers(alternative);
        }
        if let Some(offset) = &vs.offset {
            self.0.push('o');
            self.int(offset_ms(offset));
        }
        match &vs.at {
            None => {}
            Some(AtModifier::Start) => self.0.push_str("@s"),
            Some(AtModifier::End) => self.0.push_str("@e"),
            Some(AtModifier::At(t)) => {
                self.0.push('@');
                self.int(system_time_ms(t));
            }
        }
        self.0.push('}');
    }

    fn matchers(&mut self, matchers: &[ParserMatcher]) {
        for m in matchers {
            self.0.push(match m.op {
                MatchOp::Equal => '=',
                MatchOp::NotEqual => '!',
                MatchOp::Re(_) => '~',
                MatchOp::NotRe(_) => '^',
            });
            self.text(&m.name);
            self.text(&m.value);
        }
    }
}
