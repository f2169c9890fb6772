//! Summaries of a run of samples: what the range functions that need no
//! more than counts, extremes, first and last samples, least-squares sums
//! and moments (`resets`, `changes`, `rate`, `increase`, `delta`, `deriv`,
//! `predict_linear`, `count_`, `min_`, `max_`, `last_`,
//! `present_over_time`, `avg_`, `sum_`, `stddev_` and `stdvar_over_time`)
//! read of it.
//!
//! The store keeps one per closed chunk that a read covered whole, so a
//! long window (`predict_linear(…[6h])`, `resets(…[1h])`) reads one summary
//! per chunk instead of decoding every sample, and only the chunks at the
//! window's edges are decoded. Summaries of consecutive runs merge into the
//! summary of the whole run.
//!
//! Stale markers are left out, as range vectors leave them out. Counts,
//! extremes and first and last samples merge exactly. The sums merge in a
//! different order than one pass over the samples adds them, so what is
//! computed from them (a counter's corrections for its resets, the slope
//! and intercept of a fit, a mean or a variance) can differ from that in
//! the last bits.

use crate::promql::math::kahan_sum_inc;
use crate::{is_stale_nan, Sample};

/// What the summaries a summarising read hands over must hold (see
/// [`crate::Queryable::for_each_summarised`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryKind {
    /// Counts, resets, changes, first and last samples: what the store can
    /// work out from running totals instead of decoding (`extremes` and
    /// `fit` may then be `None`).
    Totals,
    /// Those and the extremes (`fit` may be `None`). The store works them
    /// out from running totals where those show that the values never
    /// fall, as a status that stays the same does.
    Extremes,
    /// Those and the least-squares sums (`extremes` may be `None`). The
    /// store may work out a window's part of a chunk from the chunk's
    /// summary less that of the samples before the window, when fewer
    /// samples are before it than in it.
    Fit,
    /// Those and the sum and spread of the values (`extremes` and `fit`
    /// may be `None`), for `avg_`, `sum_`, `stddev_` and
    /// `stdvar_over_time`. The store works them out from running totals
    /// where those hold only finite values and lose no precision.
    Moments,
}

/// The sums [`SamplesSummary::of`] works out besides counts and extremes,
/// and that a summary holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sums {
    None,
    Fit,
    Moments,
    All,
}

impl Sums {
    pub(crate) fn of(fit: bool, moments: bool) -> Sums {
        match (fit, moments) {
            (false, false) => Sums::None,
            (true, false) => Sums::Fit,
            (false, true) => Sums::Moments,
            (true, true) => Sums::All,
        }
    }

    fn fit(self) -> bool {
        matches!(self, Sums::Fit | Sums::All)
    }

    fn moments(self) -> bool {
        matches!(self, Sums::Moments | Sums::All)
    }

    /// What a summary of `kind` holds.
    pub(crate) fn of_kind(kind: SummaryKind) -> Sums {
        match kind {
            SummaryKind::Totals | SummaryKind::Extremes => Sums::None,
            SummaryKind::Fit => Sums::Fit,
            SummaryKind::Moments => Sums::Moments,
        }
    }
}

/// The summary of a non-empty run of samples, stale markers left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplesSummary {
    pub(crate) count: u32,
    pub(crate) first: Sample,
    pub(crate) last: Sample,
    /// Values below the value before them (counter resets).
    pub(crate) resets: u32,
    /// Values different from the value before them, NaN after NaN being no
    /// change.
    pub(crate) changes: u32,
    /// The sum of the values just before each reset: what a counter lost.
    pub(crate) reset_correction: f64,
    /// `None` for a summary the store worked out from running totals
    /// (see `store::totals`), which do not keep them.
    pub(crate) extremes: Option<Extremes>,
    /// Which of `fit` and `moments` hold sums: read them with
    /// [`SamplesSummary::fit`] and [`SamplesSummary::moments`]. Flags
    /// rather than two `Option`s keep a summary at 128 bytes, which is
    /// copied without calling `memcpy`: a summarising read hands over
    /// thousands.
    pub(crate) sums: Sums,
    /// Least-squares sums, with x the seconds since `first.t`; not asked
    /// for by most reads (they cost more than all the rest).
    pub(crate) fit: FitSums,
    /// Not asked for by most reads; never of a value that is not finite.
    pub(crate) moments: Moments,
}

/// The sum of a run's values and the sum of their squared distances from
/// its mean: what a mean and a variance are worked out from, and what
/// merges without losing precision (Chan, Golub and LeVeque's update).
/// Only ever made of finite values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Moments {
    pub(crate) sum: f64,
    pub(crate) squared_deviations: f64,
}

impl Moments {
    /// Whether these moments are far enough from overflowing that any
    /// merge of them stays finite. Larger ones are left to decoding, where
    /// Prometheus's own rules for sums that overflow apply.
    pub(crate) fn far_from_overflow(&self) -> bool {
        self.sum.abs() <= 1e150 && self.squared_deviations.abs() <= 1e290
    }

    /// Of `values`, which must be finite: the sum compensated, as
    /// Prometheus sums, and the deviations from the mean in a second pass
    /// (no division per value, and no loss to cancellation).
    fn of(values: impl Iterator<Item = f64> + Clone) -> Moments {
        let (mut sum, mut c, mut n) = (0.0, 0.0, 0.0);
        for v in values.clone() {
            (sum, c) = kahan_sum_inc(v, sum, c);
            n += 1.0;
        }
        let sum = sum + c;
        let mean = sum / n;
        Moments {
            sum,
            squared_deviations: values.map(|v| (v - mean) * (v - mean)).sum(),
        }
    }

    /// Of a run of `count` values followed by `next`'s `next_count`.
    fn merge(&self, count: u32, next: &Moments, next_count: u32) -> Moments {
        let (n_a, n_b) = (f64::from(count), f64::from(next_count));
        let between = next.sum / n_b - self.sum / n_a;
        Moments {
            sum: self.sum + next.sum,
            squared_deviations: self.squared_deviations
                + next.squared_deviations
                + between * between * n_a * n_b / (n_a + n_b),
        }
    }

    /// The population variance of `count` values, as `stdvar_over_time`
    /// gives it.
    pub(crate) fn variance(&self, count: u32) -> f64 {
        self.squared_deviations / f64::from(count)
    }
}

/// The smallest and largest value, NaN only when every value is NaN; of
/// equal values the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Extremes {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) has_nan: bool,
}

impl Extremes {
    fn merge(&mut self, next: &Extremes) {
        self.min = smaller(self.min, next.min);
        self.max = larger(self.max, next.max);
        self.has_nan |= next.has_nan;
    }
}

/// Sums for a least-squares fit of value `y` over time `x` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct FitSums {
    pub(crate) x: f64,
    pub(crate) x2: f64,
    pub(crate) y: f64,
    pub(crate) xy: f64,
}

/// The `min_over_time` rule: a smaller value wins, and any value replaces
/// NaN.
fn smaller(m: f64, v: f64) -> f64 {
    if v < m || m.is_nan() {
        v
    } else {
        m
    }
}

fn larger(m: f64, v: f64) -> f64 {
    if v > m || m.is_nan() {
        v
    } else {
        m
    }
}

/// The `changes` rule.
fn changed(before: f64, after: f64) -> bool {
    !(after == before || (after.is_nan() && before.is_nan()))
}

impl SamplesSummary {
    /// The summary of `samples` (oldest first) without their stale markers,
    /// with the `sums` asked for; `None` when nothing is left.
    pub(crate) fn of(samples: &[Sample], sums: Sums) -> Option<Self> {
        // A run without NaN (nor, then, stale markers), the usual case, is
        // summarised by a loop that leaves out the tests for them.
        let numbers = !samples.iter().fold(false, |nan, p| nan | p.v.is_nan());
        let mut summary = match (sums.fit(), numbers) {
            (true, true) => Self::summarise::<true, true>(samples),
            (true, false) => Self::summarise::<true, false>(samples),
            (false, true) => Self::summarise::<false, true>(samples),
            (false, false) => Self::summarise::<false, false>(samples),
        }?;
        if sums.moments() && numbers && samples.iter().all(|p| p.v.is_finite()) {
            let moments = Moments::of(samples.iter().map(|p| p.v));
            if moments.far_from_overflow() {
                summary.moments = moments;
                summary.sums = Sums::of(summary.sums.fit(), true);
            }
        }
        Some(summary)
    }

    /// [`SamplesSummary::of`], with the fit sums if `FIT`, for samples
    /// that hold no NaN if `NUMBERS` (for which the NaN rules of the
    /// extremes and of `changes` come down to plain comparisons).
    #[inline(always)]
    fn summarise<const FIT: bool, const NUMBERS: bool>(samples: &[Sample]) -> Option<Self> {
        let mut kept = samples.iter().filter(|p| NUMBERS || !is_stale_nan(p.v));
        let first = *kept.next()?;
        let mut summary = SamplesSummary {
            count: 1,
            first,
            last: first,
            resets: 0,
            changes: 0,
            reset_correction: 0.0,
            extremes: None,
            sums: Sums::None,
            fit: FitSums::default(),
            moments: Moments::default(),
        };
        let mut extremes = Extremes {
            min: first.v,
            max: first.v,
            has_nan: first.v.is_nan(),
        };
        // Compensated sums, as the fit over samples computes them.
        let mut fit = FitSums {
            y: first.v,
            ..FitSums::default()
        };
        let mut c = FitSums::default();
        for &p in kept {
            let before = summary.last.v;
            if p.v < before {
                summary.resets += 1;
                summary.reset_correction += before;
            }
            if NUMBERS {
                summary.changes += u32::from(p.v != before);
                extremes.min = if p.v < extremes.min {
                    p.v
                } else {
                    extremes.min
                };
                extremes.max = if p.v > extremes.max {
                    p.v
                } else {
                    extremes.max
                };
            } else {
                summary.changes += u32::from(changed(before, p.v));
                extremes.min = smaller(extremes.min, p.v);
                extremes.max = larger(extremes.max, p.v);
                extremes.has_nan |= p.v.is_nan();
            }
            summary.count += 1;
            summary.last = p;
            if FIT {
                let x = (p.t - first.t) as f64 / 1000.0;
                (fit.x, c.x) = kahan_sum_inc(x, fit.x, c.x);
                (fit.y, c.y) = kahan_sum_inc(p.v, fit.y, c.y);
                (fit.xy, c.xy) = kahan_sum_inc(x * p.v, fit.xy, c.xy);
                (fit.x2, c.x2) = kahan_sum_inc(x * x, fit.x2, c.x2);
            }
        }
        summary.extremes = Some(extremes);
        if FIT {
            summary.sums = Sums::Fit;
            summary.fit = FitSums {
                x: fit.x + c.x,
                x2: fit.x2 + c.x2,
                y: fit.y + c.y,
                xy: fit.xy + c.xy,
            };
        }
        Some(summary)
    }

    /// The fit sums, if it holds them.
    pub(crate) fn fit(&self) -> Option<FitSums> {
        self.sums.fit().then_some(self.fit)
    }

    /// The moments, if it holds them.
    pub(crate) fn moments(&self) -> Option<Moments> {
        self.sums.moments().then_some(self.moments)
    }

    /// The summary holding these sums (and only these).
    pub(crate) fn with_sums(mut self, fit: Option<FitSums>, moments: Option<Moments>) -> Self {
        self.set_sums(fit, moments);
        self
    }

    /// Makes the summary hold these sums (and only these).
    fn set_sums(&mut self, fit: Option<FitSums>, moments: Option<Moments>) {
        self.sums = Sums::of(fit.is_some(), moments.is_some());
        if let Some(fit) = fit {
            self.fit = fit;
        }
        if let Some(moments) = moments {
            self.moments = moments;
        }
    }

    /// Extends the summary with the run that follows it.
    pub(crate) fn merge(&mut self, next: &SamplesSummary) {
        let reset = next.first.v < self.last.v;
        if reset {
            self.reset_correction += self.last.v;
        }
        self.reset_correction += next.reset_correction;
        self.resets += next.resets + u32::from(reset);
        self.changes += next.changes + u32::from(changed(self.last.v, next.first.v));
        self.extremes = match (self.extremes, next.extremes) {
            (Some(mut extremes), Some(next)) => {
                extremes.merge(&next);
                Some(extremes)
            }
            _ => None,
        };
        // Most summaries (those of totals reads) hold no sums.
        if self.sums != Sums::None {
            self.merge_sums(next);
        }
        self.count += next.count;
        self.last = next.last;
    }

    /// Merges the summary of `samples`, which follow this run, with the
    /// `sums` asked for: what `merge` of [`SamplesSummary::of`] gives, bit
    /// for bit. Samples without NaN, for a summary without sums (every
    /// totals read: a window's few newest samples after a chunk's part),
    /// are folded in one by one instead: about a quarter of the
    /// instructions of making a summary of them and merging it.
    pub(crate) fn merge_samples(&mut self, samples: &[Sample], sums: Sums) {
        let numbers = !samples.iter().fold(false, |nan, p| nan | p.v.is_nan());
        if sums != Sums::None || !numbers {
            if let Some(next) = SamplesSummary::of(samples, sums) {
                self.merge(&next);
            }
            return;
        }
        let Some(first) = samples.first() else {
            return;
        };
        // As `merge` adds them: the reset across the runs' border, then
        // the run's own corrections, summed on their own.
        if first.v < self.last.v {
            self.reset_correction += self.last.v;
            self.resets += 1;
        }
        let mut run_correction = 0.0;
        let mut before = first.v;
        for p in &samples[1..] {
            if p.v < before {
                self.resets += 1;
                run_correction += before;
            }
            before = p.v;
        }
        self.reset_correction += run_correction;
        before = self.last.v;
        for p in samples {
            self.changes += u32::from(p.v != before);
            before = p.v;
        }
        if let Some(extremes) = &mut self.extremes {
            for p in samples {
                extremes.min = smaller(extremes.min, p.v);
                extremes.max = larger(extremes.max, p.v);
            }
        }
        if self.sums != Sums::None {
            self.set_sums(None, None);
        }
        self.count += samples.len() as u32;
        self.last = samples[samples.len() - 1];
    }

    /// [`SamplesSummary::merge`]'s part for the sums, before the counts
    /// are added up.
    fn merge_sums(&mut self, next: &SamplesSummary) {
        let fit = match (self.fit(), next.fit_from(self.first.t)) {
            (Some(fit), Some(moved)) => Some(FitSums {
                x: fit.x + moved.x,
                x2: fit.x2 + moved.x2,
                y: fit.y + moved.y,
                xy: fit.xy + moved.xy,
            }),
            _ => None,
        };
        let moments = match (self.moments(), next.moments()) {
            (Some(moments), Some(next_moments)) => {
                Some(moments.merge(self.count, &next_moments, next.count))
            }
            _ => None,
        };
        self.set_sums(fit, moments);
    }

    /// The fit sums with x the seconds since `origin` (milliseconds).
    pub(crate) fn fit_from(&self, origin: i64) -> Option<FitSums> {
        // x' = x + d for every sample, expanded.
        let d = (self.first.t - origin) as f64 / 1000.0;
        let n = f64::from(self.count);
        self.fit().map(|fit| FitSums {
            x: fit.x + n * d,
            x2: fit.x2 + 2.0 * d * fit.x + n * d * d,
            y: fit.y,
            xy: fit.xy + d * fit.y,
        })
    }

    /// Whether every value is the same (NaN never is). A summary without
    /// extremes is only ever made of values without NaN.
    pub(crate) fn is_constant(&self) -> bool {
        self.changes == 0 && !self.extremes.is_some_and(|e| e.has_nan)
    }

    /// The summary of the samples after `before` (this run's first ones,
    /// summarised alike), which start with `first`. Its fit sums are the
    /// difference of both's, when both have them: they lose about as much
    /// as they would summing the samples before the window once more, in
    /// relation to their size. It has no extremes (a chunk's extremes by
    /// blocks give those, see `store::suffix`) and no moments (those come
    /// from running totals). Both runs must be without NaN.
    pub(crate) fn without(&self, before: &SamplesSummary, first: Sample) -> Option<SamplesSummary> {
        let fit = match (self.fit(), before.fit()) {
            (Some(all), Some(cut)) => Some(FitSums {
                x: all.x - cut.x,
                x2: all.x2 - cut.x2,
                y: all.y - cut.y,
                xy: all.xy - cut.xy,
            }),
            _ => None,
        };
        let reset = first.v < before.last.v;
        // Both sums have x from the run's first sample.
        let rest = SamplesSummary {
            count: self.count.checked_sub(before.count)?,
            first: self.first,
            last: self.last,
            resets: self.resets.checked_sub(before.resets + u32::from(reset))?,
            changes: self
                .changes
                .checked_sub(before.changes + u32::from(changed(before.last.v, first.v)))?,
            reset_correction: self.reset_correction
                - before.reset_correction
                - if reset { before.last.v } else { 0.0 },
            extremes: None,
            ..*self
        }
        .with_sums(fit, None);
        Some(SamplesSummary { first, ..rest }.with_sums(rest.fit_from(first.t), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::STALE_NAN;
    use proptest::prelude::*;

    /// Equal but for rounding in sums whose terms add up to `scale` in
    /// magnitude.
    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale.max(1.0)
    }

    fn values() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-50i32..50).prop_map(f64::from),
            -1e6f64..1e6,
            Just(f64::NAN),
            Just(STALE_NAN),
            Just(-0.0),
        ]
    }

    proptest! {
        /// Merging the summaries of consecutive runs gives the summary of
        /// the whole run: exactly for counts, extremes and end samples,
        /// closely for the sums.
        #[test]
        fn merged_summaries_are_the_summary_of_the_whole_run(
            steps in proptest::collection::vec((1i64..60_000, values()), 1..200),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut t = 1_700_000_000_000;
            let samples: Vec<Sample> = steps
                .iter()
                .map(|&(step, v)| {
                    t += step;
                    Sample { t, v }
                })
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % samples.len()).collect();
            cuts.extend([0, samples.len()]);
            cuts.sort_unstable();
            let merged = cuts
                .windows(2)
                .filter_map(|w| SamplesSummary::of(&samples[w[0]..w[1]], Sums::All))
                .reduce(|mut a, b| {
                    a.merge(&b);
                    a
                });
            let whole = SamplesSummary::of(&samples, Sums::All);
            prop_assert_eq!(merged.is_some(), whole.is_some());
            let (Some(merged), Some(whole)) = (merged, whole) else {
                return Ok(());
            };
            prop_assert_eq!(merged.count, whole.count);
            prop_assert_eq!(merged.first.t, whole.first.t);
            prop_assert_eq!(merged.last.t, whole.last.t);
            prop_assert_eq!(merged.first.v.to_bits(), whole.first.v.to_bits());
            prop_assert_eq!(merged.last.v.to_bits(), whole.last.v.to_bits());
            prop_assert_eq!(merged.resets, whole.resets);
            prop_assert_eq!(merged.changes, whole.changes);
            let (Some(merged_extremes), Some(extremes)) = (merged.extremes, whole.extremes) else {
                return Err(TestCaseError::fail("extremes are made from samples"));
            };
            prop_assert_eq!(merged_extremes.min.to_bits(), extremes.min.to_bits());
            prop_assert_eq!(merged_extremes.max.to_bits(), extremes.max.to_bits());
            prop_assert_eq!(merged_extremes.has_nan, extremes.has_nan);
            if !extremes.has_nan {
                let kept: Vec<(f64, f64)> = samples
                    .iter()
                    .filter(|p| !is_stale_nan(p.v))
                    .map(|p| ((p.t - whole.first.t) as f64 / 1000.0, p.v))
                    .collect();
                let scale = |term: &dyn Fn(f64, f64) -> f64| {
                    kept.iter().map(|&(x, y)| term(x, y).abs()).sum::<f64>()
                };
                let corrections = scale(&|_, y| y);
                prop_assert!(close(merged.reset_correction, whole.reset_correction, corrections));
                let (Some(m), Some(w)) = (merged.fit(), whole.fit()) else {
                    return Err(TestCaseError::fail("fit sums asked for"));
                };
                let sums = [
                    (m.x, w.x, scale(&|x, _| x)),
                    (m.x2, w.x2, scale(&|x, _| x * x)),
                    (m.y, w.y, scale(&|_, y| y)),
                    (m.xy, w.xy, scale(&|x, y| x * y)),
                ];
                for (a, b, magnitude) in sums {
                    prop_assert!(close(a, b, magnitude), "{a} vs {b}");
                }
            }
        }
    }

    proptest! {
        /// A run less its first samples is the summary of the rest: counts
        /// exactly and sums closely.
        #[test]
        fn a_run_without_its_first_samples_is_the_summary_of_the_rest(
            values in proptest::collection::vec(prop_oneof![
                (-5i32..5).prop_map(f64::from),
                -1e3f64..1e3,
                Just(-0.0),
            ], 2..100),
            cut in 1usize..100,
        ) {
            let cut = 1 + cut % (values.len() - 1);
            let samples: Vec<Sample> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| Sample { t: 1_000 * i as i64 + 7, v })
                .collect();
            let whole = SamplesSummary::of(&samples, Sums::All).expect("samples");
            let before = SamplesSummary::of(&samples[..cut], Sums::All).expect("samples");
            let ours = whole.without(&before, samples[cut]).expect("fewer before");
            let rest = SamplesSummary::of(&samples[cut..], Sums::All).expect("samples");
            prop_assert_eq!((ours.count, ours.resets, ours.changes), (rest.count, rest.resets, rest.changes));
            prop_assert_eq!((ours.first, ours.last), (rest.first, rest.last));
            let magnitude: f64 = values.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
            prop_assert!(close(ours.reset_correction, rest.reset_correction, magnitude));
            let (Some(f), Some(g)) = (ours.fit(), rest.fit()) else {
                return Err(TestCaseError::fail("fit sums asked for"));
            };
            let x = |p: &Sample| (p.t - rest.first.t) as f64 / 1000.0;
            let kept = &samples[cut..];
            let scale = |term: &dyn Fn(&Sample) -> f64| samples.iter().map(|p| term(p).abs()).sum::<f64>();
            prop_assert!(close(f.x, g.x, scale(&|p| x(p))));
            prop_assert!(close(f.x2, g.x2, scale(&|p| x(p) * x(p))));
            prop_assert!(close(f.y, g.y, scale(&|p| p.v)));
            prop_assert!(close(f.xy, g.xy, scale(&|p| x(p) * p.v)), "{} vs {} ({} kept)", f.xy, g.xy, kept.len());
            prop_assert_eq!(ours.is_constant(), rest.is_constant());
        }
    }

    proptest! {
        /// Folding samples into a summary gives what merging their own
        /// summary gives, bit for bit: NaN, stale markers, signs of zero,
        /// resets and every kind of sums included.
        #[test]
        fn merging_samples_is_merging_their_summary(
            head in proptest::collection::vec(prop_oneof![
                (-5i32..5).prop_map(f64::from),
                -1e3f64..1e3,
                Just(f64::NAN),
                Just(STALE_NAN),
            ], 1..8),
            tail in proptest::collection::vec(prop_oneof![
                (-5i32..5).prop_map(f64::from),
                -1e3f64..1e3,
                Just(-0.0),
                Just(f64::INFINITY),
            ], 1..40),
            odd_one in prop_oneof![Just(None), Just(Some(f64::NAN)), Just(Some(STALE_NAN))],
            sums in prop_oneof![Just(Sums::None), Just(Sums::Fit), Just(Sums::Moments), Just(Sums::All)],
            earlier in prop_oneof![Just(Sums::None), Just(Sums::All)],
        ) {
            // The tail is folded in when it holds no NaN.
            let values: Vec<f64> = head.iter().chain(&tail).chain(&odd_one).copied().collect();
            let samples: Vec<Sample> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| Sample { t: 1_000 * i as i64 + 7, v })
                .collect();
            let cut = head.len();
            let Some(first) = SamplesSummary::of(&samples[..cut], earlier) else {
                return Ok(());
            };
            let mut merged = first;
            if let Some(next) = SamplesSummary::of(&samples[cut..], sums) {
                merged.merge(&next);
            }
            let mut folded = first;
            folded.merge_samples(&samples[cut..], sums);
            prop_assert_eq!(format!("{folded:?}"), format!("{merged:?}"));
        }
    }

    /// 0.1 + (0.2 + 0.3) is 0.6, but (0.1 + 0.2) + 0.3 is not: the
    /// corrections of folded samples are added up as a merge adds them.
    #[test]
    fn merging_samples_adds_corrections_in_a_merges_order() {
        let at = |i: i64, v: f64| Sample { t: i * 1000, v };
        let head = [at(0, 0.1), at(1, 0.0)];
        let tail = [at(2, 0.2), at(3, 0.0), at(4, 0.3), at(5, 0.0)];
        let mut folded = SamplesSummary::of(&head, Sums::None).expect("samples");
        folded.merge_samples(&tail, Sums::None);
        assert_eq!(folded.reset_correction, 0.1 + (0.2 + 0.3));
        assert_eq!(folded.resets, 3);
    }

    #[test]
    fn a_summary_is_copied_without_calling_memcpy() {
        let size = std::mem::size_of::<SamplesSummary>();
        assert!(size <= 128, "{size}");
    }

    #[test]
    fn moments_that_could_overflow_are_left_to_decoding() {
        let at = |t: i64, v: f64| Sample { t, v };
        let moments = |values: &[f64]| {
            let samples: Vec<Sample> = (0..).zip(values).map(|(t, &v)| at(t, v)).collect();
            SamplesSummary::of(&samples, Sums::Moments).and_then(|s| s.moments())
        };
        let m = moments(&[1.0, 2.0, 4.0]).expect("small finite values");
        assert_eq!(m.sum, 7.0);
        assert!((m.squared_deviations - 14.0 / 3.0).abs() < 1e-15);
        assert_eq!(moments(&[1.0, 1e200]), None);
        assert_eq!(moments(&[1.0, f64::INFINITY]), None);
        assert_eq!(moments(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn stale_markers_are_left_out() {
        let at = |t: i64, v: f64| Sample { t, v };
        assert_eq!(SamplesSummary::of(&[at(1, STALE_NAN)], Sums::All), None);
        let s = SamplesSummary::of(
            &[at(1, 5.0), at(2, STALE_NAN), at(3, 2.0), at(4, 2.0)],
            Sums::None,
        )
        .expect("two samples");
        assert_eq!((s.fit(), s.moments()), (None, None), "not asked for");
        assert_eq!((s.count, s.resets, s.changes), (3, 1, 1));
        assert_eq!((s.first, s.last), (at(1, 5.0), at(4, 2.0)));
        let extremes = s.extremes.expect("made from samples");
        assert_eq!(
            (extremes.min, extremes.max, s.reset_correction),
            (2.0, 5.0, 5.0)
        );
        assert!(!s.is_constant());
    }
}
