//! Parser for Prometheus's PromQL test scripts (`promql/promqltest`):
//! `load`, `clear` and `eval` commands with their `expect` lines and
//! expected series.

use std::fmt;

use opsdeck_metrics::{Labels, STALE_NAN};

#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    Value(f64),
    /// `_`: no sample at this step.
    Omitted,
    /// `{{…}}`: a native histogram, out of scope here.
    Histogram,
}

#[derive(Debug, Clone)]
pub struct SeriesLine {
    pub labels: Labels,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub enum Expected {
    Series(SeriesLine),
    Scalar(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationKind {
    Warn,
    Info,
    NoWarn,
    NoInfo,
}

#[derive(Debug, Clone)]
pub enum EvalKind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

#[derive(Debug, Clone)]
pub struct Eval {
    pub line: usize,
    pub kind: EvalKind,
    pub expr: String,
    pub fail: bool,
    /// `expect fail msg: …` / `regex: …`.
    pub fail_message: Option<MessageMatch>,
    pub ordered: bool,
    pub annotations: Vec<AnnotationKind>,
    /// `expect range vector from … to … step …` for an instant query that
    /// returns a range vector.
    pub range_vector: Option<(i64, i64, i64)>,
    pub string: Option<String>,
    pub expected: Vec<Expected>,
}

#[derive(Debug, Clone)]
pub enum MessageMatch {
    Exact(String),
    Regex(String),
}

#[derive(Debug, Clone)]
pub struct Load {
    pub line: usize,
    pub interval: i64,
    /// `load_with_nhcb`: classic histograms are also loaded as native ones.
    pub with_nhcb: bool,
    pub series: Vec<SeriesLine>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Load(Load),
    Clear,
    Eval(Box<Eval>),
}

#[derive(Debug)]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ScriptError> {
    Err(ScriptError {
        line,
        message: message.into(),
    })
}

/// Parses a whole script. As in Prometheus, a blank or comment line ends a
/// command's block.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let number = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        let keyword = line.split_whitespace().next().unwrap_or("");
        let mut block = Vec::new();
        if keyword != "clear" {
            while i < lines.len() && !lines[i].is_empty() && !starts_command(lines[i]) {
                block.push((i + 1, lines[i]));
                i += 1;
            }
        }
        let command = match keyword {
            "clear" => Command::Clear,
            "load" | "load_with_nhcb" => Command::Load(parse_load(number, line, &block)?),
            k if k.starts_with("eval") => {
                Command::Eval(Box::new(parse_eval(number, line, &block)?))
            }
            other => return err(number, format!("unknown command {other:?}")),
        };
        commands.push(command);
    }
    Ok(commands)
}

fn starts_command(line: &str) -> bool {
    let keyword = line.split_whitespace().next().unwrap_or("");
    keyword == "clear" || keyword.starts_with("load") || keyword.starts_with("eval")
}

fn parse_load(number: usize, line: &str, block: &[(usize, &str)]) -> Result<Load, ScriptError> {
    let mut words = line.split_whitespace();
    let with_nhcb = words.next() == Some("load_with_nhcb");
    let interval = match words.next().map(parse_duration) {
        Some(Some(d)) => d,
        _ => return err(number, format!("invalid load interval in {line:?}")),
    };
    let series = block
        .iter()
        .map(|&(n, l)| parse_series_line(n, l))
        .collect::<Result<_, _>>()?;
    Ok(Load {
        line: number,
        interval,
        with_nhcb,
        series,
    })
}

fn parse_eval(number: usize, line: &str, block: &[(usize, &str)]) -> Result<Eval, ScriptError> {
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let modifier = command.strip_prefix("eval").unwrap_or("");
    let mut eval = Eval {
        line: number,
        kind: EvalKind::Instant { at: 0 },
        expr: String::new(),
        fail: modifier == "_fail",
        fail_message: None,
        ordered: modifier == "_ordered",
        annotations: match modifier {
            "_warn" => vec![AnnotationKind::Warn],
            "_info" => vec![AnnotationKind::Info],
            _ => Vec::new(),
        },
        range_vector: None,
        string: None,
        expected: Vec::new(),
    };
    let rest = rest.trim_start();
    if let Some(instant) = rest.strip_prefix("instant") {
        let instant = instant.trim_start();
        let Some(after_at) = instant.strip_prefix("at") else {
            return err(number, "expected `instant at <time>`");
        };
        let (at, expr) = split_word(after_at.trim_start());
        let Some(at) = parse_duration(at) else {
            return err(number, format!("invalid time {at:?}"));
        };
        eval.kind = EvalKind::Instant { at };
        eval.expr = expr.to_string();
    } else if let Some(range) = rest.strip_prefix("range") {
        let words: Vec<&str> = range.split_whitespace().take(6).collect();
        let [from, start, to, end, step_kw, step] = words[..] else {
            return err(number, "expected `range from <t> to <t> step <d>`");
        };
        if from != "from" || to != "to" || step_kw != "step" {
            return err(number, "expected `range from <t> to <t> step <d>`");
        }
        let (Some(start), Some(end), Some(step)) = (
            parse_duration(start),
            parse_duration(end),
            parse_duration(step),
        ) else {
            return err(number, "invalid time in range");
        };
        eval.kind = EvalKind::Range { start, end, step };
        let mut expr = range.trim_start();
        for _ in 0..6 {
            expr = split_word(expr).1;
        }
        eval.expr = expr.to_string();
    } else {
        return err(number, "expected `instant` or `range`");
    }
    for &(n, l) in block {
        if let Some(expect) = l.strip_prefix("expect ") {
            parse_expect(n, expect.trim(), &mut eval)?;
        } else if let Some(message) = l.strip_prefix("expected_fail_message ") {
            eval.fail = true;
            eval.fail_message = Some(MessageMatch::Exact(message.trim().to_string()));
        } else if let Some(regex) = l.strip_prefix("expected_fail_regexp ") {
            eval.fail = true;
            eval.fail_message = Some(MessageMatch::Regex(regex.trim().to_string()));
        } else if let Ok(v) = parse_number(l) {
            eval.expected.push(Expected::Scalar(v));
        } else {
            eval.expected
                .push(Expected::Series(parse_series_line(n, l)?));
        }
    }
    Ok(eval)
}

fn parse_expect(n: usize, expect: &str, eval: &mut Eval) -> Result<(), ScriptError> {
    let (kind, rest) = split_word(expect);
    let message = || -> Option<MessageMatch> {
        let (how, text) = rest.split_once(':')?;
        let text = text.trim();
        // A message may be wrapped in quotes as a whole.
        let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) if !inner.contains('"') => inner,
            _ => text,
        }
        .to_string();
        match how.trim() {
            "msg" => Some(MessageMatch::Exact(text)),
            "regex" => Some(MessageMatch::Regex(text)),
            _ => None,
        }
    };
    match kind {
        "fail" => {
            eval.fail = true;
            eval.fail_message = message();
        }
        "ordered" => eval.ordered = true,
        "warn" => eval.annotations.push(AnnotationKind::Warn),
        "info" => eval.annotations.push(AnnotationKind::Info),
        "no_warn" => eval.annotations.push(AnnotationKind::NoWarn),
        "no_info" => eval.annotations.push(AnnotationKind::NoInfo),
        "string" => eval.string = Some(unquote(rest.trim()).unwrap_or_default()),
        "range" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let ["vector", "from", start, "to", end, "step", step] = words[..] else {
                return err(n, format!("invalid `expect range vector` line {expect:?}"));
            };
            match (
                parse_duration(start),
                parse_duration(end),
                parse_duration(step),
            ) {
                (Some(s), Some(e), Some(st)) => eval.range_vector = Some((s, e, st)),
                _ => return err(n, format!("invalid times in {expect:?}")),
            }
        }
        other => return err(n, format!("unknown expectation {other:?}")),
    }
    Ok(())
}

fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (s, ""),
    }
}

/// Prometheus durations (`1h30m`, `10s`, `0`), or plain seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(seconds) = s.parse::<f64>() {
        return Some((seconds * 1000.0).round() as i64);
    }
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let value: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[unit_len..];
    }
    Some(if negative { -total } else { total })
}

fn parse_number(s: &str) -> Result<f64, ()> {
    let s = s.trim();
    match s {
        "stale" => return Ok(STALE_NAN),
        "Inf" | "+Inf" | "inf" | "+inf" => return Ok(f64::INFINITY),
        "-Inf" | "-inf" => return Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => return Ok(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16)
            .map(|v| v as f64)
            .map_err(|_| ());
    }
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return Err(());
    }
    s.parse().map_err(|_| ())
}

/// `metric{a="b"} 1 2+3x4 _ stale {{…}}`.
fn parse_series_line(n: usize, line: &str) -> Result<SeriesLine, ScriptError> {
    let (labels, rest) = parse_series_desc(line).map_err(|m| ScriptError {
        line: n,
        message: format!("{m} in {line:?}"),
    })?;
    let mut points = Vec::new();
    for token in value_tokens(rest) {
        expand_token(token, &mut points).map_err(|m| ScriptError {
            line: n,
            message: format!("{m} in {line:?}"),
        })?;
    }
    Ok(SeriesLine { labels, points })
}

/// Splits the values part on whitespace, keeping `{{ … }}` together.
fn value_tokens(s: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if let Some(st) = start.take() {
                tokens.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        tokens.push(&s[st..]);
    }
    tokens
}

fn expand_token(token: &str, points: &mut Vec<Point>) -> Result<(), String> {
    if token.starts_with("{{") {
        let times = token
            .rsplit_once("}}x")
            .map(|(_, n)| {
                n.parse::<usize>()
                    .map_err(|_| format!("bad repeat {token:?}"))
            })
            .transpose()?;
        points.extend(std::iter::repeat_n(
            Point::Histogram,
            times.map_or(1, |n| n + 1),
        ));
        return Ok(());
    }
    if token == "_" {
        points.push(Point::Omitted);
        return Ok(());
    }
    if let Some(n) = token.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad repeat {token:?}"))?;
        points.extend(std::iter::repeat_n(Point::Omitted, n));
        return Ok(());
    }
    let Some((base, times)) = token.rsplit_once('x') else {
        let v = parse_number(token).map_err(|_| format!("bad value {token:?}"))?;
        points.push(Point::Value(v));
        return Ok(());
    };
    let times: usize = times.parse().map_err(|_| format!("bad repeat {token:?}"))?;
    // `a+b`, `a-b` or `a`; the sign splitting them is not the one of an
    // exponent or of `a` itself.
    let split = base
        .char_indices()
        .skip(1)
        .filter(|&(i, c)| (c == '+' || c == '-') && !base[..i].ends_with(['e', 'E']))
        .map(|(i, _)| i)
        .last();
    let (start, increment) = match split {
        Some(i) => (&base[..i], &base[i..]),
        None => (base, "0"),
    };
    let mut value = parse_number(start).map_err(|_| format!("bad value {token:?}"))?;
    let increment = parse_number(increment).map_err(|_| format!("bad increment {token:?}"))?;
    for _ in 0..=times {
        points.push(Point::Value(value));
        value += increment;
    }
    Ok(())
}

/// `name{label="value", …}` (either part optional), returning the rest.
fn parse_series_desc(line: &str) -> Result<(Labels, &str), String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let mut pairs: Vec<(String, String)> = Vec::new();
    if name_end > 0 {
        pairs.push(("__name__".into(), line[..name_end].to_string()));
    }
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut s = inner.trim_start();
        loop {
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            let (name, after) = if s.starts_with(['"', '\'', '`']) {
                let (quoted, after) = take_quoted(s)?;
                (quoted, after)
            } else {
                let end = s
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or("unterminated label set")?;
                (s[..end].to_string(), &s[end..])
            };
            let after = after.trim_start();
            if let Some(after) = after.strip_prefix('=') {
                let (value, after) = take_quoted(after.trim_start())?;
                pairs.push((name, value));
                s = after.trim_start();
            } else {
                // A quoted name alone is the metric name.
                pairs.push(("__name__".into(), name));
                s = after;
            }
            s = s.strip_prefix(',').unwrap_or(s).trim_start();
        }
    }
    Ok((Labels::from_pairs(pairs), rest.trim_start()))
}

fn take_quoted(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("expected a quoted string")?;
    if !matches!(quote, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote != '`' {
            escaped = true;
        } else if c == quote {
            let raw = &s[..=i];
            return Ok((unquote(raw).ok_or("bad escape")?, &s[i + 1..]));
        }
    }
    Err("unterminated string".into())
}

/// Removes quotes and resolves Go escapes.
fn unquote(s: &str) -> Option<String> {
    let quote = s.chars().next()?;
    let inner = s.strip_prefix(quote)?.strip_suffix(quote)?;
    if quote == '`' {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(token: &str) -> Vec<Point> {
        let mut points = Vec::new();
        expand_token(token, &mut points).unwrap();
        points
    }

    #[test]
    fn expands_sequences() {
        use Point::*;
        assert_eq!(expand("1+2x2"), vec![Value(1.0), Value(3.0), Value(5.0)]);
        assert_eq!(expand("-1-1x1"), vec![Value(-1.0), Value(-2.0)]);
        assert_eq!(expand("_x2"), vec![Omitted, Omitted]);
        assert_eq!(expand("5x1"), vec![Value(5.0), Value(5.0)]);
        assert_eq!(expand("1e3"), vec![Value(1000.0)]);
    }

    #[test]
    fn parses_series_descriptions() {
        let line = parse_series_line(1, r#"m{a="x, y", b="\"q\""} 1 _ stale"#).unwrap();
        assert_eq!(line.labels.get("a"), Some("x, y"));
        assert_eq!(line.labels.get("b"), Some("\"q\""));
        assert_eq!(line.points.len(), 3);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("10s"), Some(10_000));
    }
}
