//! The syntax of one line: a sample, or a metadata line, in either format.
//!
//! The Prometheus text format separates tokens by any run of spaces and
//! tabs and allows a trailing comma in label sets; OpenMetrics allows
//! exactly one space between tokens and nothing else. Both are handled by
//! one scanner that asks the [`Format`] at the few places where they differ.

use super::error::LineError;
use super::escape;
use super::number::{parse_timestamp_ms, parse_timestamp_seconds, parse_value};
use super::scan::{label_name_end, metric_name_end, skip_blanks, token_end};
use super::{Format, LabelRef, MetadataItem, MetricType};

/// Longest exemplar label set OpenMetrics allows, in characters of names
/// and values together.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// A sample line; its labels are in the vector passed to [`sample`].
#[derive(Debug)]
pub(super) struct SampleLine<'a> {
    pub name: &'a str,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    pub has_exemplar: bool,
}

/// What a line starting with `#` turned out to be.
#[derive(Debug)]
pub(super) enum CommentLine<'a> {
    Metadata {
        name: &'a str,
        item: MetadataItem<'a>,
    },
    /// `# EOF` in OpenMetrics.
    Eof,
    /// Any other comment (Prometheus text format only).
    Comment,
}

/// Parses a sample line. `labels` is cleared and filled with its labels.
pub(super) fn sample<'a>(
    line: &'a str,
    format: Format,
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<SampleLine<'a>, LineError> {
    let bytes = line.as_bytes();
    let lenient = format == Format::PrometheusText;
    labels.clear();

    let start = if lenient { skip_blanks(bytes, 0) } else { 0 };
    let name_end = metric_name_end(bytes, start);
    if name_end == start {
        return Err(LineError::new(start, "expected a metric name"));
    }
    let name = &line[start..name_end];

    let mut i = if lenient {
        skip_blanks(bytes, name_end)
    } else {
        name_end
    };
    if bytes.get(i) == Some(&b'{') {
        i = label_set(line, i, format, labels)?;
        if let Some(label) = labels.iter().find(|l| l.name == crate::METRIC_NAME) {
            // Label names borrow from `line`: the pointer difference is
            // the name's offset.
            let at = label.name.as_ptr() as usize - line.as_ptr() as usize;
            return Err(LineError::new(
                at,
                "metric name given twice, before and in braces",
            ));
        }
        if lenient {
            i = skip_blanks(bytes, i);
        } else {
            i = expect_space(bytes, i, "expected a space after the labels")?;
        }
    } else if i == name_end && i < bytes.len() {
        // Neither blanks nor labels after the name: a bad character in it.
        if lenient || bytes[i] != b' ' {
            return Err(LineError::new(i, "invalid character in metric name"));
        }
        i += 1;
    }

    let value_end = token_end(bytes, i, lenient);
    if value_end == i {
        return Err(LineError::new(i, "expected a sample value"));
    }
    let value = parse_value(&line[i..value_end]).ok_or_else(|| {
        LineError::new(i, format!("invalid sample value {:?}", &line[i..value_end]))
    })?;

    let mut sample = SampleLine {
        name,
        value,
        timestamp_ms: None,
        has_exemplar: false,
    };
    match format {
        Format::PrometheusText => prometheus_tail(line, value_end, &mut sample)?,
        Format::OpenMetrics => openmetrics_tail(line, value_end, &mut sample)?,
    }
    Ok(sample)
}

/// After the value in the Prometheus text format: an optional integer
/// timestamp in milliseconds, then only blanks.
fn prometheus_tail(
    line: &str,
    value_end: usize,
    sample: &mut SampleLine<'_>,
) -> Result<(), LineError> {
    let bytes = line.as_bytes();
    let i = skip_blanks(bytes, value_end);
    if i == bytes.len() {
        return Ok(());
    }
    let end = token_end(bytes, i, true);
    let token = &line[i..end];
    sample.timestamp_ms = Some(parse_timestamp_ms(token).ok_or_else(|| {
        LineError::new(
            i,
            format!("invalid timestamp {token:?}: expected integer milliseconds"),
        )
    })?);
    let rest = skip_blanks(bytes, end);
    if rest < bytes.len() {
        return Err(LineError::new(rest, "unexpected text after the timestamp"));
    }
    Ok(())
}

/// After the value in OpenMetrics: ` timestamp`, then ` # {labels} value
/// [timestamp]` (an exemplar), each part optional.
fn openmetrics_tail(
    line: &str,
    value_end: usize,
    sample: &mut SampleLine<'_>,
) -> Result<(), LineError> {
    let bytes = line.as_bytes();
    if value_end == bytes.len() {
        return Ok(());
    }
    let mut i = value_end + 1; // past the space that ended the value
    if bytes.get(i) != Some(&b'#') {
        let end = token_end(bytes, i, false);
        if end == i {
            return Err(LineError::new(i, "expected a timestamp after the space"));
        }
        sample.timestamp_ms = Some(om_timestamp(line, i, end)?);
        if end == bytes.len() {
            return Ok(());
        }
        i = end + 1;
        if bytes.get(i) != Some(&b'#') {
            return Err(LineError::new(
                i,
                "expected an exemplar (\" # {...} value\") after the timestamp",
            ));
        }
    }
    exemplar(line, i)?;
    sample.has_exemplar = true;
    Ok(())
}

/// Checks an exemplar starting at the `#` at `hash`; its content is not
/// kept.
fn exemplar(line: &str, hash: usize) -> Result<(), LineError> {
    let bytes = line.as_bytes();
    if bytes.get(hash + 1) != Some(&b' ') || bytes.get(hash + 2) != Some(&b'{') {
        return Err(LineError::new(
            hash,
            "expected \"# {\" to start an exemplar",
        ));
    }
    let mut labels = Vec::new();
    let mut i = label_set(line, hash + 2, Format::OpenMetrics, &mut labels)?;
    let chars: usize = labels
        .iter()
        .map(|l| l.name.len() + l.value.chars().count())
        .sum();
    if chars > MAX_EXEMPLAR_LABEL_CHARS {
        return Err(LineError::new(
            hash + 2,
            format!(
                "exemplar labels have {chars} characters, more than {MAX_EXEMPLAR_LABEL_CHARS}"
            ),
        ));
    }
    i = expect_space(bytes, i, "expected a space after the exemplar labels")?;
    let end = token_end(bytes, i, false);
    if end == i {
        return Err(LineError::new(i, "expected an exemplar value"));
    }
    parse_value(&line[i..end])
        .ok_or_else(|| LineError::new(i, format!("invalid exemplar value {:?}", &line[i..end])))?;
    if end == bytes.len() {
        return Ok(());
    }
    i = end + 1;
    let ts_end = token_end(bytes, i, false);
    if ts_end == i {
        return Err(LineError::new(
            i,
            "expected an exemplar timestamp after the space",
        ));
    }
    om_timestamp(line, i, ts_end)?;
    if ts_end < bytes.len() {
        return Err(LineError::new(ts_end, "unexpected text after the exemplar"));
    }
    Ok(())
}

fn om_timestamp(line: &str, start: usize, end: usize) -> Result<i64, LineError> {
    let token = &line[start..end];
    parse_timestamp_seconds(token).ok_or_else(|| {
        LineError::new(
            start,
            format!("invalid timestamp {token:?}: expected seconds"),
        )
    })
}

#[inline]
fn expect_space(bytes: &[u8], i: usize, message: &'static str) -> Result<usize, LineError> {
    if bytes.get(i) == Some(&b' ') {
        Ok(i + 1)
    } else {
        Err(LineError::new(i, message))
    }
}

/// Parses `{name="value",...}` starting at the `{` at `open`; returns the
/// offset just past the `}`.
fn label_set<'a>(
    line: &'a str,
    open: usize,
    format: Format,
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<usize, LineError> {
    let bytes = line.as_bytes();
    let lenient = format == Format::PrometheusText;
    let blanks = |i| if lenient { skip_blanks(bytes, i) } else { i };
    let mut i = blanks(open + 1);
    if bytes.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let name_end = label_name_end(bytes, i);
        if name_end == i {
            return Err(LineError::new(i, "expected a label name"));
        }
        let name = &line[i..name_end];
        if labels.iter().any(|l| l.name == name) {
            return Err(LineError::new(i, format!("label {name:?} given twice")));
        }
        i = blanks(name_end);
        if bytes.get(i) != Some(&b'=') {
            return Err(LineError::new(
                i,
                format!("expected \"=\" after label name {name:?}"),
            ));
        }
        i = blanks(i + 1);
        if bytes.get(i) != Some(&b'"') {
            return Err(LineError::new(
                i,
                format!("expected a quoted value for label {name:?}"),
            ));
        }
        let (value, end) = escape::quoted_value(line, i + 1)?;
        labels.push(LabelRef { name, value });
        i = blanks(end);
        match bytes.get(i) {
            Some(b'}') => return Ok(i + 1),
            Some(b',') => {
                i = blanks(i + 1);
                // The Prometheus format allows a trailing comma.
                if lenient && bytes.get(i) == Some(&b'}') {
                    return Ok(i + 1);
                }
            }
            _ => {
                return Err(LineError::new(
                    i,
                    "expected \",\" or \"}\" after a label value",
                ))
            }
        }
    }
}

/// Parses a line that starts with `#` (after blanks, in the Prometheus
/// format).
pub(super) fn comment(line: &str, format: Format) -> Result<CommentLine<'_>, LineError> {
    match format {
        Format::PrometheusText => prometheus_comment(line),
        Format::OpenMetrics => openmetrics_comment(line),
    }
}

/// `# HELP name text` and `# TYPE name type`, with any blanks between;
/// any other comment is ignored, as Prometheus does.
fn prometheus_comment(line: &str) -> Result<CommentLine<'_>, LineError> {
    let bytes = line.as_bytes();
    let hash = skip_blanks(bytes, 0);
    let keyword_start = skip_blanks(bytes, hash + 1);
    if keyword_start == hash + 1 {
        return Ok(CommentLine::Comment);
    }
    let keyword = &bytes[keyword_start..];
    let is_help = keyword.starts_with(b"HELP");
    if !(is_help || keyword.starts_with(b"TYPE")) {
        return Ok(CommentLine::Comment);
    }
    let after_keyword = keyword_start + 4;
    let name_start = skip_blanks(bytes, after_keyword);
    if name_start == after_keyword {
        // "# HELPER ..." or "# TYPE" alone: an ordinary comment.
        return Ok(CommentLine::Comment);
    }
    let (name, text_start) = metadata_name(line, name_start, true)?;
    let text = &line[text_start..];
    let item = if is_help {
        MetadataItem::Help(escape::help_text(text, false))
    } else {
        let kind = match text.trim_matches([' ', '\t']) {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            other => {
                return Err(LineError::new(
                    text_start,
                    format!("unknown metric type {other:?}"),
                ));
            }
        };
        MetadataItem::Type(kind)
    };
    Ok(CommentLine::Metadata { name, item })
}

/// `# HELP name text`, `# TYPE name type`, `# UNIT name unit` or `# EOF`,
/// single spaces only; nothing else may start with `#`.
fn openmetrics_comment(line: &str) -> Result<CommentLine<'_>, LineError> {
    if line == "# EOF" {
        return Ok(CommentLine::Eof);
    }
    let bytes = line.as_bytes();
    let keyword = bytes.get(2..6);
    if bytes.get(1) != Some(&b' ') || bytes.get(6) != Some(&b' ') {
        return Err(LineError::new(
            0,
            "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\"",
        ));
    }
    let (name, text_start) = metadata_name(line, 7, false)?;
    let text = &line[text_start..];
    let item = match keyword {
        Some(b"HELP") => MetadataItem::Help(escape::help_text(text, true)),
        Some(b"UNIT") => MetadataItem::Unit(text),
        Some(b"TYPE") => MetadataItem::Type(match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" => MetricType::Untyped,
            other => {
                return Err(LineError::new(
                    text_start,
                    format!("unknown metric type {other:?}"),
                ));
            }
        }),
        _ => {
            return Err(LineError::new(
                2,
                "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\"",
            ));
        }
    };
    Ok(CommentLine::Metadata { name, item })
}

/// The metric name of a metadata line and where its text starts. The
/// Prometheus format allows no text at all; OpenMetrics wants a space and
/// then the text, which may be empty.
fn metadata_name(line: &str, start: usize, lenient: bool) -> Result<(&str, usize), LineError> {
    let bytes = line.as_bytes();
    let end = metric_name_end(bytes, start);
    if end == start {
        return Err(LineError::new(start, "expected a metric name"));
    }
    let name = &line[start..end];
    if lenient {
        // Like Prometheus, one blank separates the name from the text, and
        // any further blanks belong to the text.
        match bytes.get(end) {
            None => Ok((name, end)),
            Some(b' ' | b'\t') => Ok((name, end + 1)),
            Some(_) => Err(LineError::new(end, "invalid character in metric name")),
        }
    } else {
        let text_start = expect_space(bytes, end, "expected a space after the metric name")?;
        Ok((name, text_start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, labels, value, timestamp and exemplar presence, or the error
    /// offset and message.
    type Parsed = Result<(String, Vec<(String, String)>, f64, Option<i64>, bool), (usize, String)>;

    fn om(line: &str) -> Parsed {
        parse(line, Format::OpenMetrics)
    }

    fn prom(line: &str) -> Parsed {
        parse(line, Format::PrometheusText)
    }

    fn parse(line: &str, format: Format) -> Parsed {
        let mut labels = Vec::new();
        let s =
            sample(line, format, &mut labels).map_err(|e| (e.offset, e.message.into_owned()))?;
        let labels = labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        Ok((
            s.name.to_string(),
            labels,
            s.value,
            s.timestamp_ms,
            s.has_exemplar,
        ))
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn prometheus_samples() {
        assert_eq!(prom("up 1"), Ok(("up".into(), vec![], 1.0, None, false)));
        assert_eq!(
            prom("  a:b_c { x = \"1\" ,y=\"2\", }\t-Inf \t -3982045  "),
            Ok((
                "a:b_c".into(),
                pairs(&[("x", "1"), ("y", "2")]),
                f64::NEG_INFINITY,
                Some(-3982045),
                false
            ))
        );
        assert_eq!(prom("a{}2"), Ok(("a".into(), vec![], 2.0, None, false)));
        assert_eq!(
            prom("a{b=\"c\"}1"),
            Ok(("a".into(), pairs(&[("b", "c")]), 1.0, None, false))
        );
        assert_eq!(prom("a 1 1.5").unwrap_err().0, 4);
        assert_eq!(prom("a 1 2 3").unwrap_err().0, 6);
        assert_eq!(prom("a-b 1").unwrap_err().0, 1);
        assert_eq!(prom("a").unwrap_err().0, 1);
        assert_eq!(prom("a{b=\"1\",b=\"2\"} 1").unwrap_err().0, 8);
        assert_eq!(prom("a{__name__=\"b\"} 1").unwrap_err().0, 2);
        assert_eq!(prom("a{b=\"1\",,} 1").unwrap_err().0, 8);
        assert_eq!(prom("a{b=1} 1").unwrap_err().0, 4);
        assert_eq!(prom("{b=\"1\"} 1").unwrap_err().0, 0);
    }

    #[test]
    fn openmetrics_samples() {
        assert_eq!(
            om("a_total{a=\"1\"} 1 123 # {t=\"x\"} 0.5 1.5"),
            Ok((
                "a_total".into(),
                pairs(&[("a", "1")]),
                1.0,
                Some(123_000),
                true
            ))
        );
        assert_eq!(om("a 1 # {} 1"), Ok(("a".into(), vec![], 1.0, None, true)));
        assert_eq!(
            om("a 1 1.5"),
            Ok(("a".into(), vec![], 1.0, Some(1500), false))
        );
        for (line, offset) in [
            ("a  1", 2),
            ("a 1 ", 4),
            ("a 1\t", 2),
            ("a{a=\"1\",} 1", 8),
            ("a{a=\"1\"}1", 8),
            ("a{a = \"1\"} 1", 3),
            ("a 1 #", 4),
            ("a 1 # {} 1 ", 11),
            ("a 1 # {}1", 8),
            ("a 1 1 # {a=\"b\"}  ", 16),
            ("a 1 z", 4),
        ] {
            assert_eq!(om(line).unwrap_err().0, offset, "{line:?}");
        }
    }

    #[test]
    fn comments() {
        let meta = |line, format| match comment(line, format) {
            Ok(CommentLine::Metadata { name, item }) => Some((name.to_string(), item)),
            _ => None,
        };
        assert_eq!(
            meta("# HELP a  two  spaces\\n", Format::PrometheusText),
            Some(("a".into(), MetadataItem::Help(" two  spaces\n".into())))
        );
        assert_eq!(
            meta("#\tTYPE a counter ", Format::PrometheusText),
            Some(("a".into(), MetadataItem::Type(MetricType::Counter)))
        );
        assert!(matches!(
            comment("# just words", Format::PrometheusText),
            Ok(CommentLine::Comment)
        ));
        assert!(matches!(
            comment("#HELP a b", Format::PrometheusText),
            Ok(CommentLine::Comment)
        ));
        assert!(comment("# TYPE a meh", Format::PrometheusText).is_err());
        assert_eq!(
            meta("# UNIT a_s s", Format::OpenMetrics),
            Some(("a_s".into(), MetadataItem::Unit("s")))
        );
        assert_eq!(
            meta("# HELP a ", Format::OpenMetrics),
            Some(("a".into(), MetadataItem::Help("".into())))
        );
        assert!(matches!(
            comment("# EOF", Format::OpenMetrics),
            Ok(CommentLine::Eof)
        ));
        for bad in [
            "# HELP a",
            "# HELP",
            "#a 1",
            "# FOO a x",
            "# TYPE a gauge ",
            "# TYPE a untyped",
        ] {
            assert!(comment(bad, Format::OpenMetrics).is_err(), "{bad:?}");
        }
    }
}
