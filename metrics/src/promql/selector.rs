//! Vector and matrix selectors: one read from the store per selector per
//! query, then a walk over the samples for every step.

use promql_parser::label::{MatchOp as ParserOp, Matcher as ParserMatcher};
use promql_parser::parser::{MatrixSelector, VectorSelector};

use super::eval::{duration_ms, Evaluator, SampleSeries, Series, Steps};
use crate::store::SeriesSamples;
use crate::{is_stale_nan, MatchOp, Matcher, METRIC_NAME};

/// A range-vector argument: the samples of each series, with the window
/// `(end - range_ms, end]` every step looks at.
#[derive(Debug)]
pub(crate) struct Windows {
    pub series: Vec<SampleSeries>,
    pub range_ms: i64,
    /// Window end per step; never decreasing.
    pub ends: Vec<i64>,
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
    let selected = select(
        ev,
        vs,
        min_ref.saturating_sub(ev.lookback_ms) + 1,
        max_ref,
        read,
    );
    let mut out = Vec::with_capacity(selected.len());
    for s in selected {
        let mut points = Vec::with_capacity(refs.len());
        let mut next = 0;
        for &r in &refs {
            while next < s.samples.len() && s.samples[next].t <= r {
                next += 1;
            }
            let point = next
                .checked_sub(1)
                .map(|i| s.samples[i])
                .filter(|p| p.t > r.saturating_sub(ev.lookback_ms) && !is_stale_nan(p.v))
                .map(|p| if timestamps { p.t as f64 / 1000.0 } else { p.v });
            points.push(point);
        }
        if points.iter().any(Option::is_some) {
            out.push(Series {
                labels: s.labels,
                drop_name: false,
                points,
            });
        }
    }
    out
}

/// A matrix selector's samples for all steps. Stale markers are dropped:
/// range vectors never contain them.
pub(crate) fn matrix(ev: &Evaluator, ms: &MatrixSelector, steps: &Steps) -> Windows {
    let range_ms = duration_ms(&ms.range);
    let ends = ev.reference_times(steps, ms.vs.at.as_ref(), ms.vs.offset.as_ref());
    let (min_end, max_end) = (ends[0], ends[ends.len() - 1]);
    let mint = min_end.saturating_sub(range_ms) + 1;
    let series = select(ev, &ms.vs, mint, max_end, Read::All)
        .into_iter()
        .filter_map(|mut s| {
            s.samples.retain(|p| !is_stale_nan(p.v));
            (!s.samples.is_empty()).then_some(SampleSeries {
                labels: s.labels,
                drop_name: false,
                samples: s.samples,
            })
        })
        .collect();
    Windows {
        series,
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
    ev: &Evaluator,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
    read: Read,
) -> Vec<SeriesSamples> {
    if mint > maxt {
        return Vec::new();
    }
    let alternatives: Vec<&[ParserMatcher]> = if vs.matchers.or_matchers.is_empty() {
        vec![&vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers.iter().map(Vec::as_slice).collect()
    };
    let mut all: Vec<SeriesSamples> = Vec::new();
    for alternative in alternatives {
        let mut matchers = Vec::with_capacity(alternative.len() + 1);
        if let Some(name) = &vs.name {
            matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
        }
        for m in alternative {
            matchers.push(convert_matcher(m));
        }
        all.extend(match read {
            Read::All => ev.db.select(&matchers, mint, maxt),
            Read::Newest => ev.db.select_newest(&matchers, mint, maxt),
        });
    }
    if !vs.matchers.or_matchers.is_empty() {
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        all.dedup_by(|a, b| a.labels == b.labels);
    }
    all
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

fn anchored(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?s:{pattern})$")).ok()
}
