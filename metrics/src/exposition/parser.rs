//! The line loop: splits the input into lines, sends each to the line
//! parser, keeps track of families, and hands results to the visitor.

use super::error::{invalid_utf8, LineError};
use super::line::{self, CommentLine};
use super::openmetrics::OpenMetricsRules;
use super::scan::skip_blanks;
use super::{Format, LabelRef, MetadataItem, MetricType, ParseError, SampleRef, Visitor};

pub(super) fn run<'a, V: Visitor<'a>>(
    input: &'a [u8],
    format: Format,
    visitor: &mut V,
) -> Result<(), ParseError> {
    let text = std::str::from_utf8(input).map_err(|e| invalid_utf8(input, e))?;
    match format {
        Format::PrometheusText => prometheus(text, visitor),
        Format::OpenMetrics => openmetrics(text, visitor),
    }
}

/// The lines of `text` with their numbers; a final newline does not start
/// another line.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut line_no = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        line_no += 1;
        let line = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                line
            }
            None => std::mem::take(&mut rest),
        };
        Some((line_no, line))
    })
}

/// The Prometheus text format: blank lines and comments are skipped, and
/// a sample's type is that of the last `# TYPE` line if the sample belongs
/// to it.
fn prometheus<'a, V: Visitor<'a>>(text: &'a str, visitor: &mut V) -> Result<(), ParseError> {
    let mut labels: Vec<LabelRef<'a>> = Vec::new();
    let mut typed: Option<(&'a str, MetricType)> = None;
    for (line_no, line) in lines(text) {
        let bytes = line.as_bytes();
        let first = match bytes.first() {
            Some(b' ' | b'\t') => bytes.get(skip_blanks(bytes, 0)),
            first => first,
        };
        match first {
            None => continue,
            Some(b'#') => {
                if let CommentLine::Metadata { name, item } =
                    line::comment(line, Format::PrometheusText).map_err(|e| e.at(line, line_no))?
                {
                    if let MetadataItem::Type(kind) = item {
                        typed = Some((name, kind));
                    }
                    visitor.metadata(name, item);
                }
            }
            Some(_) => {
                let sample = line::sample(line, Format::PrometheusText, &mut labels)
                    .map_err(|e| e.at(line, line_no))?;
                let kind = typed.map_or(MetricType::Untyped, |(family, kind)| {
                    prometheus_kind(sample.name, family, kind)
                });
                visitor.sample(&SampleRef {
                    name: sample.name,
                    labels: &labels,
                    value: sample.value,
                    timestamp_ms: sample.timestamp_ms,
                    kind,
                });
            }
        }
    }
    Ok(())
}

/// The type of sample `name` given the last `# TYPE family kind` line.
fn prometheus_kind(name: &str, family: &str, kind: MetricType) -> MetricType {
    let Some(rest) = name.strip_prefix(family) else {
        return MetricType::Untyped;
    };
    let member = match kind {
        MetricType::Histogram => matches!(rest, "_bucket" | "_sum" | "_count"),
        MetricType::Summary => matches!(rest, "" | "_sum" | "_count"),
        _ => rest.is_empty(),
    };
    if member {
        kind
    } else {
        MetricType::Untyped
    }
}

/// OpenMetrics: every line counts, and the input ends with `# EOF`.
fn openmetrics<'a, V: Visitor<'a>>(text: &'a str, visitor: &mut V) -> Result<(), ParseError> {
    let mut labels: Vec<LabelRef<'a>> = Vec::new();
    let mut rules = OpenMetricsRules::default();
    let mut eof_seen = false;
    let mut last_line = 0;
    for (line_no, line) in lines(text) {
        last_line = line_no;
        if eof_seen {
            return Err(LineError::new(0, "text after # EOF").at(line, line_no));
        }
        match line.as_bytes().first() {
            None => return Err(LineError::new(0, "blank line").at(line, line_no)),
            Some(b'#') => {
                match line::comment(line, Format::OpenMetrics).map_err(|e| e.at(line, line_no))? {
                    CommentLine::Eof => eof_seen = true,
                    CommentLine::Metadata { name, item } => {
                        rules.metadata(line_no, name, &item)?;
                        visitor.metadata(name, item);
                    }
                    CommentLine::Comment => {}
                }
            }
            Some(_) => {
                let sample = line::sample(line, Format::OpenMetrics, &mut labels)
                    .map_err(|e| e.at(line, line_no))?;
                let kind = rules.sample(line_no, &sample, &labels)?;
                visitor.sample(&SampleRef {
                    name: sample.name,
                    labels: &labels,
                    value: sample.value,
                    timestamp_ms: sample.timestamp_ms,
                    kind,
                });
            }
        }
    }
    rules.finish()?;
    if !eof_seen {
        return Err(ParseError {
            line: last_line + 1,
            column: 1,
            message: "missing \"# EOF\" at the end".to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers() {
        let got: Vec<_> = lines("a\n\nb\n").collect();
        assert_eq!(got, [(1, "a"), (2, ""), (3, "b")]);
        let got: Vec<_> = lines("a\nb").collect();
        assert_eq!(got, [(1, "a"), (2, "b")]);
        assert_eq!(lines("").count(), 0);
    }

    #[test]
    fn prometheus_kinds() {
        use MetricType::*;
        assert_eq!(prometheus_kind("h_bucket", "h", Histogram), Histogram);
        assert_eq!(prometheus_kind("h", "h", Histogram), Untyped);
        assert_eq!(prometheus_kind("s", "s", Summary), Summary);
        assert_eq!(prometheus_kind("c_total", "c_total", Counter), Counter);
        assert_eq!(prometheus_kind("other", "c", Counter), Untyped);
    }
}
