//! Go string-literal rules the parser does not enforce.
//!
//! PromQL strings are Go strings: `\xff` is one raw byte, and a string
//! whose bytes are not valid UTF-8 is not a valid label name or value.
//! promql-parser decodes `\xff` as the character U+00FF instead, which
//! would silently accept such queries; this check rejects them as
//! Prometheus does.

/// Returns the first string literal in `text` whose escapes produce
/// invalid UTF-8.
pub(crate) fn invalid_utf8_literal(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let quote = bytes[i];
        if quote != b'"' && quote != b'\'' {
            i += 1;
            continue;
        }
        let start = i;
        let mut decoded = Vec::new();
        i += 1;
        while i < bytes.len() && bytes[i] != quote {
            if bytes[i] == b'\\' && i + 1 < bytes.len() {
                i += 1;
                match bytes[i] {
                    b'x' => {
                        let hex = text.get(i + 1..i + 3).unwrap_or("");
                        decoded.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                        i += 3;
                    }
                    b'0'..=b'7' => {
                        let octal = text.get(i..i + 3).unwrap_or("");
                        decoded.push(u8::from_str_radix(octal, 8).unwrap_or(0));
                        i += 3;
                    }
                    other => {
                        // Other escapes yield whole characters.
                        decoded.push(b'\\');
                        decoded.push(other);
                        i += 1;
                    }
                }
            } else {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
        let end = (i + 1).min(bytes.len());
        if std::str::from_utf8(&decoded).is_err() {
            return text.get(start..end);
        }
        i = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::invalid_utf8_literal;

    #[test]
    fn raw_bytes_that_are_not_utf8_are_found() {
        assert_eq!(invalid_utf8_literal(r#"f(x, "\xff")"#), Some(r#""\xff""#));
        assert_eq!(invalid_utf8_literal(r#"f(x, "\xc3\xa9", 'ok')"#), None);
        assert_eq!(invalid_utf8_literal(r#"up{job="é"}"#), None);
    }
}
