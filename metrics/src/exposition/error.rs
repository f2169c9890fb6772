//! The error a rejected exposition reports, and the position bookkeeping
//! behind it.

use std::borrow::Cow;

/// Why an exposition was rejected, and where: `line` and `column` count
/// from 1, the column in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// An error inside one line, at a byte offset into that line; the parser
/// turns it into a [`ParseError`] once it knows the line number.
#[derive(Debug)]
pub(super) struct LineError {
    pub offset: usize,
    pub message: Cow<'static, str>,
}

impl LineError {
    #[cold]
    pub fn new(offset: usize, message: impl Into<Cow<'static, str>>) -> LineError {
        LineError {
            offset,
            message: message.into(),
        }
    }

    /// Places the error in `line`, which is line number `line_no`.
    #[cold]
    pub fn at(self, line: &str, line_no: usize) -> ParseError {
        ParseError {
            line: line_no,
            column: char_column(line, self.offset),
            message: self.message.into_owned(),
        }
    }
}

/// The 1-based character column of byte `offset` in `line`.
pub(super) fn char_column(line: &str, offset: usize) -> usize {
    let offset = offset.min(line.len());
    // Count characters by their first bytes, so an offset that is not on
    // a character boundary still gives a sensible column.
    line.as_bytes()[..offset]
        .iter()
        .filter(|&&b| (b as i8) >= -0x40)
        .count()
        + 1
}

/// The error for input that is not UTF-8, placed at the first bad byte.
#[cold]
pub(super) fn invalid_utf8(input: &[u8], error: std::str::Utf8Error) -> ParseError {
    let bad = error.valid_up_to();
    let line_start = memchr::memrchr(b'\n', &input[..bad]).map_or(0, |i| i + 1);
    let line_no = memchr::memchr_iter(b'\n', &input[..line_start]).count() + 1;
    // Everything before `bad` is valid UTF-8, so this cannot fail.
    let prefix = std::str::from_utf8(&input[line_start..bad]).unwrap_or_default();
    ParseError {
        line: line_no,
        column: prefix.chars().count() + 1,
        message: "invalid UTF-8".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        assert_eq!(char_column("abc", 0), 1);
        assert_eq!(char_column("a☃c", 4), 3);
        assert_eq!(char_column("a", 9), 2);
    }

    #[test]
    fn invalid_utf8_points_at_the_byte() {
        let input = b"a 1\nb{x=\"\xff\"} 1\n".to_vec();
        let err = std::str::from_utf8(&input).unwrap_err();
        let e = invalid_utf8(&input, err);
        assert_eq!((e.line, e.column), (2, 6));
    }
}
