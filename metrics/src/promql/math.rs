//! Numeric building blocks shared by aggregations and `*_over_time`
//! functions, written to give the same results as Prometheus (Kahan-Neumaier
//! summation, overflow-safe mean, Welford variance, quantile by weighted
//! rank).

/// One step of Kahan-Neumaier summation: returns the new sum and
/// compensation.
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A compensated sum.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KahanSum {
    sum: f64,
    c: f64,
}

impl KahanSum {
    pub fn add(&mut self, v: f64) {
        (self.sum, self.c) = kahan_sum_inc(v, self.sum, self.c);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// A mean that sums while it can and switches to an incremental mean when
/// the sum would overflow, as Prometheus's `avg` and `avg_over_time` do.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mean {
    count: f64,
    sum: f64,
    mean: f64,
    c: f64,
    incremental: bool,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (sum, c) = kahan_sum_inc(v, self.sum, self.c);
            if self.count == 1.0 || !sum.is_infinite() {
                self.sum = sum;
                self.c = c;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let corrected = self.mean + self.c;
        (self.mean, self.c) =
            kahan_sum_inc(v / self.count - corrected / self.count, self.mean, self.c);
    }

    pub fn value(&self) -> f64 {
        if self.incremental {
            self.mean + self.c
        } else {
            (self.sum + self.c) / self.count
        }
    }
}

/// Welford's running variance with compensated sums.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Variance {
    count: f64,
    mean: f64,
    c_mean: f64,
    aux: f64,
    c_aux: f64,
}

impl Variance {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - (self.mean + self.c_mean);
        (self.mean, self.c_mean) = kahan_sum_inc(delta / self.count, self.mean, self.c_mean);
        (self.aux, self.c_aux) = kahan_sum_inc(
            delta * (v - (self.mean + self.c_mean)),
            self.aux,
            self.c_aux,
        );
    }

    pub fn stdvar(&self) -> f64 {
        (self.aux + self.c_aux) / self.count
    }
}

/// The `q` quantile of `values` by weighted rank, as PromQL's `quantile`
/// computes it. Sorts `values` in place (NaN first).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `almost.Equal`: relative comparison with an absolute floor near
/// zero. Used by `histogram_quantile` to ignore float noise between buckets.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` does:
/// the shortest representation, never with an exponent.
pub(crate) fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_sum_keeps_small_terms_next_to_large_ones() {
        let mut sum = KahanSum::default();
        for v in [1e100, 1.0, -1e100] {
            sum.add(v);
        }
        assert_eq!(sum.value(), 1.0);
    }

    #[test]
    fn mean_survives_overflowing_sum() {
        let mut mean = Mean::default();
        for v in [f64::MAX, f64::MAX, f64::MAX] {
            mean.add(v);
        }
        assert_eq!(mean.value(), f64::MAX);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [1.0, 3.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn go_float_format_has_no_exponent() {
        assert_eq!(format_go_float(1e21), "1000000000000000000000");
        assert_eq!(format_go_float(0.5), "0.5");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
    }
}
