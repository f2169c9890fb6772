//! Query results printed the way `promtool query instant` prints them:
//! `up{job="x"} => 1 @[1700000000]`.

use std::fmt;

use super::math::format_go_float;
use super::Value;

/// Seconds with up to millisecond precision and no trailing zeros.
fn seconds(t_ms: i64) -> String {
    format_go_float(t_ms as f64 / 1000.0)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar { t, v } => {
                write!(f, "scalar: {} @[{}]", format_go_float(*v), seconds(*t))
            }
            Value::String { t, s } => write!(f, "string: {s} @[{}]", seconds(*t)),
            Value::Vector(samples) => {
                for (i, s) in samples.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(
                        f,
                        "{} => {} @[{}]",
                        s.labels,
                        format_go_float(s.v),
                        seconds(s.t)
                    )?;
                }
                Ok(())
            }
            Value::Matrix(series) => {
                for (i, s) in series.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{} =>", s.labels)?;
                    for p in &s.samples {
                        write!(f, "\n{} @[{}]", format_go_float(p.v), seconds(p.t))?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::VectorSample;
    use crate::Labels;

    #[test]
    fn vectors_print_like_promtool() {
        let value = Value::Vector(vec![
            VectorSample {
                labels: Labels::from_pairs([("__name__", "up"), ("job", "x")]),
                t: 1_700_000_000_000,
                v: 1.0,
            },
            VectorSample {
                labels: Labels::new(),
                t: 1_700_000_000_500,
                v: f64::INFINITY,
            },
        ]);
        assert_eq!(
            value.to_string(),
            "up{job=\"x\"} => 1 @[1700000000]\n{} => +Inf @[1700000000.5]"
        );
        let scalar = Value::Scalar { t: 0, v: 0.25 };
        assert_eq!(scalar.to_string(), "scalar: 0.25 @[0]");
    }
}
