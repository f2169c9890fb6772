//! Prometheus durations (`model.Duration`): `1h30m`, `5m`, `2m59s999ms`, `0`.
//! Parsed into and printed from milliseconds, exactly as Prometheus spells
//! them, so that messages match promtool's.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A non-negative duration in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid duration string: {0:?}")]
pub struct DurationError(pub String);

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl PromDuration {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses `[0-9]+(y|w|d|h|m|s|ms)` repeated, units in decreasing order
    /// and each at most once, or the bare `0`.
    pub fn parse(text: &str) -> Result<PromDuration, DurationError> {
        let err = || DurationError(text.to_string());
        if text == "0" {
            return Ok(PromDuration(0));
        }
        if text.is_empty() {
            return Err(err());
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut total: i64 = 0;
        let mut last_unit = None::<usize>;
        while pos < bytes.len() {
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if start == pos {
                return Err(err());
            }
            let number: i64 = text[start..pos].parse().map_err(|_| err())?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let index = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
            if last_unit.is_some_and(|last| index <= last) {
                return Err(err());
            }
            last_unit = Some(index);
            total = number
                .checked_mul(UNITS[index].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        Ok(PromDuration(total))
    }
}

/// Prints as Prometheus does: largest units first, zero parts skipped,
/// `0s` for zero.
impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = -ms;
        }
        for (unit, size) in UNITS {
            if ms >= size {
                write!(f, "{}{}", ms / size, unit)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read as text, so that a bare `0` is accepted like `5m`.
        let text = String::deserialize(deserializer)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_prometheus() {
        for (text, ms) in [
            ("0", 0),
            ("0s", 0),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2m59s999ms", 179_999),
            ("1d", 86_400_000),
            ("100d", 8_640_000_000),
        ] {
            assert_eq!(PromDuration::parse(text), Ok(PromDuration(ms)), "{text}");
        }
        assert_eq!(PromDuration(179_999).to_string(), "2m59s999ms");
        assert_eq!(PromDuration(0).to_string(), "0s");
        assert_eq!(PromDuration(86_400_000).to_string(), "1d");
        assert_eq!(PromDuration(14 * 86_400_000).to_string(), "2w");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "5", "m", "5x", "1m1h", "1s1s", "-5m"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad}");
        }
    }
}
