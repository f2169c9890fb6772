//! Vector and matrix selectors: one read from the store per selector per
//! query, then a walk over the samples for every step.

use std::collections::HashMap;
use std::sync::LazyLock;

use parking_lot::Mutex;
use promql_parser::label::{MatchOp as ParserOp, Matcher as ParserMatcher};
use promql_parser::parser::{MatrixSelector, VectorSelector};

use super::eval::{duration_ms, Evaluator, Points, SampleSeries, Series, Steps};
use crate::store::SeriesSamples;
use crate::{
    is_stale_nan, Labels, MatchOp, Matcher, Piece, Queryable, Sample, SummaryKind, METRIC_NAME,
};

/// A range-vector argument: the samples of each series, with the window
/// `(end - range_ms, end]` every step looks at.
pub(crate) struct Windows<'a> {
    source: Source<'a>,
    pub range_ms: i64,
    /// Window end per step; never decreasing.
    pub ends: Vec<i64>,
}

/// Where the series of a range vector come from.
enum Source<'a> {
    /// A matrix selector, read from the store one series at a time when
    /// the windows are walked: a range function over thousands of series
    /// holds one series' samples at a time, not all of them.
    Selector {
        db: &'a dyn Queryable,
        vs: &'a VectorSelector,
        mint: i64,
        maxt: i64,
    },
    /// Series already evaluated (a subquery's).
    Evaluated(Vec<SampleSeries>),
}

impl<'a> Windows<'a> {
    /// The windows of series evaluated elsewhere.
    pub fn evaluated(series: Vec<SampleSeries>, range_ms: i64, ends: Vec<i64>) -> Self {
        Windows {
            source: Source::Evaluated(series),
            range_ms,
            ends,
        }
    }

    /// Calls `f` with each series that has samples: its labels, whether
    /// its name is to be dropped, and its samples (oldest first, covering
    /// every step's window, without stale markers). Each call's samples
    /// are only valid during the call.
    pub fn for_each_series(&self, mut f: impl FnMut(&Labels, bool, &[Sample])) {
        match &self.source {
            Source::Evaluated(series) => {
                for s in series {
                    f(&s.labels, s.drop_name, &s.samples);
                }
            }
            Source::Selector { db, vs, mint, maxt } => {
                let mut kept: Vec<Sample> = Vec::new();
                for_each_selected(*db, vs, *mint, *maxt, Read::All, &mut |labels, samples| {
                    let samples = without_stale_markers(samples, &mut kept);
                    if !samples.is_empty() {
                        f(labels, false, samples);
                    }
                });
            }
        }
    }
}

/// Range vectors never contain stale markers: `samples` as they are, or
/// when they hold one, copied without them into `kept`.
pub(crate) fn without_stale_markers<'s>(
    samples: &'s [Sample],
    kept: &'s mut Vec<Sample>,
) -> &'s [Sample] {
    // Every sample is looked at, without stopping at the first marker:
    // the loop then has no branch per sample, and there is rarely one.
    let has_marker = samples
        .iter()
        .fold(false, |found, p| found | is_stale_nan(p.v));
    if !has_marker {
        return samples;
    }
    kept.clear();
    kept.extend(samples.iter().filter(|p| !is_stale_nan(p.v)));
    kept
}

impl Windows<'_> {
    /// Calls `f` with each series of a single window read straight from
    /// the store, as [`Queryable::for_each_summarised`] hands it over:
    /// runs of samples (stale markers included) and summaries of runs.
    /// Returns false, calling nothing, for the windows of more than one
    /// step, of a subquery, or of a selector with `or` alternatives (which
    /// is read whole to be merged): those have samples only.
    pub fn for_each_summarised(
        &self,
        kind: SummaryKind,
        mut f: impl FnMut(&Labels, &[Piece<'_>]),
    ) -> bool {
        let Some((db, vs, mint, maxt)) = self.single_window() else {
            return false;
        };
        if mint <= maxt {
            let matchers = matchers_of(vs, &vs.matchers.matchers);
            db.for_each_summarised(&matchers, mint, maxt, kind, &mut f);
        }
        true
    }

    /// Calls `f` with each series' newest sample in a single window read
    /// straight from the store (a stale marker too), as
    /// [`Queryable::for_each_newest`] hands it over: a store has it without
    /// decoding the window. Returns false, calling nothing, where
    /// [`Windows::for_each_summarised`] does.
    pub fn for_each_newest(&self, mut f: impl FnMut(&Labels, &[Sample])) -> bool {
        let Some((db, vs, mint, maxt)) = self.single_window() else {
            return false;
        };
        if mint <= maxt {
            let matchers = matchers_of(vs, &vs.matchers.matchers);
            db.for_each_newest(&matchers, mint, maxt, &mut f);
        }
        true
    }

    /// The selector and range of a single window read straight from the
    /// store; `None` for the windows of more than one step, of a subquery,
    /// or of a selector with `or` alternatives.
    /// The most series the windows' read from the store visits, where
    /// the store knows (else 0): what a function's output is sized for.
    pub fn series_hint(&self) -> usize {
        match &self.source {
            Source::Selector { db, vs, .. } => selected_hint(*db, vs),
            Source::Evaluated(series) => series.len(),
        }
    }

    fn single_window(&self) -> Option<(&dyn Queryable, &VectorSelector, i64, i64)> {
        let Source::Selector { db, vs, mint, maxt } = &self.source else {
            return None;
        };
        if self.ends.len() != 1 || !vs.matchers.or_matchers.is_empty() {
            return None;
        }
        Some((*db, vs, *mint, *maxt))
    }
}

/// The vector selector at every step: the newest sample within the lookback
/// window, unless that sample is a stale marker. With `timestamps`, the
/// value is the sample's timestamp in seconds (for `timestamp()`).
pub(crate) fn instant_vector(
    ev: &Evaluator,
    vs: &VectorSelector,
    steps: &Steps,
    timestamps: bool,
) -> Vec<Series> {
    let refs = ev.reference_times(steps, vs.at.as_ref(), vs.offset.as_ref());
    let (min_ref, max_ref) = (refs[0], refs[refs.len() - 1]);
    // At a single reference time only each series' newest sample counts.
    let read = if min_ref == max_ref {
        Read::Newest
    } else {
        Read::All
    };
    let mint = min_ref.saturating_sub(ev.lookback_ms) + 1;
    let mut out = Vec::with_capacity(selected_hint(ev.db, vs));
    for_each_selected(ev.db, vs, mint, max_ref, read, &mut |labels, samples| {
        let mut points = Points::with_capacity(refs.len());
        let mut next = 0;
        for &r in &refs {
            while next < samples.len() && samples[next].t <= r {
                next += 1;
            }
            let point = next
                .checked_sub(1)
                .map(|i| samples[i])
                .filter(|p| p.t > r.saturating_sub(ev.lookback_ms) && !is_stale_nan(p.v))
                .map(|p| if timestamps { p.t as f64 / 1000.0 } else { p.v });
            points.push(point);
        }
        if points.iter().any(Option::is_some) {
            out.push(Series {
                labels: labels.clone(),
                drop_name: false,
                points,
            });
        }
    });
    out
}

/// A matrix selector's windows for all steps; the store is read when they
/// are walked.
pub(crate) fn matrix<'a>(ev: &Evaluator<'a>, ms: &'a MatrixSelector, steps: &Steps) -> Windows<'a> {
    let range_ms = duration_ms(&ms.range);
    let ends = ev.reference_times(steps, ms.vs.at.as_ref(), ms.vs.offset.as_ref());
    let (min_end, max_end) = (ends[0], ends[ends.len() - 1]);
    Windows {
        source: Source::Selector {
            db: ev.db,
            vs: &ms.vs,
            mint: min_end.saturating_sub(range_ms) + 1,
            maxt: max_end,
        },
        range_ms,
        ends,
    }
}

/// Which samples of `[mint, maxt]` a selector needs.
#[derive(Clone, Copy)]
enum Read {
    All,
    Newest,
}

/// Reads the selector's series with samples in `[mint, maxt]`. A selector
/// with `or` alternatives reads each and merges them.
fn select(
    db: &dyn Queryable,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
    read: Read,
) -> Vec<SeriesSamples> {
    if mint > maxt {
        return Vec::new();
    }
    let mut all: Vec<SeriesSamples> = Vec::new();
    for matchers in alternatives(vs) {
        all.extend(match read {
            Read::All => db.select(&matchers, mint, maxt),
            Read::Newest => db.select_newest(&matchers, mint, maxt),
        });
    }
    if !vs.matchers.or_matchers.is_empty() {
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        all.dedup_by(|a, b| a.labels == b.labels);
    }
    all
}

/// Calls `visit` with each of the selector's series with samples in
/// `[mint, maxt]` (all of them, or the newest), in label order, as
/// [`select`] would return them. A selector without `or` alternatives (the
/// usual case) streams from the store; one with them is read whole to be
/// merged.
fn for_each_selected(
    db: &dyn Queryable,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
    read: Read,
    visit: &mut dyn FnMut(&Labels, &[Sample]),
) {
    if mint > maxt {
        return;
    }
    if vs.matchers.or_matchers.is_empty() {
        let matchers = matchers_of(vs, &vs.matchers.matchers);
        match read {
            Read::All => db.for_each_selected(&matchers, mint, maxt, visit),
            Read::Newest => db.for_each_newest(&matchers, mint, maxt, visit),
        }
        return;
    }
    for s in &select(db, vs, mint, maxt, read) {
        visit(&s.labels, &s.samples);
    }
}

/// How many series a read of `vs` visits at most, where the store knows
/// (else 0). Alternatives joined by `or` are merged and not counted.
fn selected_hint(db: &dyn Queryable, vs: &VectorSelector) -> usize {
    if !vs.matchers.or_matchers.is_empty() {
        return 0;
    }
    db.count_selected(&matchers_of(vs, &vs.matchers.matchers))
        .unwrap_or(0)
}

/// The store matchers of each `or` alternative of a selector (just one
/// without `or`), the metric name included.
fn alternatives(vs: &VectorSelector) -> impl Iterator<Item = Vec<Matcher>> + '_ {
    let alternatives: Vec<&[ParserMatcher]> = if vs.matchers.or_matchers.is_empty() {
        vec![&vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers.iter().map(Vec::as_slice).collect()
    };
    alternatives.into_iter().map(|a| matchers_of(vs, a))
}

pub(crate) fn matchers_of(vs: &VectorSelector, alternative: &[ParserMatcher]) -> Vec<Matcher> {
    let mut matchers = Vec::with_capacity(alternative.len() + 1);
    if let Some(name) = &vs.name {
        matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
    }
    matchers.extend(alternative.iter().map(convert_matcher));
    matchers
}

/// Converts a parsed matcher to the store's. Regexes are rebuilt anchored
/// with `(?s:…)` so that `.` matches newlines, as in Prometheus; the
/// parser's own compiled regex is the fallback for Go syntax it rewrites.
pub(crate) fn convert_matcher(m: &ParserMatcher) -> Matcher {
    let op = match &m.op {
        ParserOp::Equal => MatchOp::Equal(m.value.clone()),
        ParserOp::NotEqual => MatchOp::NotEqual(m.value.clone()),
        ParserOp::Re(parsed) => {
            MatchOp::Regex(anchored(&m.value).unwrap_or_else(|| parsed.clone()))
        }
        ParserOp::NotRe(parsed) => {
            MatchOp::NotRegex(anchored(&m.value).unwrap_or_else(|| parsed.clone()))
        }
    };
    Matcher {
        name: m.name.clone(),
        op,
    }
}

/// Anchored regexes compiled so far, by pattern: a rule's selector is
/// converted at every evaluation, and compiling its regex took more
/// instructions than reading the hundreds of series it selects.
static ANCHORED: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> =
    LazyLock::new(Mutex::default);

/// Patterns kept in [`ANCHORED`] at most: rules have a few dozen; ad hoc
/// queries could add any number.
const MAX_ANCHORED: usize = 1024;

fn anchored(pattern: &str) -> Option<regex::Regex> {
    let mut compiled = ANCHORED.lock();
    if let Some(regex) = compiled.get(pattern) {
        return regex.clone();
    }
    if compiled.len() >= MAX_ANCHORED {
        compiled.clear();
    }
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).ok();
    compiled.insert(pattern.to_string(), regex.clone());
    regex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_regexes_are_compiled_once_and_kept_within_bounds() {
        let first = anchored("5..").expect("a valid pattern");
        let again = anchored("5..").expect("a valid pattern");
        assert_eq!(first.as_str(), again.as_str());
        assert!(first.is_match("503") && !first.is_match("1503"));
        assert!(anchored("(").is_none(), "left to the parser's own regex");
        for i in 0..MAX_ANCHORED + 10 {
            anchored(&format!("p{i}"));
        }
        assert!(ANCHORED.lock().len() <= MAX_ANCHORED);
    }
}
