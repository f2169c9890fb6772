//! Small text helpers shared by the payload builders.

/// Length in UTF-16 code units: what Discord and Slack count (it is never
/// less than the number of characters, so staying under it is safe).
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut to at most `max` UTF-16 units, ending in `…` when cut.
pub fn limit_utf16(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        // Leave room for the one-unit ellipsis.
        if used + c.len_utf16() > max - 1 {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// `2h 5m`, `3m 12s`, `45s`: the two largest units.
pub fn humanize_ms(ms: i64) -> String {
    let secs = (ms.max(0) / 1000) as u64;
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if shown.is_empty() {
        "0s".to_string()
    } else {
        shown.join(" ")
    }
}

/// A sample value as people read it: up to 4 significant decimals.
pub fn format_value(value: f64) -> String {
    if value.is_finite() && value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.is_finite() {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_utf16_units_and_mark_the_cut() {
        assert_eq!(limit_utf16("hello", 5), "hello");
        assert_eq!(limit_utf16("hello!", 5), "hell…");
        let emoji = "🔥🔥🔥";
        assert_eq!(utf16_len(emoji), 6);
        let cut = limit_utf16(emoji, 4);
        assert!(utf16_len(&cut) <= 4, "{cut}");
        assert_eq!(cut, "🔥…");
    }

    #[test]
    fn humanizes_durations_and_values() {
        assert_eq!(humanize_ms(45_000), "45s");
        assert_eq!(humanize_ms(303_000), "5m 3s");
        assert_eq!(humanize_ms(7_500_000), "2h 5m");
        assert_eq!(humanize_ms(0), "0s");
        assert_eq!(format_value(0.93456), "0.9346");
        assert_eq!(format_value(1024.0), "1024");
    }
}
