//! The functions a Prometheus alert template can call: Go's built-ins and
//! Prometheus's own (`query`, `humanize*`, `reReplaceAll`, …).

use std::collections::BTreeMap;

use regex::Regex;

use super::humanize;
use super::printf::sprintf;
use super::value::Value;

/// Runs the `query` template function: an instant query at the
/// evaluation time, returning each sample's labels and value.
pub trait TemplateQuerier {
    fn query(&self, expr: &str) -> Result<QuerySamples, String>;
}

/// Each sample's labels and value.
pub type QuerySamples = Vec<(BTreeMap<String, String>, f64)>;

/// What the functions may use besides their arguments.
#[derive(Default)]
pub struct FuncContext<'a> {
    pub querier: Option<&'a dyn TemplateQuerier>,
    pub external_url: String,
}

const NAMES: &[&str] = &[
    // Go's text/template built-ins.
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
    "slice",
    // Prometheus's template functions.
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
];

pub fn is_function(name: &str) -> bool {
    NAMES.contains(&name)
}

type FuncResult = Result<Value, String>;

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string_arg(args: &[Value], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
        None => Err("missing argument".into()),
    }
}

/// Prometheus's `convertToFloat`: numbers and numeric strings.
fn float_arg(args: &[Value], i: usize) -> Result<f64, String> {
    match args.get(i) {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Int(n)) => Ok(*n as f64),
        Some(Value::String(s)) => parse_go_float(s)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        Some(other) => Err(format!("can't convert {} to float", other.type_name())),
        None => Err("missing argument".into()),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "inf" | "infinity" => Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| e.to_string())
}

pub fn call(ctx: &FuncContext<'_>, name: &str, args: Vec<Value>) -> FuncResult {
    match name {
        "and" => Ok(args
            .iter()
            .find(|a| !a.is_true())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil)),
        "or" => Ok(args
            .iter()
            .find(|a| a.is_true())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil)),
        "not" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].is_true()))
        }
        "len" => {
            arity(name, &args, 1)?;
            match &args[0] {
                Value::String(s) => Ok(Value::Int(s.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                other => Err(format!("len of type {}", other.type_name())),
            }
        }
        "index" => index(args),
        "print" => Ok(Value::String(go_sprint(&args))),
        "println" => Ok(Value::String(
            args.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" ")
                + "\n",
        )),
        "printf" => {
            let format = string_arg(&args, 0)?;
            Ok(Value::String(sprintf(&format, &args[1..])))
        }
        "eq" => {
            let first = args.first().ok_or("missing argument for comparison")?;
            for other in &args[1..] {
                if compare(first, other)? == std::cmp::Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let ord = compare(&args[0], &args[1])?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "ne" => ord != Equal,
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            }))
        }
        "html" | "safeHtml" => Ok(Value::String(if name == "html" {
            html_escape(&go_sprint(&args))
        } else {
            string_arg(&args, 0)?
        })),
        "js" => Ok(Value::String(
            go_sprint(&args)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('"', "\\\""),
        )),
        "urlquery" => Ok(Value::String(query_escape(&go_sprint(&args)))),
        "slice" => slice(args),
        "query" => {
            arity(name, &args, 1)?;
            let expr = string_arg(&args, 0)?;
            let querier = ctx.querier.ok_or("query is not available here")?;
            let samples = querier.query(&expr)?;
            Ok(Value::List(
                samples
                    .into_iter()
                    .map(|(labels, v)| sample_value(labels, v))
                    .collect(),
            ))
        }
        "first" => match args.first() {
            Some(Value::List(l)) => l
                .first()
                .cloned()
                .ok_or_else(|| "first() called on vector with no elements".into()),
            _ => Err("first() needs a query result".into()),
        },
        "label" => {
            arity(name, &args, 2)?;
            let label = string_arg(&args, 0)?;
            Ok(match &args[1] {
                Value::Map(sample) => match sample.get("Labels") {
                    Some(Value::Map(labels)) => labels
                        .get(&label)
                        .cloned()
                        .unwrap_or(Value::String(String::new())),
                    _ => Value::String(String::new()),
                },
                _ => Value::String(String::new()),
            })
        }
        "value" => match args.first() {
            Some(Value::Map(sample)) => {
                Ok(sample.get("Value").cloned().unwrap_or(Value::Float(0.0)))
            }
            _ => Err("value() needs a sample".into()),
        },
        "strvalue" => match args.first() {
            Some(Value::Map(sample)) => Ok(match sample.get("Labels") {
                Some(Value::Map(labels)) => labels
                    .get("__value__")
                    .cloned()
                    .unwrap_or(Value::String(String::new())),
                _ => Value::String(String::new()),
            }),
            _ => Err("strvalue() needs a sample".into()),
        },
        "args" => Ok(Value::Map(
            args.into_iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v))
                .collect(),
        )),
        "reReplaceAll" => {
            arity(name, &args, 3)?;
            let re = regex(&string_arg(&args, 0)?)?;
            let text = string_arg(&args, 2)?;
            Ok(Value::String(
                re.replace_all(&text, string_arg(&args, 1)?.as_str())
                    .into_owned(),
            ))
        }
        "match" => {
            arity(name, &args, 2)?;
            Ok(Value::Bool(
                regex(&string_arg(&args, 0)?)?.is_match(&string_arg(&args, 1)?),
            ))
        }
        "title" => Ok(Value::String(go_title(&string_arg(&args, 0)?))),
        "toUpper" => Ok(Value::String(string_arg(&args, 0)?.to_uppercase())),
        "toLower" => Ok(Value::String(string_arg(&args, 0)?.to_lowercase())),
        "graphLink" | "tableLink" => {
            let tab = if name == "graphLink" { 0 } else { 1 };
            Ok(Value::String(format!(
                "/graph?g0.expr={}&g0.tab={tab}",
                query_escape(&string_arg(&args, 0)?)
            )))
        }
        "sortByLabel" => {
            arity(name, &args, 2)?;
            let label = string_arg(&args, 0)?;
            let Value::List(mut samples) = args[1].clone() else {
                return Err("sortByLabel needs a query result".into());
            };
            let key = |v: &Value| {
                call(ctx, "label", vec![Value::String(label.clone()), v.clone()])
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            };
            samples.sort_by_key(key);
            Ok(Value::List(samples))
        }
        "humanize" => Ok(Value::String(humanize::humanize(float_arg(&args, 0)?))),
        "humanize1024" => Ok(Value::String(humanize::humanize_1024(float_arg(&args, 0)?))),
        "humanizeDuration" => Ok(Value::String(humanize::humanize_duration(float_arg(
            &args, 0,
        )?))),
        "humanizePercentage" => Ok(Value::String(humanize::humanize_percentage(float_arg(
            &args, 0,
        )?))),
        "humanizeTimestamp" => {
            humanize::humanize_timestamp(float_arg(&args, 0)?).map(Value::String)
        }
        "toTime" => humanize::humanize_timestamp(float_arg(&args, 0)?).map(Value::String),
        "toDuration" => Ok(Value::String(go_duration(float_arg(&args, 0)?))),
        "parseDuration" => {
            let d = crate::duration::PromDuration::parse(&string_arg(&args, 0)?)
                .map_err(|e| e.to_string())?;
            Ok(Value::Float(d.millis() as f64 / 1000.0))
        }
        "externalURL" => Ok(Value::String(ctx.external_url.clone())),
        "pathPrefix" => Ok(Value::String(
            url::Url::parse(&ctx.external_url)
                .map(|u| u.path().trim_end_matches('/').to_string())
                .unwrap_or_default(),
        )),
        "stripPort" => Ok(Value::String(strip_port(&string_arg(&args, 0)?))),
        "stripDomain" => Ok(Value::String(strip_domain(&string_arg(&args, 0)?))),
        _ => Err(format!("function {name:?} not defined")),
    }
}

fn sample_value(labels: BTreeMap<String, String>, v: f64) -> Value {
    let mut sample = BTreeMap::new();
    sample.insert("Labels".to_string(), Value::string_map(labels));
    sample.insert("Value".to_string(), Value::Float(v));
    Value::Map(sample)
}

/// Go's ordering for `eq`/`lt`/…: values of the same basic kind only.
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    let incompatible = || "incompatible types for comparison".to_string();
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => {
            Ok(x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Less))
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Nil, Value::Nil) => Ok(std::cmp::Ordering::Equal),
        _ => Err(incompatible()),
    }
}

fn index(args: Vec<Value>) -> FuncResult {
    let mut iter = args.into_iter();
    let mut item = iter.next().ok_or("index of nothing")?;
    for key in iter {
        item = match (item, key) {
            (Value::Map(mut m), Value::String(k)) => {
                m.remove(&k).unwrap_or(Value::String(String::new()))
            }
            (Value::List(l), Value::Int(i)) => {
                let len = l.len();
                usize::try_from(i)
                    .ok()
                    .and_then(|i| l.into_iter().nth(i))
                    .ok_or_else(|| format!("index out of range: {i} (length {len})"))?
            }
            (item, key) => {
                return Err(format!(
                    "can't index item of type {} with {}",
                    item.type_name(),
                    key.type_name()
                ))
            }
        };
    }
    Ok(item)
}

fn slice(args: Vec<Value>) -> FuncResult {
    let mut iter = args.into_iter();
    let item = iter.next().ok_or("slice of nothing")?;
    let bounds: Vec<usize> = iter
        .map(|v| match v {
            Value::Int(i) if i >= 0 => Ok(i as usize),
            other => Err(format!("cannot index slice with {other}")),
        })
        .collect::<Result<_, _>>()?;
    match item {
        Value::String(s) => {
            let start = bounds.first().copied().unwrap_or(0);
            let end = bounds.get(1).copied().unwrap_or(s.len());
            s.get(start..end)
                .map(|s| Value::String(s.to_string()))
                .ok_or_else(|| "slice index out of range".into())
        }
        Value::List(l) => {
            let start = bounds.first().copied().unwrap_or(0);
            let end = bounds.get(1).copied().unwrap_or(l.len());
            l.get(start..end)
                .map(|s| Value::List(s.to_vec()))
                .ok_or_else(|| "slice index out of range".into())
        }
        other => Err(format!("can't slice item of type {}", other.type_name())),
    }
}

/// `fmt.Sprint`: a space between operands when neither is a string.
fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_string());
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('\'', "&#39;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of every
/// word, where ASCII letters, digits and `_` continue a word.
fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous = ' ';
    for c in s.chars() {
        let separator = if previous.is_ascii() {
            !(previous.is_ascii_alphanumeric() || previous == '_')
        } else if previous.is_alphanumeric() {
            false
        } else {
            previous.is_whitespace()
        };
        if separator {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// `host:port` → `host`, `[::1]:80` → `::1`; anything else unchanged.
fn strip_port(host_port: &str) -> String {
    if let Some(rest) = host_port.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once(']') {
            if port.is_empty() || port.starts_with(':') {
                return host.to_string();
            }
        }
        return host_port.to_string();
    }
    match host_port.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host.to_string(),
        _ => host_port.to_string(),
    }
}

/// `node1.example.com:9100` → `node1:9100`; IP addresses are kept whole.
fn strip_domain(host_port: &str) -> String {
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && !h.starts_with('[') => (h, Some(p)),
        _ if host_port.starts_with('[') || host_port.matches(':').count() > 1 => {
            return host_port.to_string()
        }
        _ => (host_port, None),
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host_port.to_string();
    }
    let short = host.split('.').next().unwrap_or(host);
    match port {
        Some(p) => format!("{short}:{p}"),
        None => short.to_string(),
    }
}

/// Go's `time.Duration.String()` for seconds.
fn go_duration(seconds: f64) -> String {
    let nanos = (seconds * 1e9) as i128;
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", trim_fraction(n as f64 / 1e3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", trim_fraction(n as f64 / 1e6));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let secs = (n % 60_000_000_000) as f64 / 1e9;
    let mut out = sign.to_string();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_fraction(secs)));
    out
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_helpers_match_go() {
        assert_eq!(
            go_title("hello wORLD foo_bar x-y"),
            "Hello WORLD Foo_bar X-Y"
        );
        assert_eq!(strip_port("localhost:9090"), "localhost");
        assert_eq!(strip_port("[::1]:9090"), "::1");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_domain("node1.example.com:9100"), "node1:9100");
        assert_eq!(strip_domain("192.168.0.1:9100"), "192.168.0.1:9100");
        assert_eq!(strip_domain("node1.example.com"), "node1");
        assert_eq!(query_escape("up == 0"), "up+%3D%3D+0");
        assert_eq!(go_duration(90.5), "1m30.5s");
    }
}
