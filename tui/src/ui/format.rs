//! Numbers as the dashboard prints them: short, fixed-width friendly.

/// `1.2G`, `512M`, `900K`, `12B` (binary units).
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = value.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v >= 100.0 {
        format!("{v:.0}{}", UNITS[unit])
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

pub fn opt_bytes(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), bytes)
}

/// `45%`; `-` when unknown.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0}%"))
}

/// `12s`, `4m`, `3h`, `2d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m", s / 60),
        6000..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Age between a past unix-ms time and now.
pub fn age_ms(at_ms: i64, now_ms: i64) -> String {
    age((now_ms - at_ms) / 1000)
}

/// `45ms`, `1.20s`.
pub fn latency(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        Some(s) => format!("{s:.2}s"),
    }
}

/// A count without a trailing `.0`.
pub fn count(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A one-line sparkline of block characters, scaled to `max`.
pub fn sparkline(values: &[u64], max: u64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = max.max(1);
    values
        .iter()
        .map(|v| BARS[((*v.min(&max) * 7) / max) as usize])
        .collect()
}

/// Cuts `text` to `width` characters, marking the cut with `…`.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5G");
        assert_eq!(bytes(512.0 * 1024.0 * 1024.0), "512M");
        assert_eq!(bytes(12.0), "12B");
        assert_eq!(age(42), "42s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(7200), "2h");
        assert_eq!(latency(Some(0.045)), "45ms");
        assert_eq!(sparkline(&[0, 50, 100, 200], 100), "▁▄██");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
