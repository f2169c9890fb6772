//! Running totals of a chunk's samples: what `rate`, `increase`, `delta`,
//! `resets`, `changes` and the counts read of a window, in a form that
//! subtracts. The head keeps the totals of all its samples as they are
//! appended, and every resume point keeps those of the samples before it,
//! so a window from a resume point to a chunk's end is worked out from two
//! totals and one decoded sample instead of decoding every sample in it
//! (see `ChunkSamples::summary_from`).
//!
//! The totals also keep the sum of the values and of their squares, each
//! less the chunk's first value (its *reference*): values of one chunk lie
//! close together, so the shifted sums stay small and a difference of them
//! loses little to cancellation. A window's mean and variance come from
//! them where that loss is known to be negligible (see
//! `ChunkEnd::window_moments`); elsewhere the window is decoded.
//!
//! Extremes do not subtract, and the totals hold no fit sums: extremes
//! come from totals only where the values never fall; otherwise they and
//! fits come from a chunk's kept summary less that of the samples before
//! the window (`ReadState::summary_less_before`), or from decoding.

use crate::summary::{Extremes, FitSums, Moments, Sums};
use crate::{Sample, SamplesSummary, SummaryKind};

/// Totals over the pairs of consecutive samples of a run from a chunk's
/// start, and over its values. 32 bytes: every resume point holds one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RunTotals {
    /// The sum of the values less the chunk's first value, and of the
    /// squares of those differences (the first value adds nothing).
    shifted_sum: f64,
    shifted_squares: f64,
    /// What a counter lost at its resets: the value before each. NaN once
    /// a NaN value was seen, which poisons the totals: summaries leave
    /// stale markers out and compare NaN by their own rules, which a
    /// difference of totals cannot follow. The usual series holds none.
    correction: f64,
    resets: u32,
    changes: u32,
}

impl RunTotals {
    /// Totals that stand for no run: poisoned, as by a NaN.
    pub(crate) const NONE: RunTotals = RunTotals {
        shifted_sum: f64::NAN,
        shifted_squares: f64::NAN,
        correction: f64::NAN,
        resets: 0,
        changes: 0,
    };

    /// The totals of a run holding one sample, of value `first`, the
    /// chunk's first.
    #[inline(always)]
    pub(crate) fn starting_with(first: f64) -> Self {
        RunTotals {
            shifted_sum: 0.0,
            shifted_squares: 0.0,
            correction: if first.is_nan() { f64::NAN } else { 0.0 },
            resets: 0,
            changes: 0,
        }
    }

    /// Adds the pair of consecutive values `before`, `after`, in a chunk
    /// whose first value is `reference`.
    #[inline(always)]
    pub(crate) fn add(&mut self, before: f64, after: f64, reference: f64) {
        let shifted = after - reference;
        self.shifted_sum += shifted;
        self.shifted_squares += shifted * shifted;
        if after < before {
            self.resets += 1;
            self.correction += before;
        }
        self.changes += u32::from(after != before);
        if after.is_nan() {
            self.correction = f64::NAN;
        }
    }
}

/// A whole chunk's totals, with its count and last sample: the end a
/// window reaching past the chunk is worked out from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ChunkEnd {
    pub(crate) totals: RunTotals,
    pub(crate) count: u32,
    pub(crate) last: Sample,
}

/// A sample a read passed over, the `decoded`-th of its chunk, with the
/// chunk's totals up to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Passed {
    pub(crate) decoded: u32,
    pub(crate) sample: Sample,
    pub(crate) totals: RunTotals,
}

impl Passed {
    /// The chunk's totals up to `next`, the sample after this one, in a
    /// chunk whose first value is `reference`.
    #[inline(always)]
    pub(crate) fn totals_to(&self, next: Sample, reference: f64) -> RunTotals {
        let mut totals = self.totals;
        totals.add(self.sample.v, next.v, reference);
        totals
    }
}

impl ChunkEnd {
    /// Whether the chunk held no NaN, so that summaries can be worked out
    /// from its totals.
    pub(crate) fn usable(&self) -> bool {
        !self.totals.correction.is_nan()
    }

    /// Whether summaries of the chunk's tails worked out from its totals
    /// are likely to hold what `kind` asks for: the extremes only come
    /// with them where the values never fall, which a chunk whose values
    /// never fall shows for all its tails. (Moments come with them where
    /// little is lost to cancellation, which only each tail shows.)
    pub(crate) fn gives(&self, kind: SummaryKind) -> bool {
        let needs_rising = matches!(kind, SummaryKind::Extremes | SummaryKind::Fit);
        self.usable() && !(needs_rising && self.totals.resets > 0)
    }

    /// The summary of the chunk's samples from `first` to its end, `first`
    /// following `before`, without fit sums, for a
    /// [usable](ChunkEnd::usable) end of a chunk whose first value is
    /// `reference`. The pair across the window's start is in the chunk's
    /// totals but not in the window: it is taken out with the totals
    /// before it. The values before the window are taken out of the sums.
    /// Moments only for `kind` [`SummaryKind::Moments`].
    pub(crate) fn summary_after(
        &self,
        before: &Passed,
        first: Sample,
        reference: f64,
        kind: SummaryKind,
    ) -> SamplesSummary {
        let taken_out = before.totals_to(first, reference);
        let resets = self.totals.resets.saturating_sub(taken_out.resets);
        let count = self.count.saturating_sub(before.decoded);
        let changes = self.totals.changes.saturating_sub(taken_out.changes);
        let shifted = (
            self.totals.shifted_sum - before.totals.shifted_sum,
            self.totals.shifted_squares - before.totals.shifted_squares,
        );
        let moments = self.window_moments(kind, (count, changes), first, reference, shifted);
        SamplesSummary {
            count,
            first,
            last: self.last,
            resets,
            changes,
            // Exact when no reset comes before the window (the usual
            // case): then nothing is subtracted.
            reset_correction: self.totals.correction - taken_out.correction,
            extremes: rising_extremes(resets, first, self.last),
            sums: Sums::of(false, moments.is_some()),
            fit: FitSums::default(),
            moments: moments.unwrap_or_default(),
        }
    }

    /// The summary of the whole chunk, its first sample being `first`,
    /// without fit sums, for a [usable](ChunkEnd::usable) end; moments
    /// only for `kind` [`SummaryKind::Moments`].
    pub(crate) fn summary_from(&self, first: Sample, kind: SummaryKind) -> SamplesSummary {
        let totals = &self.totals;
        let moments = self.window_moments(
            kind,
            (self.count, totals.changes),
            first,
            first.v,
            (totals.shifted_sum, totals.shifted_squares),
        );
        SamplesSummary {
            count: self.count,
            first,
            last: self.last,
            resets: totals.resets,
            changes: totals.changes,
            reset_correction: totals.correction,
            extremes: rising_extremes(totals.resets, first, self.last),
            sums: Sums::of(false, moments.is_some()),
            fit: FitSums::default(),
            moments: moments.unwrap_or_default(),
        }
    }

    /// The moments of a window's part of this chunk, `count` values from
    /// `first` with `changes` changes, whose shifted sums are `shifted`,
    /// for `kind` [`SummaryKind::Moments`] (else `None`, not asked for);
    /// `None` when a value is not finite, when the sums are near
    /// overflowing, or when the difference of the totals may have lost
    /// more than [`MOMENTS_PRECISION`] of the result to cancellation: the
    /// window is then decoded.
    ///
    /// The error of a difference of the totals is about the rounding of
    /// the chunk's whole sums, so it is judged against those: the shifted
    /// squares for the deviations, and for the sum its terms' magnitude
    /// (bounded by the root of the count times the squares).
    fn window_moments(
        &self,
        kind: SummaryKind,
        (count, changes): (u32, u32),
        first: Sample,
        reference: f64,
        (shifted_sum, shifted_squares): (f64, f64),
    ) -> Option<Moments> {
        if kind != SummaryKind::Moments {
            return None;
        }
        let n = f64::from(count);
        if changes == 0 {
            // Equal values: no rounding to judge, and no spread at all.
            let moments = Moments {
                sum: n * first.v,
                squared_deviations: 0.0,
            };
            return moments.far_from_overflow().then_some(moments);
        }
        let whole_squares = self.totals.shifted_squares;
        let sum = n * reference + shifted_sum;
        let squared_deviations = shifted_squares - shifted_sum * shifted_sum / n;
        let sum_scale = n * reference.abs() + (f64::from(self.count) * whole_squares).sqrt();
        let precise = sum.abs() >= MOMENTS_PRECISION * sum_scale
            && squared_deviations >= MOMENTS_PRECISION * whole_squares;
        let moments = Moments {
            sum,
            squared_deviations,
        };
        (precise && moments.far_from_overflow()).then_some(moments)
    }
}

/// How small a window's sum or spread may be against the chunk's whole
/// sums before the window is decoded instead. The difference of two
/// totals errs by a few units in the last place of the whole sums, so at
/// worst by about 1e-11 of the result; summing in another order than
/// Prometheus already differs from it in the last bits.
const MOMENTS_PRECISION: f64 = 1e-4;

/// The extremes of a run without NaN that never falls (no value below
/// the one before it), from `first` to `last`. Of equal values the first
/// is kept, so the largest is `last` unless an earlier zero of the other
/// sign equals it: `None` when that is not known.
fn rising_extremes(resets: u32, first: Sample, last: Sample) -> Option<Extremes> {
    let max = if last.v == first.v {
        first.v
    } else if last.v == 0.0 {
        return None;
    } else {
        last.v
    };
    (resets == 0).then_some(Extremes {
        min: first.v,
        max,
        has_nan: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn totals_of(values: &[f64]) -> RunTotals {
        let mut totals = RunTotals::starting_with(values[0]);
        for pair in values.windows(2) {
            totals.add(pair[0], pair[1], values[0]);
        }
        totals
    }

    /// Equal but for rounding, which moments from totals keep below
    /// 1e-11 of the result (see [`MOMENTS_PRECISION`]).
    fn agree(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-10 * a.abs().max(b.abs()) || a == b
    }

    fn at(i: usize, v: f64) -> Sample {
        Sample {
            t: i as i64 * 1000,
            v,
        }
    }

    proptest! {
        /// The summary of a chunk's tail from totals is the summary of its
        /// samples, but for extremes and fit sums, which it leaves out.
        #[test]
        fn a_tail_from_totals_is_the_summary_of_its_samples(
            values in proptest::collection::vec(prop_oneof![
                (0i32..20).prop_map(f64::from),
                -1e3f64..1e3,
                Just(-0.0),
                Just(0.0),
            ], 2..120),
            start in 1usize..120,
        ) {
            let start = 1 + start % (values.len() - 1);
            let samples: Vec<Sample> = values.iter().enumerate().map(|(i, &v)| at(i, v)).collect();
            let end = ChunkEnd {
                totals: totals_of(&values),
                count: values.len() as u32,
                last: samples[samples.len() - 1],
            };
            let before = Passed {
                decoded: start as u32,
                sample: samples[start - 1],
                totals: totals_of(&values[..start]),
            };
            prop_assert!(end.usable());
            let from_totals = end.summary_after(&before, samples[start], values[0], SummaryKind::Moments);
            let decoded = SamplesSummary::of(&samples[start..], Sums::All).expect("samples");
            prop_assert_eq!(from_totals.count, decoded.count);
            if let Some(moments) = from_totals.moments() {
                let exact = decoded.moments().expect("finite values");
                prop_assert!(
                    agree(moments.sum, exact.sum) && agree(moments.squared_deviations, exact.squared_deviations),
                    "{moments:?} from totals, {exact:?} decoded"
                );
            } else {
                prop_assert!(decoded.changes > 0, "equal values always have moments");
            }
            prop_assert_eq!(from_totals.first, decoded.first);
            prop_assert_eq!(from_totals.last, decoded.last);
            prop_assert_eq!(from_totals.resets, decoded.resets);
            prop_assert_eq!(from_totals.changes, decoded.changes);
            let magnitude: f64 = values.iter().map(|v| v.abs()).sum();
            prop_assert!((from_totals.reset_correction - decoded.reset_correction).abs() <= 1e-12 * magnitude.max(1.0));
            let bits = |e: Option<Extremes>| e.map(|e| (e.min.to_bits(), e.max.to_bits(), e.has_nan));
            if let Some(extremes) = from_totals.extremes {
                prop_assert_eq!(decoded.resets, 0);
                prop_assert_eq!(bits(Some(extremes)), bits(decoded.extremes));
            } else {
                prop_assert!(decoded.resets > 0 || decoded.last.v == 0.0);
            }
            let whole = end.summary_from(samples[0], SummaryKind::Moments);
            let decoded = SamplesSummary::of(&samples, Sums::All).expect("samples");
            prop_assert_eq!((whole.count, whole.resets, whole.changes), (decoded.count, decoded.resets, decoded.changes));
            match (whole.moments(), decoded.moments()) {
                (Some(moments), Some(exact)) => prop_assert!(
                    agree(moments.sum, exact.sum) && agree(moments.squared_deviations, exact.squared_deviations)
                ),
                (None, _) => prop_assert!(decoded.changes > 0),
                (Some(_), None) => return Err(TestCaseError::fail("the values are finite")),
            }
            prop_assert_eq!(whole.reset_correction.to_bits(), decoded.reset_correction.to_bits());
        }
    }

    #[test]
    fn a_nan_poisons_the_totals() {
        let end = |values: &[f64]| ChunkEnd {
            totals: totals_of(values),
            count: values.len() as u32,
            last: at(values.len() - 1, values[values.len() - 1]),
        };
        assert!(end(&[1.0, 2.0]).usable());
        for values in [[f64::NAN, 2.0], [1.0, f64::NAN], [crate::STALE_NAN, 1.0]] {
            assert!(!end(&values).usable(), "{values:?}");
        }
    }

    #[test]
    fn a_window_without_resets_before_it_keeps_its_corrections_exact() {
        let values = [1.0, 2.0, 0.1, 0.7, 0.2];
        let samples: Vec<Sample> = values.iter().enumerate().map(|(i, &v)| at(i, v)).collect();
        let end = ChunkEnd {
            totals: totals_of(&values),
            count: 5,
            last: samples[4],
        };
        let before = Passed {
            decoded: 1,
            sample: samples[0],
            totals: totals_of(&values[..1]),
        };
        let s = end.summary_after(&before, samples[1], values[0], SummaryKind::Totals);
        assert_eq!(s.moments(), None, "not asked for");
        assert_eq!((s.count, s.resets, s.changes), (4, 2, 3));
        assert_eq!(s.reset_correction.to_bits(), (2.0f64 + 0.7).to_bits());
    }
}
