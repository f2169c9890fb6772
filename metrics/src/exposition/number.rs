//! Sample values and timestamps.
//!
//! Values are decimal floats or the spellings of infinity and NaN, as Go's
//! `strconv.ParseFloat` (minus hex floats) and Python's `float` take them;
//! Rust's float parser accepts exactly that set. Short decimals, by far the
//! most common values, take an exact fast path.

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Parses a sample value.
#[inline]
pub(super) fn parse_value(token: &str) -> Option<f64> {
    match short_decimal(token.as_bytes()) {
        Some(v) => Some(v),
        None => token.parse().ok(),
    }
}

/// `-?digits(.digits)?` with at most 15 digits in all: the digits form an
/// integer below 2^53 and the divisor is an exact power of ten, so one
/// division gives the correctly rounded result (Clinger's fast path).
#[inline]
fn short_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut fraction_digits: Option<usize> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if let Some(f) = fraction_digits.as_mut() {
                    *f += 1;
                }
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(0),
            _ => return None,
        }
    }
    // "1." and "." go to the general parser, which knows what they mean.
    if count == 0 || count > 15 || fraction_digits == Some(0) {
        return None;
    }
    let value = mantissa as f64 / POW10[fraction_digits.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

/// Parses a Prometheus text timestamp: integer milliseconds.
pub(super) fn parse_timestamp_ms(token: &str) -> Option<i64> {
    token.parse().ok()
}

/// Parses an OpenMetrics timestamp: seconds, maybe fractional, rounded to
/// the millisecond. Timestamps beyond the `i64` millisecond range (year
/// 292 million) saturate; NaN and infinities are rejected.
pub(super) fn parse_timestamp_seconds(token: &str) -> Option<i64> {
    let seconds: f64 = token.parse().ok()?;
    if !seconds.is_finite() {
        return None;
    }
    // `as` saturates, which is the documented behaviour.
    Some((seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        for (token, want) in [
            ("0", 0.0),
            ("-0", -0.0),
            ("12345", 12345.0),
            ("0.1", 0.1),
            ("-2.5", -2.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e+06", 1e6),
            ("1.2E-3", 1.2e-3),
            ("123456789012345678", 123456789012345678.0),
            ("0000000000000000000000000000000000000000001.2e-1", 0.12),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("Inf", f64::INFINITY),
        ] {
            assert_eq!(parse_value(token), Some(want), "{token}");
        }
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        for bad in [
            "", "-", ".", "a", "1_2", "0x1", "0x1p-3", "1 ", "1.1.1", "--1",
        ] {
            assert_eq!(parse_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fast_path_agrees_with_the_general_parser() {
        for token in ["0.3", "123.456", "99999999.9999999", "-0.000000001", "7"] {
            assert_eq!(
                short_decimal(token.as_bytes()),
                token.parse().ok(),
                "{token}"
            );
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1395066363000"), Some(1395066363000));
        assert_eq!(parse_timestamp_ms("-3982045"), Some(-3982045));
        assert_eq!(parse_timestamp_ms("1.5"), None);
        assert_eq!(parse_timestamp_seconds("1.5e3"), Some(1_500_000));
        assert_eq!(
            parse_timestamp_seconds("1700000000.123"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_timestamp_seconds("-1.1"), Some(-1100));
        assert_eq!(
            parse_timestamp_seconds("12345678901234567890.1"),
            Some(i64::MAX)
        );
        for bad in ["NaN", "Inf", "-Inf", "1z", "0x1p-3", ""] {
            assert_eq!(parse_timestamp_seconds(bad), None, "{bad:?}");
        }
    }
}
