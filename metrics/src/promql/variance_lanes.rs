//! `stddev_over_time` and `stdvar_over_time`, with the windows of several
//! series folded side by side.
//!
//! Welford's variance, which Prometheus uses and we copy exactly, waits on
//! a division for every sample: folding one window at a time leaves the
//! processor idle most of the time. Folding `LANES` windows in the same
//! loop overlaps their chains, and every window still gets exactly the
//! value it gets alone, since its own samples are added in the same order.

use super::eval::{Points, Series, Steps};
use super::math::Variance;
use super::range_functions::for_each_window;
use super::selector::Windows;

/// How many windows are folded side by side: enough to cover the latency
/// of a division with independent work.
const LANES: usize = 4;

/// The variance of every non-empty window of every series, passed through
/// `finish`. The name is dropped.
pub(crate) fn map_variances(
    windows: &Windows,
    steps: &Steps,
    finish: impl Fn(f64) -> f64,
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    let mut pending = Pending::default();
    windows.for_each_series(|labels, _, samples| {
        let series = out.len();
        out.push(Series {
            labels: labels.clone(),
            drop_name: true,
            points: Points::from_elem(None, steps.count),
        });
        let mut any_window = false;
        for_each_window(&windows.ends, windows.range_ms, samples, |step, window| {
            if window.is_empty() {
                return;
            }
            any_window = true;
            pending.add(Target { series, step }, window.iter().map(|p| p.v));
            if pending.is_full() {
                pending.fold_into(&mut out, &finish);
            }
        });
        if !any_window {
            out.pop();
        }
    });
    pending.fold_into(&mut out, &finish);
    out
}

/// Where a window's value goes: a series of the output and its step.
#[derive(Debug, Clone, Copy, Default)]
struct Target {
    series: usize,
    step: usize,
}

/// Windows waiting to be folded: their values, and where each one's
/// variance goes. The value buffers are kept from one batch to the next.
#[derive(Default)]
struct Pending {
    values: [Vec<f64>; LANES],
    targets: [Target; LANES],
    len: usize,
}

impl Pending {
    fn add(&mut self, target: Target, values: impl Iterator<Item = f64>) {
        let lane = &mut self.values[self.len];
        lane.clear();
        lane.extend(values);
        self.targets[self.len] = target;
        self.len += 1;
    }

    fn is_full(&self) -> bool {
        self.len == LANES
    }

    /// Folds the waiting windows and writes their values out.
    fn fold_into(&mut self, out: &mut [Series], finish: impl Fn(f64) -> f64) {
        let lanes = &self.values[..self.len];
        let variances = fold(lanes);
        for (target, variance) in self.targets[..self.len].iter().zip(variances) {
            out[target.series].points[target.step] = Some(finish(variance.stdvar()));
        }
        self.len = 0;
    }
}

/// The variances of up to `LANES` runs of values: side by side as far as
/// the shortest of a full set of lanes goes, then each on its own.
fn fold(lanes: &[Vec<f64>]) -> [Variance; LANES] {
    let mut variances = [Variance::default(); LANES];
    let side_by_side = match <&[Vec<f64>; LANES]>::try_from(lanes) {
        Ok(full) => {
            let common = full.iter().map(Vec::len).min().unwrap_or(0);
            let rows: [&[f64]; LANES] = std::array::from_fn(|lane| &full[lane][..common]);
            for i in 0..common {
                for (variance, row) in variances.iter_mut().zip(rows) {
                    variance.add(row[i]);
                }
            }
            common
        }
        Err(_) => 0,
    };
    for (variance, lane) in variances.iter_mut().zip(lanes) {
        lane[side_by_side..].iter().for_each(|&v| variance.add(v));
    }
    variances
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn alone(values: &[f64]) -> f64 {
        let mut variance = Variance::default();
        values.iter().for_each(|&v| variance.add(v));
        variance.stdvar()
    }

    proptest! {
        /// Folding side by side changes nothing, bit for bit (a NaN is a
        /// NaN), whatever the lengths of the lanes and however many there
        /// are. A window is never empty.
        #[test]
        fn side_by_side_equals_alone(
            lanes in prop::collection::vec(
                prop::collection::vec(
                    prop_oneof![
                        8 => -1e6f64..1e6,
                        1 => Just(f64::NAN),
                        1 => Just(f64::INFINITY),
                        1 => prop::num::f64::ANY,
                    ],
                    1..50,
                ),
                1..=LANES,
            )
        ) {
            let folded = fold(&lanes);
            for (lane, variance) in lanes.iter().zip(folded) {
                let (folded, alone) = (variance.stdvar(), alone(lane));
                prop_assert!(
                    folded.to_bits() == alone.to_bits() || (folded.is_nan() && alone.is_nan()),
                    "{folded} side by side, {alone} alone"
                );
            }
        }
    }
}
