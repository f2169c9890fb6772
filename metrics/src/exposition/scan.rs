//! Byte classes for names and whitespace, as lookup tables: the parser
//! scans bytes, never characters, because every delimiter is ASCII.

/// `[a-zA-Z_]`, plus `:` and digits if asked.
const fn class_table(colon: bool, digits: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphabetic()
            || c == b'_'
            || (colon && c == b':')
            || (digits && c.is_ascii_digit());
        b += 1;
    }
    table
}

/// `[a-zA-Z_:]`, the first character of a metric name.
static METRIC_NAME_START: [bool; 256] = class_table(true, false);
/// `[a-zA-Z0-9_:]`.
static METRIC_NAME_REST: [bool; 256] = class_table(true, true);
/// `[a-zA-Z_]`, the first character of a label name.
static LABEL_NAME_START: [bool; 256] = class_table(false, false);
/// `[a-zA-Z0-9_]`.
static LABEL_NAME_REST: [bool; 256] = class_table(false, true);

/// The end of the metric name starting at `start`, or `start` if there is
/// none there.
#[inline]
pub(super) fn metric_name_end(bytes: &[u8], start: usize) -> usize {
    name_end(bytes, start, &METRIC_NAME_START, &METRIC_NAME_REST)
}

/// The end of the label name starting at `start`, or `start` if there is
/// none there.
#[inline]
pub(super) fn label_name_end(bytes: &[u8], start: usize) -> usize {
    name_end(bytes, start, &LABEL_NAME_START, &LABEL_NAME_REST)
}

#[inline]
fn name_end(bytes: &[u8], start: usize, first: &[bool; 256], rest: &[bool; 256]) -> usize {
    match bytes.get(start) {
        Some(&b) if first[b as usize] => {}
        _ => return start,
    }
    let mut i = start + 1;
    while i < bytes.len() && rest[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Skips spaces and tabs, the separators of the Prometheus text format.
#[inline]
pub(super) fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end of the token starting at `start`: the next space (or tab, if
/// `blanks_separate`), or the end of the line.
#[inline]
pub(super) fn token_end(bytes: &[u8], start: usize, blanks_separate: bool) -> usize {
    let rest = &bytes[start.min(bytes.len())..];
    let found = if blanks_separate {
        memchr::memchr2(b' ', b'\t', rest)
    } else {
        memchr::memchr(b' ', rest)
    };
    found.map_or(bytes.len(), |o| start + o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(metric_name_end(b"node:cpu:rate5m 1", 0), 15);
        assert_eq!(metric_name_end(b"0a", 0), 0);
        assert_eq!(metric_name_end(b"a-b", 0), 1);
        assert_eq!(label_name_end(b"le=", 0), 2);
        assert_eq!(label_name_end(b"a:b", 0), 1);
        assert_eq!(label_name_end(b"1a", 0), 0);
    }
}
