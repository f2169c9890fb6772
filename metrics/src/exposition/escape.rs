//! Quoted label values and HELP text, unescaped without copying unless
//! there is an escape.
//!
//! Both formats escape `\\`, `\"` and `\n` in label values. A backslash
//! before any other character is kept as written, as Prometheus and the
//! OpenMetrics reference parser do. HELP text escapes `\\` and `\n`, and
//! in OpenMetrics also `\"`.

use std::borrow::Cow;

use super::error::LineError;

/// Reads the label value whose opening quote is just before `start`;
/// returns it unescaped and the offset just past its closing quote.
#[inline]
pub(super) fn quoted_value(line: &str, start: usize) -> Result<(Cow<'_, str>, usize), LineError> {
    let bytes = line.as_bytes();
    match memchr::memchr2(b'"', b'\\', &bytes[start..]) {
        Some(o) if bytes[start + o] == b'"' => {
            Ok((Cow::Borrowed(&line[start..start + o]), start + o + 1))
        }
        Some(o) => escaped_value(line, start, start + o),
        None => Err(unterminated(start)),
    }
}

/// The slow path of [`quoted_value`], from the first backslash on.
fn escaped_value(
    line: &str,
    start: usize,
    first_backslash: usize,
) -> Result<(Cow<'_, str>, usize), LineError> {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(first_backslash - start + 16);
    out.push_str(&line[start..first_backslash]);
    let mut i = first_backslash;
    loop {
        // `i` is at a backslash.
        let next = match bytes.get(i + 1) {
            Some(b'\\') => {
                out.push('\\');
                i + 2
            }
            Some(b'"') => {
                out.push('"');
                i + 2
            }
            Some(b'n') => {
                out.push('\n');
                i + 2
            }
            // Unknown escape: keep the backslash and read on from the
            // character after it.
            Some(_) => {
                out.push('\\');
                i + 1
            }
            None => return Err(unterminated(start)),
        };
        match memchr::memchr2(b'"', b'\\', &bytes[next..]) {
            Some(o) => {
                out.push_str(&line[next..next + o]);
                if bytes[next + o] == b'"' {
                    return Ok((Cow::Owned(out), next + o + 1));
                }
                i = next + o;
            }
            None => return Err(unterminated(start)),
        }
    }
}

#[cold]
fn unterminated(start: usize) -> LineError {
    LineError::new(start.saturating_sub(1), "label value has no closing quote")
}

/// Unescapes HELP text; `quote_escape` is whether `\"` is an escape.
pub(super) fn help_text(raw: &str, quote_escape: bool) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let Some(first) = memchr::memchr(b'\\', bytes) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    let mut chunk_start = 0;
    let mut i = first;
    loop {
        let replacement = match bytes.get(i + 1) {
            Some(b'\\') => Some('\\'),
            Some(b'n') => Some('\n'),
            Some(b'"') if quote_escape => Some('"'),
            _ => None,
        };
        if let Some(c) = replacement {
            out.push_str(&raw[chunk_start..i]);
            out.push(c);
            chunk_start = i + 2;
        }
        let from = if replacement.is_some() { i + 2 } else { i + 1 };
        match memchr::memchr(b'\\', &bytes[from.min(bytes.len())..]) {
            Some(o) => i = from + o,
            None => break,
        }
    }
    out.push_str(&raw[chunk_start..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(quoted: &str) -> Result<(String, usize), usize> {
        quoted_value(quoted, 1)
            .map(|(v, end)| (v.into_owned(), end))
            .map_err(|e| e.offset)
    }

    #[test]
    fn label_values() {
        assert_eq!(value(r#""plain" 1"#), Ok(("plain".into(), 7)));
        assert_eq!(value(r#""a\"b\\c\nd" 1"#), Ok(("a\"b\\c\nd".into(), 12)));
        assert_eq!(
            value(r#""C:\\DIR\\F.TXT""#),
            Ok((r"C:\DIR\F.TXT".into(), 16))
        );
        assert_eq!(value(r#""\foo\z""#), Ok((r"\foo\z".into(), 8)));
        assert_eq!(value(r#""\☃""#), Ok(("\\☃".into(), 6)));
        assert_eq!(
            value(r#""} foo # bar # ""#),
            Ok(("} foo # bar # ".into(), 16))
        );
        assert_eq!(value(r#""open"#), Err(0));
        assert_eq!(value(r#""ends\"#), Err(0));
        assert_eq!(value(r#""ends\""#), Err(0));
    }

    #[test]
    fn help() {
        assert_eq!(help_text(r"plain", false), "plain");
        assert_eq!(help_text(r"a\\b\nc", false), "a\\b\nc");
        assert_eq!(help_text(r#"\"q\""#, false), r#"\"q\""#);
        assert_eq!(help_text(r#"\"q\""#, true), r#""q""#);
        assert_eq!(help_text(r"\foo\", true), r"\foo\");
        assert_eq!(help_text(r"\\\n", true), "\\\n");
    }
}
