//! Prometheus's `humanize*` template functions, with Go's `%.4g` output.

use chrono::{DateTime, Utc};

use super::gofmt::format_g;

fn g4(v: f64) -> String {
    format_g(v, Some(4), false)
}

const BIG: [&str; 8] = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

/// Scales `v` below 1 by thousands, returning the value and the prefix.
fn scale_small(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in SMALL {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in BIG {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let (v, prefix) = scale_small(v);
    format!("{}{prefix}", g4(v))
}

pub fn humanize_1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let total = v as i64;
        let seconds = total % 60;
        let minutes = (total / 60) % 60;
        let hours = (total / 3600) % 24;
        let days = total / 86_400;
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let (v, prefix) = scale_small(v);
    format!("{}{prefix}s", g4(v))
}

pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Seconds since the epoch as Go prints a `time.Time` in UTC, at the
/// millisecond precision Prometheus keeps.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    let nanos = v * 1e9;
    if nanos >= i64::MAX as f64 || nanos <= i64::MIN as f64 {
        return Err("timestamp out of range".into());
    }
    let millis = (nanos as i64) / 1_000_000;
    let time = DateTime::<Utc>::from_timestamp_millis(millis).ok_or("timestamp out of range")?;
    Ok(go_time_string(&time))
}

/// Go's `time.Time.String()` for a UTC time: fractional seconds only when
/// non-zero, trailing zeros trimmed.
pub fn go_time_string(time: &DateTime<Utc>) -> String {
    let base = time.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = time.timestamp_subsec_nanos();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{base}{fraction} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_prometheus_outputs() {
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1_234_567.0), "1.235M");
        assert_eq!(humanize(1000.0), "1k");
        assert_eq!(humanize(0.001_234), "1.234m");
        assert_eq!(humanize(12.5), "12.5");
        assert_eq!(humanize_1024(1024.0), "1ki");
        assert_eq!(humanize_1024(1_073_741_824.0), "1Gi");
        assert_eq!(humanize_1024(0.5), "0.5");
        assert_eq!(humanize_duration(420.0), "7m 0s");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(1.0), "1s");
        assert_eq!(humanize_duration(90_061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(3600.0), "1h 0m 0s");
        assert_eq!(humanize_duration(0.0012), "1.2ms");
        assert_eq!(humanize_duration(-70.0), "-1m 10s");
        assert_eq!(humanize_percentage(0.1234567), "12.35%");
        assert_eq!(
            humanize_timestamp(1_435_065_584.128).as_deref(),
            Ok("2015-06-23 13:19:44.128 +0000 UTC")
        );
        assert_eq!(
            humanize_timestamp(0.0).as_deref(),
            Ok("1970-01-01 00:00:00 +0000 UTC")
        );
    }
}
