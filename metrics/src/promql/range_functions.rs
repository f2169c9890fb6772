//! Functions over range vectors: `rate` and friends and the `*_over_time`
//! family. Each is computed per series over the window of every step.

use super::eval::{Points, Series, Steps};
use super::math::{kahan_sum_inc, quantile, KahanSum, Mean, Variance};
use super::selector::{without_stale_markers, Windows};
use super::variance_lanes::map_variances;
use super::QueryError;
use crate::summary::{Extremes, FitSums, Moments, Sums};
use crate::{is_stale_nan, Piece, Sample, SamplesSummary, SummaryKind};

/// What a function sees of one window besides its samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Exclusive start and inclusive end of the window, in milliseconds.
    pub start: i64,
    pub end: i64,
    /// The step's evaluation time.
    pub eval_time: i64,
    pub step: usize,
}

/// Applies `f` to every non-empty window of every series. The name is
/// dropped unless `keeps_name`. The series are walked one at a time, so
/// only one series' samples are in memory (see [`Windows`]).
pub(crate) fn map_windows(
    windows: &Windows,
    steps: &Steps,
    keeps_name: bool,
    mut f: impl FnMut(&[Sample], Window) -> Option<f64>,
) -> Vec<Series> {
    let (ends, range_ms) = (&windows.ends, windows.range_ms);
    let mut out = Vec::with_capacity(windows.series_hint());
    // Each series' points are computed here, and copied out only for a
    // series that has one.
    let mut points = Points::from_elem(None, steps.count);
    windows.for_each_series(|labels, drop_name, samples| {
        points.fill(None);
        for_each_window(ends, range_ms, samples, |step, samples| {
            if samples.is_empty() {
                return;
            }
            let window = Window {
                start: ends[step].saturating_sub(range_ms),
                end: ends[step],
                eval_time: steps.time(step),
                step,
            };
            points[step] = f(samples, window);
        });
        if points.iter().any(Option::is_some) {
            out.push(Series {
                labels: labels.clone(),
                drop_name: drop_name || !keeps_name,
                points: points.clone(),
            });
        }
    });
    out
}

/// Like [`map_windows`], for a function that can also be computed from the
/// summary of a window's samples (`from_summary`). A single window read
/// from the store may then come as summaries of the closed chunks it
/// covers whole, and is computed from their merged summary without
/// decoding them; a window that comes as samples alone (every window of a
/// range query or a subquery, and most short ones) is computed from the
/// samples by `from_samples`, as [`map_windows`] does. `reads` is what
/// `from_summary` reads of a summary.
fn map_summarisable(
    windows: &Windows,
    steps: &Steps,
    keeps_name: bool,
    reads: SummaryKind,
    mut from_samples: impl FnMut(&[Sample], Window) -> Option<f64>,
    from_summary: impl FnMut(&SamplesSummary, Window) -> Option<f64>,
) -> Vec<Series> {
    let summarised = map_summarised(
        windows,
        steps,
        keeps_name,
        reads,
        &mut from_samples,
        from_summary,
    );
    summarised.unwrap_or_else(|| map_windows(windows, steps, keeps_name, from_samples))
}

/// The single window of [`map_summarisable`], read from the store with
/// summaries; `None` when the windows are not a single one read from the
/// store.
fn map_summarised(
    windows: &Windows,
    steps: &Steps,
    keeps_name: bool,
    reads: SummaryKind,
    mut from_samples: impl FnMut(&[Sample], Window) -> Option<f64>,
    mut from_summary: impl FnMut(&SamplesSummary, Window) -> Option<f64>,
) -> Option<Vec<Series>> {
    let end = windows.ends.first().copied().unwrap_or(steps.start);
    let window = Window {
        start: end.saturating_sub(windows.range_ms),
        end,
        eval_time: steps.time(0),
        step: 0,
    };
    let mut out = Vec::with_capacity(windows.series_hint());
    let mut kept = Vec::new();
    let summarised = windows.for_each_summarised(reads, |labels, pieces| {
        let value = match pieces {
            [Piece::Samples(samples)] => {
                let samples = without_stale_markers(samples, &mut kept);
                if samples.is_empty() {
                    return;
                }
                from_samples(samples, window)
            }
            _ => {
                let sums = Sums::of_kind(reads);
                let mut merged: Option<SamplesSummary> = None;
                for piece in pieces {
                    match (&mut merged, piece) {
                        (Some(merged), Piece::Summary(next)) => merged.merge(next),
                        (Some(merged), Piece::Samples(next)) => merged.merge_samples(next, sums),
                        (None, Piece::Summary(first)) => merged = Some(**first),
                        (None, Piece::Samples(first)) => merged = SamplesSummary::of(first, sums),
                    }
                }
                let Some(summary) = merged else { return };
                from_summary(&summary, window)
            }
        };
        if value.is_some() {
            out.push(Series {
                labels: labels.clone(),
                drop_name: !keeps_name,
                points: Points::from_elem(value, 1),
            });
        }
    });
    summarised.then_some(out)
}

/// A function of a single window that only needs the window's last sample
/// (`last_over_time`, `present_over_time`): `f` of each series' newest
/// sample, which the store has without decoding the window. `None` when
/// the windows are not a single one read from the store, or when a series'
/// newest sample is a stale marker: a range leaves those out, so its last
/// sample is an older one, and the windows must be read whole.
fn map_newest(
    windows: &Windows,
    keeps_name: bool,
    f: impl Fn(Sample) -> f64,
) -> Option<Vec<Series>> {
    let mut out = Vec::with_capacity(windows.series_hint());
    let mut stale = false;
    let read = windows.for_each_newest(|labels, newest| match newest.last() {
        Some(p) if is_stale_nan(p.v) => stale = true,
        Some(&p) => out.push(Series {
            labels: labels.clone(),
            drop_name: !keeps_name,
            points: Points::from_elem(Some(f(p)), 1),
        }),
        None => {}
    });
    (read && !stale).then_some(out)
}

/// Calls `f` with the samples of `samples` inside each window
/// `(end - range_ms, end]`; the ends never decrease, so two cursors do.
pub(crate) fn for_each_window<'s>(
    ends: &[i64],
    range_ms: i64,
    samples: &'s [Sample],
    mut f: impl FnMut(usize, &'s [Sample]),
) {
    let (mut lo, mut hi) = (0, 0);
    for (step, &end) in ends.iter().enumerate() {
        let start = end.saturating_sub(range_ms);
        while hi < samples.len() && samples[hi].t <= end {
            hi += 1;
        }
        while lo < hi && samples[lo].t <= start {
            lo += 1;
        }
        f(step, &samples[lo..hi]);
    }
}

/// The per-window computation of a range function, by name. `scalars` are
/// the extra scalar arguments (`predict_linear`'s duration,
/// `quantile_over_time`'s quantile, the smoothing factors), one value per
/// step each.
pub(crate) fn compute(
    name: &str,
    windows: &Windows,
    steps: &Steps,
    scalars: &[Vec<f64>],
) -> Result<Vec<Series>, QueryError> {
    let range_s = windows.range_ms as f64 / 1000.0;
    let scalar_at = |step: usize| scalars.first().map_or(f64::NAN, |s| s[step]);
    let out = match name {
        "rate" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, w| extrapolated_delta(s, w, true).map(|d| d / range_s),
            |s, w| summary_delta(s, w, true).map(|d| d / range_s),
        ),
        "increase" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, w| extrapolated_delta(s, w, true),
            |s, w| summary_delta(s, w, true),
        ),
        "delta" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, w| extrapolated_delta(s, w, false),
            |s, w| summary_delta(s, w, false),
        ),
        "irate" => map_windows(windows, steps, false, |s, _| instant_delta(s, true)),
        "idelta" => map_windows(windows, steps, false, |s, _| instant_delta(s, false)),
        "deriv" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Fit,
            |s, _| (s.len() >= 2).then(|| linear_regression(s, s[0].t).0),
            |s, _| {
                let fitted = (s.count >= 2).then(|| summary_regression(s, s.first.t));
                fitted.flatten().map(|(slope, _)| slope)
            },
        ),
        "predict_linear" => {
            let predict =
                |(slope, intercept): (f64, f64), w: Window| slope * scalar_at(w.step) + intercept;
            map_summarisable(
                windows,
                steps,
                false,
                SummaryKind::Fit,
                |s, w| (s.len() >= 2).then(|| predict(linear_regression(s, w.eval_time), w)),
                |s, w| {
                    let fitted = (s.count >= 2).then(|| summary_regression(s, w.eval_time));
                    fitted.flatten().map(|line| predict(line, w))
                },
            )
        }
        "resets" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, _| Some(s.windows(2).filter(|p| p[1].v < p[0].v).count() as f64),
            |s, _| Some(f64::from(s.resets)),
        ),
        "changes" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, _| {
                Some(
                    s.windows(2)
                        .filter(|p| !(p[1].v == p[0].v || (p[1].v.is_nan() && p[0].v.is_nan())))
                        .count() as f64,
                )
            },
            |s, _| Some(f64::from(s.changes)),
        ),
        "avg_over_time" => map_moments(
            windows,
            steps,
            |s| {
                let mut mean = Mean::default();
                s.iter().for_each(|p| mean.add(p.v));
                mean.value()
            },
            |m, count| m.sum / f64::from(count),
        ),
        "sum_over_time" => map_moments(
            windows,
            steps,
            |s| {
                let mut sum = KahanSum::default();
                s.iter().for_each(|p| sum.add(p.v));
                sum.value()
            },
            |m, _| m.sum,
        ),
        "min_over_time" => extreme_over_time(windows, steps, |v, m| v < m, |e| e.min),
        "max_over_time" => extreme_over_time(windows, steps, |v, m| v > m, |e| e.max),
        "count_over_time" => map_summarisable(
            windows,
            steps,
            false,
            SummaryKind::Totals,
            |s, _| Some(s.len() as f64),
            |s, _| Some(f64::from(s.count)),
        ),
        "present_over_time" => map_newest(windows, false, |_| 1.0).unwrap_or_else(|| {
            map_summarisable(
                windows,
                steps,
                false,
                SummaryKind::Totals,
                |_, _| Some(1.0),
                |_, _| Some(1.0),
            )
        }),
        "last_over_time" => map_newest(windows, true, |p| p.v).unwrap_or_else(|| {
            map_summarisable(
                windows,
                steps,
                true,
                SummaryKind::Totals,
                |s, _| s.last().map(|p| p.v),
                |s, _| Some(s.last.v),
            )
        }),
        "first_over_time" => map_summarisable(
            windows,
            steps,
            true,
            SummaryKind::Totals,
            |s, _| s.first().map(|p| p.v),
            |s, _| Some(s.first.v),
        ),
        "stddev_over_time" => variance_over_time(windows, steps, f64::sqrt),
        "stdvar_over_time" => variance_over_time(windows, steps, |variance| variance),
        "quantile_over_time" => {
            let mut values = Vec::new();
            map_windows(windows, steps, false, |s, w| {
                values.clear();
                values.extend(s.iter().map(|p| p.v));
                Some(quantile(scalar_at(w.step), &mut values))
            })
        }
        "mad_over_time" => {
            let mut values = Vec::new();
            map_windows(windows, steps, false, |s, _| {
                values.clear();
                values.extend(s.iter().map(|p| p.v));
                if values.iter().any(|v| v.is_nan()) {
                    return Some(f64::NAN);
                }
                let median = quantile(0.5, &mut values);
                for v in &mut values {
                    *v = (*v - median).abs();
                }
                Some(quantile(0.5, &mut values))
            })
        }
        "ts_of_first_over_time" => map_windows(windows, steps, false, |s, _| {
            s.first().map(|p| seconds(p.t))
        }),
        "ts_of_last_over_time" => {
            map_windows(windows, steps, false, |s, _| s.last().map(|p| seconds(p.t)))
        }
        "ts_of_min_over_time" => map_windows(windows, steps, false, |s, _| {
            s.iter()
                .reduce(|m, p| if p.v < m.v || m.v.is_nan() { p } else { m })
                .map(|p| seconds(p.t))
        }),
        "ts_of_max_over_time" => map_windows(windows, steps, false, |s, _| {
            s.iter()
                .reduce(|m, p| if p.v > m.v || m.v.is_nan() { p } else { m })
                .map(|p| seconds(p.t))
        }),
        "double_exponential_smoothing" => {
            let (Some(smoothing), Some(trend)) = (scalars.first(), scalars.get(1)) else {
                return Err(QueryError::exec(
                    "double_exponential_smoothing needs a smoothing and a trend factor",
                ));
            };
            if let Some(sf) = smoothing.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
                return Err(QueryError::exec(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                )));
            }
            if let Some(tf) = trend.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
                return Err(QueryError::exec(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                )));
            }
            map_windows(windows, steps, false, |s, w| {
                double_exponential_smoothing(s, smoothing[w.step], trend[w.step])
            })
        }
        other => {
            return Err(QueryError::exec(format!(
                "function {other} is not supported"
            )))
        }
    };
    Ok(out)
}

/// `rate`/`increase` (counter) and `delta` (gauge): the change over the
/// window, extrapolated towards the window's edges as Prometheus does:
/// all the way when the first/last sample is within 110% of the average
/// sample interval of the edge, else by half an interval; a counter is
/// never extrapolated below zero.
/// A function of a window's values (`avg_`, `sum_over_time`): of the
/// moments of a single window from the store where it can (`from_moments`
/// gets them and the count), else of the samples.
fn map_moments(
    windows: &Windows,
    steps: &Steps,
    from_samples: impl Fn(&[Sample]) -> f64,
    from_moments: impl Fn(Moments, u32) -> f64,
) -> Vec<Series> {
    map_summarisable(
        windows,
        steps,
        false,
        SummaryKind::Moments,
        |s, _| Some(from_samples(s)),
        |s, _| s.moments().map(|m| from_moments(m, s.count)),
    )
}

/// `stdvar_over_time`, or `finish` of it (`stddev_over_time`): of a single
/// window from the store's moments where it can, else with the windows
/// folded side by side (see [`map_variances`]).
fn variance_over_time(windows: &Windows, steps: &Steps, finish: fn(f64) -> f64) -> Vec<Series> {
    let stdvar = |s: &[Sample]| {
        let mut variance = Variance::default();
        s.iter().for_each(|p| variance.add(p.v));
        finish(variance.stdvar())
    };
    map_summarised(
        windows,
        steps,
        false,
        SummaryKind::Moments,
        |s, _| Some(stdvar(s)),
        |s, _| s.moments().map(|m| finish(m.variance(s.count))),
    )
    .unwrap_or_else(|| map_variances(windows, steps, finish))
}

/// `min_over_time` or `max_over_time`: the value `beats` prefers, where a
/// NaN loses to any number, as in Prometheus.
/// Generic over the comparison, so that it is inlined into the loop over
/// each window's samples rather than called for every sample.
fn extreme_over_time(
    windows: &Windows,
    steps: &Steps,
    beats: impl Fn(f64, f64) -> bool,
    from_summary: impl Fn(&Extremes) -> f64,
) -> Vec<Series> {
    map_summarisable(
        windows,
        steps,
        false,
        SummaryKind::Extremes,
        |s, _| {
            s.iter()
                .map(|p| p.v)
                .reduce(|m, v| if beats(v, m) || m.is_nan() { v } else { m })
        },
        |s, _| s.extremes.as_ref().map(&from_summary),
    )
}

fn extrapolated_delta(samples: &[Sample], w: Window, is_counter: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        let mut previous = first.v;
        for p in &samples[1..] {
            if p.v < previous {
                result += previous;
            }
            previous = p.v;
        }
    }
    Some(extrapolate(
        result,
        (first, last),
        samples.len(),
        w,
        is_counter,
    ))
}

/// [`extrapolated_delta`] from a summary of the window's samples. Without
/// resets the result is the same; with them the corrections are added in
/// another order.
fn summary_delta(s: &SamplesSummary, w: Window, is_counter: bool) -> Option<f64> {
    if s.count < 2 {
        return None;
    }
    let mut result = s.last.v - s.first.v;
    if is_counter && s.resets > 0 {
        result += s.reset_correction;
    }
    Some(extrapolate(
        result,
        (s.first, s.last),
        s.count as usize,
        w,
        is_counter,
    ))
}

/// Extrapolates the change `result` between the `count` samples from
/// `first` to `last` to the window's edges (see [`extrapolated_delta`]).
fn extrapolate(
    result: f64,
    (first, last): (Sample, Sample),
    count: usize,
    w: Window,
    is_counter: bool,
) -> f64 {
    let mut to_start = (first.t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average_interval = sampled / (count - 1) as f64;
    let threshold = average_interval * 1.1;
    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }
    result * (sampled + to_start + to_end) / sampled
}

fn seconds(t_ms: i64) -> f64 {
    t_ms as f64 / 1000.0
}

/// Holt's linear smoothing: the smoothed value after the last sample, with
/// smoothing factor `sf` and trend factor `tf`.
fn double_exponential_smoothing(samples: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, samples[0].v);
    let mut trend = samples[1].v - samples[0].v;
    for (i, p) in samples.iter().enumerate().skip(1) {
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let smoothed = sf * p.v + (1.0 - sf) * (s1 + trend);
        (s0, s1) = (s1, smoothed);
    }
    Some(s1)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_delta(samples: &[Sample], is_rate: bool) -> Option<f64> {
    let [previous, last] = samples.get(samples.len().checked_sub(2)?..)? else {
        return None;
    };
    let change = if is_rate && last.v < previous.v {
        last.v
    } else {
        last.v - previous.v
    };
    let interval = last.t - previous.t;
    if interval == 0 {
        return None;
    }
    Some(if is_rate {
        change / (interval as f64 / 1000.0)
    } else {
        change
    })
}

/// Least-squares fit with x in seconds relative to `intercept_time`:
/// returns (slope, intercept).
fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].v;
    let mut const_y = true;
    for (i, p) in samples.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_time) as f64 / 1000.0;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(p.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * p.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        return constant_fit(init_y);
    }
    let sums = FitSums {
        x: sum_x + c_x,
        x2: sum_x2 + c_x2,
        y: sum_y + c_y,
        xy: sum_xy + c_xy,
    };
    fit(n, &sums)
}

/// [`linear_regression`] from a summary of the samples; `None` if it was
/// made without fit sums.
fn summary_regression(s: &SamplesSummary, intercept_time: i64) -> Option<(f64, f64)> {
    if s.is_constant() {
        return Some(constant_fit(s.first.v));
    }
    let sums = s.fit_from(intercept_time)?;
    Some(fit(f64::from(s.count), &sums))
}

/// The fit of values that are all `y`.
fn constant_fit(y: f64) -> (f64, f64) {
    if y.is_infinite() {
        (f64::NAN, f64::NAN)
    } else {
        (0.0, y)
    }
}

/// Slope and intercept of the least-squares line through `n` points with
/// the sums `s`.
fn fit(n: f64, s: &FitSums) -> (f64, f64) {
    let cov_xy = s.xy - s.x * s.y / n;
    let var_x = s.x2 - s.x * s.x / n;
    let slope = cov_xy / var_x;
    let intercept = s.y / n - slope * s.x / n;
    (slope, intercept)
}
