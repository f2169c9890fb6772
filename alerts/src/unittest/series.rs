//! The `input_series` notation of promtool tests: a series in PromQL
//! notation (`up{job="a"}`) and values in the expanding notation
//! (`1 _ 3+2x4 5-1x2 7x3 _x2 stale`).

use opsdeck_metrics::{Labels, STALE_NAN};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{position}: parse error: {message}")]
pub struct NotationError {
    /// `line:column` within the series text, 1-based, as promtool prints.
    pub position: String,
    pub message: String,
}

fn error(column: usize, message: impl Into<String>) -> NotationError {
    NotationError {
        position: format!("1:{column}"),
        message: message.into(),
    }
}

/// Parses `name{label="value", ...}`, `name`, or `{label="value"}`.
pub fn parse_metric(text: &str) -> Result<Labels, NotationError> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let skip_space = |pos: &mut usize| {
        while *pos < bytes.len() && bytes[*pos].is_ascii_whitespace() {
            *pos += 1;
        }
    };
    let ident = |pos: &mut usize, metric: bool| -> &str {
        let start = *pos;
        while *pos < bytes.len()
            && (bytes[*pos].is_ascii_alphanumeric()
                || bytes[*pos] == b'_'
                || (metric && bytes[*pos] == b':'))
            && !(*pos == start && bytes[*pos].is_ascii_digit())
        {
            *pos += 1;
        }
        &text[start..*pos]
    };
    let mut labels = Labels::new();
    skip_space(&mut pos);
    let name = ident(&mut pos, true);
    if !name.is_empty() {
        labels.set("__name__", name);
    }
    skip_space(&mut pos);
    if pos < bytes.len() && bytes[pos] == b'{' {
        pos += 1;
        loop {
            skip_space(&mut pos);
            if pos < bytes.len() && bytes[pos] == b'}' {
                pos += 1;
                break;
            }
            let label = ident(&mut pos, false).to_string();
            if label.is_empty() {
                return Err(match bytes.get(pos) {
                    Some(&c) => error(
                        pos + 1,
                        format!("unexpected character inside braces: {:?}", c as char),
                    ),
                    None => error(pos + 1, "unexpected end of input inside braces"),
                });
            }
            skip_space(&mut pos);
            if bytes.get(pos) != Some(&b'=') {
                return Err(error(
                    pos + 1,
                    format!("expected '=' after label name {label:?}"),
                ));
            }
            pos += 1;
            skip_space(&mut pos);
            let (value, used) = quoted(&text[pos..])
                .ok_or_else(|| error(pos + 1, "expected a quoted label value"))?;
            pos += used;
            labels.set(label, value);
            skip_space(&mut pos);
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => {}
                Some(&c) => {
                    return Err(error(
                        pos + 1,
                        format!("unexpected character inside braces: {:?}", c as char),
                    ))
                }
                None => return Err(error(pos + 1, "unexpected end of input inside braces")),
            }
        }
    } else if name.is_empty() {
        return Err(error(pos + 1, "expected a metric name or '{'"));
    }
    skip_space(&mut pos);
    if pos < bytes.len() {
        return Err(error(
            pos + 1,
            format!("unexpected {:?} after the series", &text[pos..]),
        ));
    }
    Ok(labels)
}

/// A double-, single- or back-quoted string with Go escapes; returns the
/// value and the bytes consumed.
fn quoted(text: &str) -> Option<(String, usize)> {
    let quote = text
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((out, i + 1)),
            '\\' if quote != '`' => {
                let (_, esc) = chars.next()?;
                out.push(match esc {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            c => out.push(c),
        }
    }
    None
}

/// One expanded value: `None` is a missing sample (`_`).
pub type SeriesValue = Option<f64>;

/// Expands the values notation.
pub fn parse_values(text: &str) -> Result<Vec<SeriesValue>, NotationError> {
    let mut out = Vec::new();
    let mut column = 1;
    for item in text.split(|c: char| c.is_ascii_whitespace()) {
        if !item.is_empty() {
            expand_item(item, &mut out).map_err(|m| error(column, m))?;
        }
        column += item.len() + 1;
    }
    Ok(out)
}

fn expand_item(item: &str, out: &mut Vec<SeriesValue>) -> Result<(), String> {
    if let Some(rest) = item.strip_prefix('_') {
        if rest.is_empty() {
            out.push(None);
            return Ok(());
        }
        let times = parse_times(rest)?;
        out.extend(std::iter::repeat_n(None, times as usize));
        return Ok(());
    }
    let (start, rest) = leading_value(item)?;
    if rest.is_empty() {
        out.push(Some(start));
        return Ok(());
    }
    if rest.starts_with('x') {
        let times = parse_times(rest)?;
        out.extend(std::iter::repeat_n(Some(start), times as usize + 1));
        return Ok(());
    }
    // `a+bxn` / `a-bxn`: the step is added n times, accumulating as
    // Prometheus does (so float rounding matches).
    let (sign, body) = match rest.as_bytes()[0] {
        b'+' => (1.0, &rest[1..]),
        b'-' => (-1.0, &rest[1..]),
        _ => return Err(format!("unexpected {rest:?} in series values")),
    };
    let x = body
        .rfind('x')
        .ok_or_else(|| format!("missing 'x' in {item:?}"))?;
    let step =
        sign * parse_number(&body[..x]).ok_or_else(|| format!("bad number {:?}", &body[..x]))?;
    let times = parse_times(&body[x..])?;
    let mut value = start;
    out.push(Some(value));
    for _ in 0..times {
        value += step;
        out.push(Some(value));
    }
    Ok(())
}

/// `xN` → N.
fn parse_times(text: &str) -> Result<u64, String> {
    text.strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected 'x' and a count, got {text:?}"))
}

/// The first value of an item and what follows it.
fn leading_value(item: &str) -> Result<(f64, &str), String> {
    let (negative, body) = match item.as_bytes()[0] {
        b'-' => (true, &item[1..]),
        b'+' => (false, &item[1..]),
        _ => (false, item),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    if let Some(rest) = body.strip_prefix("stale") {
        return Ok((STALE_NAN, rest));
    }
    for word in ["Inf", "inf", "NaN", "nan"] {
        if let Some(rest) = body.strip_prefix(word) {
            let v = if word.eq_ignore_ascii_case("nan") {
                f64::NAN
            } else {
                f64::INFINITY
            };
            return Ok((sign * v, rest));
        }
    }
    let end = number_end(body);
    if end == 0 {
        return Err(format!("unexpected {item:?} in series values"));
    }
    let v = parse_number(&body[..end]).ok_or_else(|| format!("bad number {:?}", &body[..end]))?;
    Ok((sign * v, &body[end..]))
}

/// Where a number ends. No hexadecimal here: `0x10` is `0` ten more times,
/// as in Prometheus's series notation.
fn number_end(text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i > 0 && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// Go's `ParseInt(s, 0, 64)` then `ParseFloat`, as PromQL numbers are
/// read (so a leading zero means octal).
fn parse_number(text: &str) -> Option<f64> {
    if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = i64::from_str_radix(&text[1..], 8) {
            return Some(v as f64);
        }
    }
    match text.to_ascii_lowercase().as_str() {
        "inf" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        parse_values(text)
            .expect("valid values")
            .iter()
            .map(|v| match v {
                None => "_".into(),
                Some(v) if opsdeck_metrics::is_stale_nan(*v) => "stale".into(),
                Some(v) => v.to_string(),
            })
            .collect()
    }

    #[test]
    fn expands_like_promtool() {
        assert_eq!(values("1+1x2"), ["1", "2", "3"]);
        assert_eq!(values("1x2"), ["1", "1", "1"]);
        assert_eq!(values("5-2x2"), ["5", "3", "1"]);
        assert_eq!(values("-2+4x1"), ["-2", "2"]);
        assert_eq!(
            values("0 _ _x2 stale 1e3 0x10"),
            [
                "0", "_", "_", "_", "stale", "1000", "0", "0", "0", "0", "0", "0", "0", "0", "0",
                "0", "0"
            ]
        );
        assert_eq!(values("Inf -Inf"), ["inf", "-inf"]);
        assert_eq!(values("1.5e-3+1e-3x1"), ["0.0015", "0.0025"]);
        assert_eq!(values("1"), ["1"]);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in ["a", "1+", "1+1", "1x", "_y", "1*2"] {
            assert!(parse_values(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_metrics() {
        assert_eq!(parse_metric("up").expect("valid").to_string(), "up");
        assert_eq!(
            parse_metric(r#"up{job="a", instance="x:1",}"#)
                .expect("valid")
                .to_string(),
            r#"up{instance="x:1", job="a"}"#
        );
        assert_eq!(
            parse_metric(r#"{alertname="A",alertstate="firing"}"#)
                .expect("valid")
                .len(),
            2
        );
        assert_eq!(
            parse_metric("requests{}").expect("valid").to_string(),
            "requests"
        );
        let err = parse_metric(r#"up{job="prometheus", instance="localhost:9090""#)
            .expect_err("unclosed");
        assert!(
            err.to_string()
                .starts_with("1:47: parse error: unexpected end of input inside braces"),
            "{err}"
        );
        assert!(parse_metric(r#"up{job=a}"#).is_err());
    }
}
