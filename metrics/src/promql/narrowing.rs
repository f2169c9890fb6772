//! Reads that a wider read of the same queries holds.
//!
//! An error ratio reads `rate(http_requests_total{code=~"5.."}[5m])` and
//! `rate(http_requests_total[5m])`; a latency alert per handler reads
//! `rate(x_bucket{handler="/api/send"}[5m])` beside the fleet-wide
//! `rate(x_bucket[5m])`. A function over a range vector works out each
//! series from that series' samples alone, and keeps every label but the
//! metric name, so the narrow read's series are those of the wider read
//! that its matchers select, in the same order, with the same values.
//! The store tells which series the narrow read selects by their label
//! sets, which its reads hand over shared (see [`Labels`]): picking them
//! out of the wider read's result looks up one address per series, where
//! reading them again would decode their windows.

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr, MatrixSelector};
use rustc_hash::FxHashSet;

use super::eval::Series;
use super::selector::matchers_of;
use super::shared::read_key;
use crate::{Labels, Matcher, Queryable, METRIC_NAME};

/// A wider read picks a narrow read's series out of itself only where it
/// holds at most this many series for each of the narrow read's: looking
/// up a series costs a small part of reading it anew.
const WIDER_PER_NARROW: usize = 16;

/// How a narrow read is picked out of a wider one: `f(x{a="b"}[5m])` out
/// of `f(x[5m])`, the same function of the same metric over the same
/// range, offset and `@`, with the same other arguments.
#[derive(Debug)]
pub(super) struct Narrowing {
    /// The wider read, as an expression and as its key.
    pub(super) wider: Expr,
    pub(super) wider_key: String,
    /// The metrics the wider read selects (see `SharedResults::forget`).
    pub(super) wider_metrics: Option<Vec<String>>,
    /// The store matchers of each read.
    narrow_selects: Vec<Matcher>,
    wider_selects: Vec<Matcher>,
}

impl Narrowing {
    /// How to pick `expr` out of a wider read, if it is a function over
    /// one range vector of a named metric, selected by other matchers
    /// besides the name (and no `or` alternatives).
    /// `absent_over_time` is not one: its output labels come from the
    /// matchers, not from the series.
    pub(super) fn of(expr: &Expr, lookback_ms: i64) -> Option<Narrowing> {
        let Expr::Call(call) = expr else {
            return None;
        };
        let maps_each_series = call.func.arg_types.contains(&ValueType::Matrix)
            && call.func.return_type == ValueType::Vector
            && call.func.name != "absent_over_time";
        if !maps_each_series {
            return None;
        }
        let ranges = ranges(call);
        let [range] = ranges.as_slice() else {
            return None;
        };
        let vs = &range.vs;
        let matchers = &vs.matchers.matchers;
        let picks_by_labels = vs.name.is_some()
            && vs.matchers.or_matchers.is_empty()
            && !matchers.is_empty()
            && matchers.iter().all(|m| m.name != METRIC_NAME);
        if !picks_by_labels {
            return None;
        }
        let mut wider_call = call.clone();
        for arg in &mut wider_call.args.args {
            if let Expr::MatrixSelector(ms) = arg.as_mut() {
                ms.vs.matchers.matchers.clear();
            }
        }
        let wider = Expr::Call(wider_call);
        let (wider_key, wider_metrics) = read_key(&wider, lookback_ms)?;
        Some(Narrowing {
            narrow_selects: matchers_of(vs, matchers),
            wider_selects: matchers_of(vs, &[]),
            wider,
            wider_key,
            wider_metrics,
        })
    }

    /// The label sets of the series the narrow read selects in `db`,
    /// where picking them out of the wider read costs less than reading
    /// them; `None` where it does not, or where `db` does not tell.
    pub(super) fn worth_picking(&self, db: &dyn Queryable) -> Option<Vec<Labels>> {
        let narrow = db.selected_labels(&self.narrow_selects)?;
        let wider = db.count_selected(&self.wider_selects)?;
        (narrow.len().saturating_mul(WIDER_PER_NARROW) >= wider).then_some(narrow)
    }

    /// The narrow read's series out of the wider read's `series`: those
    /// of the label sets `selected` (as `worth_picking` returned them).
    pub(super) fn pick(wider: &[Series], selected: &[Labels]) -> Vec<Series> {
        let wanted: FxHashSet<usize> = selected.iter().map(Labels::address).collect();
        let mut picked = Vec::with_capacity(selected.len());
        picked.extend(
            wider
                .iter()
                .filter(|s| wanted.contains(&s.labels.address()))
                .cloned(),
        );
        picked
    }
}

/// The range-vector arguments of a call.
fn ranges(call: &Call) -> Vec<&MatrixSelector> {
    call.args
        .args
        .iter()
        .filter_map(|arg| match arg.as_ref() {
            Expr::MatrixSelector(ms) => Some(ms),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wider read `text` is picked out of, as its key names it.
    fn wider_of(text: &str) -> Option<String> {
        let expr = promql_parser::parser::parse(text).expect("parses");
        Narrowing::of(&expr, 300_000).map(|n| n.wider_key)
    }

    fn key_of(text: &str) -> String {
        let expr = promql_parser::parser::parse(text).expect("parses");
        read_key(&expr, 300_000).expect("a read").0
    }

    #[test]
    fn a_function_over_a_named_range_with_matchers_narrows_the_same_call_without_them() {
        for (narrow, wider) in [
            ("rate(x{code=~\"5..\"}[5m])", "rate(x[5m])"),
            (
                "rate(x{a=\"b\", c!=\"\"}[5m] offset 1m)",
                "rate(x[5m] offset 1m)",
            ),
            (
                "quantile_over_time(0.9, x{a=\"b\"}[10m] @ 600)",
                "quantile_over_time(0.9, x[10m] @ 600)",
            ),
            (
                "predict_linear(x{a=\"b\"}[1h], 600)",
                "predict_linear(x[1h], 600)",
            ),
        ] {
            assert_eq!(wider_of(narrow), Some(key_of(wider)), "{narrow}");
        }
    }

    #[test]
    fn reads_whose_series_a_wider_read_does_not_hold_as_they_are_do_not_narrow() {
        for text in [
            // Nothing to pick by.
            "rate(x[5m])",
            // Its output labels come from the matchers.
            "absent_over_time(x{a=\"b\"}[5m])",
            // No metric name, or the name among the matchers.
            "rate({a=\"b\"}[5m])",
            "rate({__name__=\"x\", a=\"b\"}[5m])",
            "rate(x{a=\"b\" or a=\"c\"}[5m])",
            // Not a function of a range vector.
            "x{a=\"b\"}",
            "abs(x{a=\"b\"})",
        ] {
            assert_eq!(wider_of(text), None, "{text}");
        }
    }
}
