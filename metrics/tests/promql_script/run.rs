//! Runs parsed test scripts against our engine over a real `SeriesStore`.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use opsdeck_metrics::promql::{Engine, Query, QueryError, RangeSeries, Value, VectorSample};
use opsdeck_metrics::{
    Labels, Matcher, Piece, Queryable, SeriesSamples, SeriesStore, StoreConfig, SummaryKind,
    METRIC_NAME, STALE_NAN,
};

use super::parse::{Command, Eval, EvalKind, Expected, Load, MessageMatch, Point};

/// Why a statement was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Expects native histograms, or read series loaded with native
    /// histogram samples (incl. `load_with_nhcb`) and did not match.
    NativeHistograms,
    /// Calls a function that is out of scope (see `OUT_OF_SCOPE_FUNCTIONS`).
    OutOfScopeFunction,
    /// The expression does not parse with promql-parser although
    /// Prometheus accepts it; or it holds a string literal that is not
    /// UTF-8 (`"a\xc5z"`), which we refuse when parsing (promql-parser
    /// would decode `\xc5` as the character U+00C5) while Prometheus fails
    /// later, with an evaluation error that names the string's use, so an
    /// expected failure message cannot match.
    ParserGap,
}

#[derive(Debug, Default)]
pub struct FileReport {
    pub passed: usize,
    /// Failed statements by line, with what went wrong.
    pub failed: Vec<(usize, String)>,
    pub skipped: Vec<(SkipReason, usize, String)>,
    /// Statements whose warn/info expectations were not checked: the engine
    /// does not produce annotations.
    pub annotations_unchecked: usize,
}

/// Functions of native histograms and of experimental features: out of
/// scope (docs/promql.md).
const OUT_OF_SCOPE_FUNCTIONS: &[&str] = &[
    "info(",
    "histogram_count(",
    "histogram_sum(",
    "histogram_avg(",
    "histogram_stddev(",
    "histogram_stdvar(",
    "start_timestamp(",
    "integral(",
];

/// How `Query::parse` starts its refusal of a string literal that is not
/// UTF-8 (see [`SkipReason::ParserGap`]).
const INVALID_UTF8_LITERAL: &str = "invalid UTF-8 in string literal";

/// Wraps the store to notice queries that read series we could not load
/// (native histograms), so those statements are skipped, not failed.
struct Db {
    store: SeriesStore,
    histograms: Vec<Labels>,
    read_histogram: AtomicBool,
}

impl Db {
    fn new() -> Self {
        Db {
            store: SeriesStore::new(StoreConfig {
                retention_ms: None,
                ..Default::default()
            }),
            histograms: Vec::new(),
            read_histogram: AtomicBool::new(false),
        }
    }
}

impl Db {
    /// Remembers whether `matchers` select a series with native histogram
    /// samples.
    fn note_histogram_read(&self, matchers: &[Matcher]) {
        if self
            .histograms
            .iter()
            .any(|h| matchers.iter().all(|m| m.matches(h)))
        {
            self.read_histogram.store(true, Ordering::Relaxed);
        }
    }
}

impl Queryable for Db {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.note_histogram_read(matchers);
        self.store.select(matchers, mint, maxt)
    }

    /// The store's own, so that range functions over windows covering whole
    /// chunks are tested as they run: from the chunks' summaries.
    fn for_each_summarised(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        kind: SummaryKind,
        visit: &mut dyn FnMut(&Labels, &[Piece<'_>]),
    ) {
        self.note_histogram_read(matchers);
        self.store
            .for_each_summarised(matchers, mint, maxt, kind, visit);
    }
}

pub fn run_script(commands: &[Command]) -> FileReport {
    let mut report = FileReport::default();
    let mut db = Db::new();
    let engine = Engine::default();
    for command in commands {
        match command {
            Command::Clear => db = Db::new(),
            Command::Load(load) => {
                if let Err(message) = apply_load(&mut db, load) {
                    report
                        .failed
                        .push((load.line, format!("load failed: {message}")));
                }
            }
            Command::Eval(eval) => run_eval(&db, &engine, eval, &mut report),
        }
    }
    report
}

/// Appends a `load` block. A series listed twice is merged, the later
/// line winning where both have a value, as in Prometheus's test storage.
/// Series with native histogram samples are remembered, so that statements
/// reading them are skipped when they do not match.
fn apply_load(db: &mut Db, load: &Load) -> Result<(), String> {
    let mut merged: BTreeMap<&Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for series in &load.series {
        if series.points.contains(&Point::Histogram) {
            db.histograms.push(series.labels.clone());
        }
        if load.with_nhcb {
            if let Some(base) = series
                .labels
                .metric_name()
                .and_then(|n| n.strip_suffix("_bucket"))
            {
                let mut native = series.labels.clone();
                native.set(METRIC_NAME, base);
                native.remove("le");
                db.histograms.push(native);
            }
        }
        let points = merged.entry(&series.labels).or_default();
        for (i, point) in series.points.iter().enumerate() {
            let t = i as i64 * load.interval;
            match point {
                Point::Value(v) => {
                    points.insert(t, *v);
                }
                // The store holds floats only. A stale marker in the
                // histogram's place makes float functions skip it, as
                // Prometheus's do, instead of reusing an older float.
                Point::Histogram => {
                    points.insert(t, STALE_NAN);
                }
                Point::Omitted => {}
            }
        }
    }
    for (labels, points) in merged {
        for (t, v) in points {
            db.store.append(labels, t, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn skip_reason(eval: &Eval) -> Option<SkipReason> {
    let expects_histogram = eval.expected.iter().any(|e| match e {
        Expected::Series(s) => s.points.contains(&Point::Histogram),
        Expected::Scalar(_) => false,
    });
    if expects_histogram {
        return Some(SkipReason::NativeHistograms);
    }
    if OUT_OF_SCOPE_FUNCTIONS.iter().any(|f| eval.expr.contains(f)) {
        return Some(SkipReason::OutOfScopeFunction);
    }
    None
}

fn run_eval(db: &Db, engine: &Engine, eval: &Eval, report: &mut FileReport) {
    if let Some(reason) = skip_reason(eval) {
        report.skipped.push((reason, eval.line, eval.expr.clone()));
        return;
    }
    db.read_histogram.store(false, Ordering::Relaxed);
    let outcome = match Query::parse(&eval.expr) {
        Ok(query) => execute(db, engine, eval, &query),
        Err(QueryError::Parse(message))
            if !eval.fail
                || (message.starts_with(INVALID_UTF8_LITERAL)
                    && check_fail_message(eval, &message).is_err()) =>
        {
            report.skipped.push((
                SkipReason::ParserGap,
                eval.line,
                format!("{} ({message})", eval.expr),
            ));
            return;
        }
        Err(e) => Err(e),
    };
    let verdict = match (outcome, eval.fail) {
        (Err(e), true) => check_fail_message(eval, &e.to_string()),
        (Ok(_), true) => Err("expected the query to fail, it succeeded".to_string()),
        (Err(e), false) => Err(format!("query failed: {e}")),
        (Ok(result), false) => {
            let plain_instant = matches!(
                result,
                Outcome::Instant(Value::Vector(_) | Value::Scalar { .. })
            );
            check_result(eval, result).and_then(|()| {
                if plain_instant && !eval.ordered {
                    check_as_range_query(db, engine, eval)
                } else {
                    Ok(())
                }
            })
        }
    };
    // A statement that read series we could not load (native histograms)
    // still counts when its float results match; when they do not, the
    // missing samples may be why, so it is skipped rather than failed.
    if let (Err(why), true) = (&verdict, db.read_histogram.load(Ordering::Relaxed)) {
        report.skipped.push((
            SkipReason::NativeHistograms,
            eval.line,
            format!("{} ({why})", eval.expr),
        ));
        return;
    }
    match verdict {
        Ok(()) => {
            report.passed += 1;
            if !eval.annotations.is_empty() {
                report.annotations_unchecked += 1;
            }
        }
        Err(why) => report
            .failed
            .push((eval.line, format!("{}: {why}", eval.expr))),
    }
}

enum Outcome {
    Instant(Value),
    Range(Vec<RangeSeries>),
}

fn execute(db: &Db, engine: &Engine, eval: &Eval, query: &Query) -> Result<Outcome, QueryError> {
    match eval.kind {
        EvalKind::Instant { at } => engine.instant(db, query, at).map(Outcome::Instant),
        EvalKind::Range { start, end, step } => engine
            .range(db, query, start, end, step)
            .map(Outcome::Range),
    }
}

/// Like Prometheus's harness: an instant query must give the same result
/// as the middle step of a range query from a minute before to a minute
/// after, which exercises the range evaluation path too.
fn check_as_range_query(db: &Db, engine: &Engine, eval: &Eval) -> Result<(), String> {
    let EvalKind::Instant { at } = eval.kind else {
        return Ok(());
    };
    // These functions return the query's own start, end, step and range,
    // which differ between the two modes by definition.
    let query_bound = ["start()", "end()", "step()", "range()"].iter().any(|f| {
        eval.expr
            .replace("@ start()", "")
            .replace("@ end()", "")
            .contains(f)
    });
    if query_bound {
        return Ok(());
    }
    let query = Query::parse(&eval.expr).map_err(|e| e.to_string())?;
    let series = engine
        .range(db, &query, at - 60_000, at + 60_000, 60_000)
        .map_err(|e| format!("as a range query: {e}"))?;
    let at_step: Vec<VectorSample> = series
        .into_iter()
        .filter_map(|s| {
            let v = s.samples.iter().find(|p| p.t == at)?.v;
            Some(VectorSample {
                labels: s.labels,
                t: at,
                v,
            })
        })
        .collect();
    let value = match eval.expected.as_slice() {
        [Expected::Scalar(_)] => Value::Scalar {
            t: at,
            v: at_step.first().map_or(f64::NAN, |s| s.v),
        },
        _ => Value::Vector(at_step),
    };
    check_result(eval, Outcome::Instant(value)).map_err(|e| format!("as a range query: {e}"))
}

fn check_fail_message(eval: &Eval, message: &str) -> Result<(), String> {
    let message = message
        .strip_prefix("execution error: ")
        .or_else(|| message.strip_prefix("parse error: "))
        .unwrap_or(message);
    match &eval.fail_message {
        None => Ok(()),
        Some(MessageMatch::Exact(want)) if message == want => Ok(()),
        Some(MessageMatch::Regex(re))
            if regex::Regex::new(re).is_ok_and(|r| r.is_match(message)) =>
        {
            Ok(())
        }
        Some(want) => Err(format!("failed with {message:?}, expected {want:?}")),
    }
}

fn check_result(eval: &Eval, outcome: Outcome) -> Result<(), String> {
    match outcome {
        Outcome::Instant(Value::Scalar { v, .. }) => match eval.expected.as_slice() {
            [Expected::Scalar(want)] if same_value(*want, v) => Ok(()),
            other => Err(format!("got scalar {v}, expected {other:?}")),
        },
        Outcome::Instant(Value::String { s, .. }) => match &eval.string {
            Some(want) if *want == s => Ok(()),
            want => Err(format!("got string {s:?}, expected {want:?}")),
        },
        Outcome::Instant(Value::Vector(samples)) => {
            let got: Vec<(Labels, Vec<Option<f64>>)> = samples
                .into_iter()
                .map(|s| (s.labels, vec![Some(s.v)]))
                .collect();
            compare_series(eval, got, 1)
        }
        Outcome::Instant(Value::Matrix(series)) => {
            let Some((start, end, step)) = eval.range_vector else {
                return Err("got a range vector without `expect range vector`".into());
            };
            compare_series(
                eval,
                to_steps(series, start, end, step),
                steps(start, end, step),
            )
        }
        Outcome::Range(series) => {
            let EvalKind::Range { start, end, step } = eval.kind else {
                return Err("range result for an instant query".into());
            };
            compare_series(
                eval,
                to_steps(series, start, end, step),
                steps(start, end, step),
            )
        }
    }
}

fn steps(start: i64, end: i64, step: i64) -> usize {
    ((end - start) / step) as usize + 1
}

/// Lays samples out on the step grid; samples off the grid are kept as a
/// mismatch marker (a NaN-free impossible value would hide them).
fn to_steps(
    series: Vec<RangeSeries>,
    start: i64,
    end: i64,
    step: i64,
) -> Vec<(Labels, Vec<Option<f64>>)> {
    let n = steps(start, end, step);
    series
        .into_iter()
        .map(|s| {
            let mut points = vec![None; n];
            for p in s.samples {
                let offset = p.t - start;
                if offset % step == 0 && offset >= 0 && (offset / step) < n as i64 {
                    points[(offset / step) as usize] = Some(p.v);
                }
            }
            (s.labels, points)
        })
        .collect()
}

fn compare_series(
    eval: &Eval,
    got: Vec<(Labels, Vec<Option<f64>>)>,
    n: usize,
) -> Result<(), String> {
    let mut expected: Vec<(&Labels, Vec<Option<f64>>)> = Vec::new();
    for e in &eval.expected {
        match e {
            Expected::Series(s) => {
                let mut points: Vec<Option<f64>> = s
                    .points
                    .iter()
                    .map(|p| match p {
                        Point::Value(v) => Some(*v),
                        _ => None,
                    })
                    .collect();
                points.resize(n, None);
                expected.push((&s.labels, points));
            }
            Expected::Scalar(v) => return Err(format!("expected scalar {v}, got a vector")),
        }
    }
    let got_labels: HashSet<&Labels> = got.iter().map(|(l, _)| l).collect();
    for (labels, points) in &expected {
        let Some((_, got_points)) = got.iter().find(|(l, _)| l == *labels) else {
            return Err(format!("missing series {labels}; got {}", summary(&got)));
        };
        if got_points.len() != points.len()
            || !got_points.iter().zip(points).all(|(g, w)| match (g, w) {
                (Some(g), Some(w)) => same_value(*w, *g),
                (None, None) => true,
                _ => false,
            })
        {
            return Err(format!("{labels}: got {got_points:?}, expected {points:?}"));
        }
    }
    if got.len() != expected.len() || got_labels.len() != got.len() {
        return Err(format!(
            "got {} series, expected {}: {}",
            got.len(),
            expected.len(),
            summary(&got)
        ));
    }
    if eval.ordered {
        let order_ok = got.iter().zip(&expected).all(|((g, _), (w, _))| g == *w);
        if !order_ok {
            return Err(format!("wrong order: {}", summary(&got)));
        }
    }
    Ok(())
}

fn summary(got: &[(Labels, Vec<Option<f64>>)]) -> String {
    let parts: Vec<String> = got
        .iter()
        .take(6)
        .map(|(l, p)| format!("{l} {p:?}"))
        .collect();
    parts.join("; ")
}

/// Prometheus's test comparison: equal NaN-ness, else relative 1e-6.
fn same_value(want: f64, got: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want == got {
        return true;
    }
    let abs_sum = want.abs() + got.abs();
    let diff = (want - got).abs();
    if want == 0.0 || got == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}
