//! Function calls: dispatch, and the functions over instant vectors and
//! scalars. Range-vector functions live in `range_functions`.

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::{Call, Expr};

use super::eval::{Evaluated, Evaluator, Points, Series, Steps};
use super::{histogram, range_functions, selector, QueryError};
use crate::{Labels, METRIC_NAME};

pub(crate) fn eval(ev: &Evaluator, call: &Call, steps: &Steps) -> Result<Evaluated, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| QueryError::exec(format!("{name}() is missing argument {}", i + 1)))
    };
    let vector = match name {
        "time" => {
            return Ok(Evaluated::Scalar(
                (0..steps.count)
                    .map(|i| steps.time(i) as f64 / 1000.0)
                    .collect(),
            ))
        }
        "pi" => return Ok(Evaluated::Scalar(vec![std::f64::consts::PI; steps.count])),
        "start" | "end" | "step" | "range" => {
            let ms = match name {
                "start" => ev.query_start,
                "end" => ev.query_end,
                "step" => ev.query_step,
                _ => ev.query_end - ev.query_start,
            };
            return Ok(Evaluated::Scalar(vec![ms as f64 / 1000.0; steps.count]));
        }
        "min_of" | "max_of" => {
            let mut result = vec![f64::NAN; steps.count];
            for (i, e) in args.iter().enumerate() {
                let values = ev.eval_scalar(e, steps)?;
                for (r, v) in result.iter_mut().zip(values) {
                    *r = match i {
                        0 => v,
                        _ if name == "min_of" => go_min(*r, v),
                        _ => go_max(*r, v),
                    };
                }
            }
            return Ok(Evaluated::Scalar(result));
        }
        "scalar" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            return Ok(Evaluated::Scalar(
                (0..steps.count)
                    .map(|step| {
                        let mut present = input.iter().filter_map(|s| s.points[step]);
                        match (present.next(), present.next()) {
                            (Some(v), None) => v,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ));
        }
        "vector" => {
            let values = ev.eval_scalar(arg(0)?, steps)?;
            vec![Series {
                labels: Labels::new(),
                drop_name: false,
                points: values.into_iter().map(Some).collect(),
            }]
        }
        "timestamp" => timestamp(ev, arg(0)?, steps)?,
        "absent" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            absent(arg(0)?, steps, |step| {
                input.iter().any(|s| s.points[step].is_some())
            })
        }
        "absent_over_time" => {
            let windows = ev.eval_windows(arg(0)?, steps)?;
            let mut present = vec![false; steps.count];
            windows.for_each_series(|_, _, samples| {
                range_functions::for_each_window(
                    &windows.ends,
                    windows.range_ms,
                    samples,
                    |step, w| {
                        present[step] |= !w.is_empty();
                    },
                );
            });
            absent(arg(0)?, steps, |step| present[step])
        }
        "predict_linear" => {
            let windows = ev.eval_windows(arg(0)?, steps)?;
            let duration = ev.eval_scalar(arg(1)?, steps)?;
            range_functions::compute(name, &windows, steps, &[duration])?
        }
        "quantile_over_time" => {
            let q = ev.eval_scalar(arg(0)?, steps)?;
            let windows = ev.eval_windows(arg(1)?, steps)?;
            range_functions::compute(name, &windows, steps, &[q])?
        }
        "rate"
        | "irate"
        | "increase"
        | "delta"
        | "idelta"
        | "deriv"
        | "resets"
        | "changes"
        | "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "last_over_time"
        | "first_over_time"
        | "present_over_time"
        | "mad_over_time"
        | "ts_of_first_over_time"
        | "ts_of_last_over_time"
        | "ts_of_min_over_time"
        | "ts_of_max_over_time" => {
            let windows = ev.eval_windows(arg(0)?, steps)?;
            range_functions::compute(name, &windows, steps, &[])?
        }
        "double_exponential_smoothing" => {
            let windows = ev.eval_windows(arg(0)?, steps)?;
            let smoothing = ev.eval_scalar(arg(1)?, steps)?;
            let trend = ev.eval_scalar(arg(2)?, steps)?;
            range_functions::compute(name, &windows, steps, &[smoothing, trend])?
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(0)?, steps)?;
            let input = ev.eval_vector(arg(1)?, steps)?;
            histogram::histogram_quantile(&q, input, steps)
        }
        "histogram_quantiles" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let label = ev.eval_string(arg(1)?, steps)?;
            let mut out = Vec::new();
            for e in args.iter().skip(2) {
                let q = ev.eval_scalar(e, steps)?;
                let mut series = histogram::histogram_quantile(&q, input.clone(), steps);
                // The label holds the quantile as given; it is constant
                // for a quantile that is a literal, the common case.
                let value = quantile_label(q[0]);
                for s in &mut series {
                    s.labels.set(label.as_str(), value.as_str());
                }
                out.extend(series);
            }
            out
        }
        "histogram_fraction" => {
            let lower = ev.eval_scalar(arg(0)?, steps)?;
            let upper = ev.eval_scalar(arg(1)?, steps)?;
            let input = ev.eval_vector(arg(2)?, steps)?;
            histogram::histogram_fraction(&lower, &upper, input, steps)
        }
        "clamp" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let min = ev.eval_scalar(arg(1)?, steps)?;
            let max = ev.eval_scalar(arg(2)?, steps)?;
            map_values(input, true, |v, step| {
                // Only a maximum below the minimum empties the result; NaN
                // bounds give NaN.
                let empty = max[step].partial_cmp(&min[step]) == Some(std::cmp::Ordering::Less);
                (!empty).then(|| go_max(min[step], go_min(max[step], v)))
            })
        }
        "clamp_min" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let min = ev.eval_scalar(arg(1)?, steps)?;
            map_values(input, true, |v, step| Some(go_max(min[step], v)))
        }
        "clamp_max" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let max = ev.eval_scalar(arg(1)?, steps)?;
            map_values(input, true, |v, step| Some(go_min(max[step], v)))
        }
        "round" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let to_nearest = match args.get(1) {
                Some(e) => ev.eval_scalar(e, steps)?,
                None => vec![1.0; steps.count],
            };
            map_values(input, true, |v, step| {
                // Dividing by the inverse keeps results like 0.1 exact.
                let inverse = 1.0 / to_nearest[step];
                Some((v * inverse + 0.5).floor() / inverse)
            })
        }
        "label_replace" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let dst = ev.eval_string(arg(1)?, steps)?;
            let replacement = ev.eval_string(arg(2)?, steps)?;
            let src = ev.eval_string(arg(3)?, steps)?;
            let pattern = ev.eval_string(arg(4)?, steps)?;
            label_replace(input, &dst, &replacement, &src, &pattern)?
        }
        "label_join" => {
            let input = ev.eval_vector(arg(0)?, steps)?;
            let dst = ev.eval_string(arg(1)?, steps)?;
            let separator = ev.eval_string(arg(2)?, steps)?;
            let sources = args[3..]
                .iter()
                .map(|e| ev.eval_string(e, steps))
                .collect::<Result<Vec<_>, _>>()?;
            label_join(input, &dst, &separator, &sources)?
        }
        "sort" | "sort_desc" => {
            let mut input = ev.eval_vector(arg(0)?, steps)?;
            if steps.count == 1 {
                let descending = name == "sort_desc";
                // NaN sorts last either way.
                input.sort_by(|a, b| {
                    let (a, b) = (
                        a.points[0].unwrap_or(f64::NAN),
                        b.points[0].unwrap_or(f64::NAN),
                    );
                    match (a.is_nan(), b.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if descending => b.total_cmp(&a),
                        _ => a.total_cmp(&b),
                    }
                });
            }
            input
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut input = ev.eval_vector(arg(0)?, steps)?;
            let names = args[1..]
                .iter()
                .map(|e| ev.eval_string(e, steps))
                .collect::<Result<Vec<_>, _>>()?;
            input.sort_by(|a, b| {
                let by_names = names.iter().map(|n| {
                    natural_cmp(a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""))
                });
                let ordering = by_names
                    .chain(std::iter::once_with(|| a.labels.cmp(&b.labels)))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal);
                if name == "sort_by_label_desc" {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
            input
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let input = match args.first() {
                Some(e) => ev.eval_vector(e, steps)?,
                None => vec![Series {
                    labels: Labels::new(),
                    drop_name: false,
                    points: (0..steps.count)
                        .map(|i| Some(steps.time(i) as f64 / 1000.0))
                        .collect(),
                }],
            };
            map_values(input, false, |v, _| date_part(name, v))
        }
        _ => {
            let f = math_function(name)
                .ok_or_else(|| QueryError::exec(format!("function {name}() is not supported")))?;
            let input = ev.eval_vector(arg(0)?, steps)?;
            map_values(input, false, |v, _| Some(f(v)))
        }
    };
    Ok(Evaluated::Vector(vector))
}

/// A quantile as a label value, as Prometheus writes bucket bounds: `0.0`,
/// `0.25`, `1.0`, `NaN`.
fn quantile_label(q: f64) -> String {
    let s = super::math::format_go_float(q);
    if s.contains(['.', 'e', 'N', 'I']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Applies `f` to every value; the name is dropped. `filter` allows `f`
/// to remove values (returning `None`).
fn map_values(
    mut input: Vec<Series>,
    filter: bool,
    mut f: impl FnMut(f64, usize) -> Option<f64>,
) -> Vec<Series> {
    for s in &mut input {
        s.drop_name = true;
        for (step, point) in s.points.iter_mut().enumerate() {
            if let Some(v) = *point {
                *point = f(v, step);
            }
        }
    }
    if filter {
        input.retain(|s| s.points.iter().any(Option::is_some));
    }
    input
}

fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "sqrt" => f64::sqrt,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

/// A date part of a Unix time in seconds, in UTC.
fn date_part(name: &str, seconds: f64) -> Option<f64> {
    if !seconds.is_finite() {
        return Some(f64::NAN);
    }
    let t = DateTime::from_timestamp(seconds.floor() as i64, 0)?;
    Some(match name {
        "day_of_month" => t.day(),
        "day_of_week" => t.weekday().num_days_from_sunday(),
        "day_of_year" => t.ordinal(),
        "days_in_month" => {
            let (y, m) = (t.year(), t.month());
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1)?;
            let this = chrono::NaiveDate::from_ymd_opt(y, m, 1)?;
            (next - this).num_days() as u32
        }
        "hour" => t.hour(),
        "minute" => t.minute(),
        "month" => t.month(),
        "year" => return Some(f64::from(t.year())),
        _ => return None,
    } as f64)
}

/// `timestamp(v)`: a selector's sample times; anything else's step times.
fn timestamp(ev: &Evaluator, arg: &Expr, steps: &Steps) -> Result<Vec<Series>, QueryError> {
    let mut inner = arg;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    let mut series = match inner {
        Expr::VectorSelector(vs) => selector::instant_vector(ev, vs, steps, true),
        _ => {
            let mut series = ev.eval_vector(arg, steps)?;
            for s in &mut series {
                for (step, point) in s.points.iter_mut().enumerate() {
                    if point.is_some() {
                        *point = Some(steps.time(step) as f64 / 1000.0);
                    }
                }
            }
            series
        }
    };
    for s in &mut series {
        s.drop_name = true;
    }
    Ok(series)
}

/// `absent`/`absent_over_time`: 1 where nothing is present, labelled with
/// the selector's equality matchers.
fn absent(arg: &Expr, steps: &Steps, present: impl Fn(usize) -> bool) -> Vec<Series> {
    let points: Points = (0..steps.count)
        .map(|step| (!present(step)).then_some(1.0))
        .collect();
    if points.iter().all(Option::is_none) {
        return Vec::new();
    }
    vec![Series {
        labels: absent_labels(arg),
        drop_name: false,
        points,
    }]
}

fn absent_labels(arg: &Expr) -> Labels {
    use promql_parser::label::MatchOp;
    let vs = match arg {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let matchers = &vs.matchers.matchers;
    let mut labels = Labels::new();
    for m in matchers {
        if m.name == METRIC_NAME || !matches!(m.op, MatchOp::Equal) {
            continue;
        }
        // A label constrained twice is ambiguous and left out.
        if matchers.iter().filter(|o| o.name == m.name).count() > 1 {
            continue;
        }
        labels.set(m.name.as_str(), m.value.as_str());
    }
    labels
}

fn label_replace(
    mut input: Vec<Series>,
    dst: &str,
    replacement: &str,
    src: &str,
    pattern: &str,
) -> Result<Vec<Series>, QueryError> {
    let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
        QueryError::exec(format!(
            "invalid regular expression in label_replace(): {pattern}: {e}"
        ))
    })?;
    if dst.is_empty() {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    for s in &mut input {
        let value = s.labels.get(src).unwrap_or("");
        if let Some(captures) = re.captures(value) {
            let mut result = String::new();
            captures.expand(replacement, &mut result);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
            s.labels.set(dst, result);
        }
    }
    Ok(input)
}

fn label_join(
    mut input: Vec<Series>,
    dst: &str,
    separator: &str,
    sources: &[String],
) -> Result<Vec<Series>, QueryError> {
    if dst.is_empty() {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    for s in &mut input {
        let joined: Vec<&str> = sources
            .iter()
            .map(|name| s.labels.get(name).unwrap_or(""))
            .collect();
        let joined = joined.join(separator);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        s.labels.set(dst, joined);
    }
    Ok(input)
}

/// Natural order: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let b_end = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let (na, nb) = (
                    a[..a_end].trim_start_matches('0'),
                    b[..b_end].trim_start_matches('0'),
                );
                let ordering = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ordering.is_ne() {
                    return ordering;
                }
                a = &a[a_end..];
                b = &b[b_end..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a = &a[x.len_utf8()..];
                b = &b[y.len_utf8()..];
            }
        }
    }
}
