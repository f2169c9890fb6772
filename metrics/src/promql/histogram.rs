//! `histogram_quantile` over classic histograms: `_bucket` series told
//! apart by their `le` label.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use super::eval::{Points, Series, Steps};
use super::math::almost_equal;
use crate::Labels;

const BUCKET_LABEL: &str = "le";
/// Bucket counts this close are taken as equal: float noise from `rate`.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper_bound: f64,
    count: f64,
}

/// `histogram_quantile`: one output series per set of buckets (the labels
/// without `le`), with the `q` quantile at each step.
pub(crate) fn histogram_quantile(q: &[f64], input: Vec<Series>, steps: &Steps) -> Vec<Series> {
    per_histogram(input, steps, |buckets, step| {
        bucket_quantile(q[step], buckets)
    })
}

/// `histogram_fraction`: the share of observations between `lower` and
/// `upper` at each step.
pub(crate) fn histogram_fraction(
    lower: &[f64],
    upper: &[f64],
    input: Vec<Series>,
    steps: &Steps,
) -> Vec<Series> {
    per_histogram(input, steps, |buckets, step| {
        bucket_fraction(lower[step], upper[step], buckets)
    })
}

/// Groups bucket series into histograms and calls `f` with each
/// histogram's buckets present at a step. Series without a parsable `le`
/// are ignored, as in Prometheus.
fn per_histogram(
    input: Vec<Series>,
    steps: &Steps,
    mut f: impl FnMut(&mut Vec<Bucket>, usize) -> f64,
) -> Vec<Series> {
    // A histogram is keyed by its buckets' encoded labels without `le`,
    // borrowed where they can be, and its labels are made once: a bucket
    // allocates nothing. A histogram's buckets repeat the same few bounds,
    // each parsed once.
    let mut index: HashMap<Cow<[u8]>, usize> = HashMap::default();
    let mut bounds: HashMap<&str, Option<f64>> = HashMap::default();
    let mut groups: Vec<(Labels, Vec<(f64, &Series)>)> = Vec::new();
    let mut scratch = Vec::new();
    for s in &input {
        let Some(le) = s.labels.get(BUCKET_LABEL) else {
            continue;
        };
        let Some(upper_bound) = *bounds.entry(le).or_insert_with(|| parse_bound(le)) else {
            continue;
        };
        let own = s
            .labels
            .encoded_subset(|name| name != BUCKET_LABEL, &mut scratch);
        let g = match index.get(own.unwrap_or(&scratch)) {
            Some(&g) => g,
            None => {
                let key = match own {
                    Some(own) => Cow::Borrowed(own),
                    None => Cow::Owned(scratch.clone()),
                };
                index.insert(key, groups.len());
                groups.push((s.labels.drop_names(&[BUCKET_LABEL]), Vec::new()));
                groups.len() - 1
            }
        };
        groups[g].1.push((upper_bound, s));
    }
    let mut buckets = Vec::new();
    let mut out = Vec::with_capacity(groups.len());
    for (labels, members) in groups {
        let mut points = Points::from_elem(None, steps.count);
        for (step, point) in points.iter_mut().enumerate() {
            buckets.clear();
            buckets.extend(members.iter().filter_map(|(upper_bound, s)| {
                s.points[step].map(|count| Bucket {
                    upper_bound: *upper_bound,
                    count,
                })
            }));
            if !buckets.is_empty() {
                *point = Some(f(&mut buckets, step));
            }
        }
        if points.iter().any(Option::is_some) {
            out.push(Series {
                labels,
                drop_name: true,
                points,
            });
        }
    }
    out
}

fn parse_bound(le: &str) -> Option<f64> {
    le.trim().parse().ok()
}

/// The quantile by linear interpolation within the bucket the rank falls
/// in; the lowest bucket starts at 0 unless its bound is negative.
fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        return f64::NAN;
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|b| b.count < rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// The share of observations in `[lower, upper]`, interpolating linearly
/// inside finite buckets. The first bucket starts at 0 when its bound is
/// positive, else at -Inf; a bucket of infinite width counts only when the
/// range reaches its infinite end.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        return f64::NAN;
    }
    coalesce(buckets);
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut observations = 0.0;
    let mut previous_count = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let bucket_low = match i {
            0 if b.upper_bound > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].upper_bound,
        };
        let count = b.count - previous_count;
        previous_count = b.count;
        let (from, to) = (bucket_low.max(lower), b.upper_bound.min(upper));
        if from > to || (from == to && bucket_low != b.upper_bound) {
            continue;
        }
        if (b.upper_bound - bucket_low).is_infinite() {
            // Nothing to interpolate in: the bucket counts when the range
            // reaches its infinite end.
            let reaches_end = (b.upper_bound == f64::INFINITY && upper == f64::INFINITY)
                || (bucket_low == f64::NEG_INFINITY && lower == f64::NEG_INFINITY);
            if reaches_end {
                observations += count;
            }
        } else if from == bucket_low && to == b.upper_bound {
            observations += count;
        } else {
            observations += count * (to - from) / (b.upper_bound - bucket_low);
        }
    }
    observations / total
}

/// Merges buckets with the same bound (e.g. `le="1"` and `le="1.0"`).
fn coalesce(buckets: &mut Vec<Bucket>) {
    buckets.dedup_by(|next, kept| {
        if next.upper_bound == kept.upper_bound {
            kept.count += next.count;
            true
        } else {
            false
        }
    });
}

/// Counts must not decrease with the bound; float noise and real decreases
/// (from scrapes of buckets at slightly different times) are flattened.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut previous = buckets[0].count;
    for b in &mut buckets[1..] {
        if b.count == previous {
            continue;
        }
        if almost_equal(previous, b.count, SMALL_DELTA_TOLERANCE) || b.count < previous {
            b.count = previous;
            continue;
        }
        previous = b.count;
    }
}
