//! Failure messages of rule unit tests, formatted as promtool formats them
//! so that output can be compared line by line.

use std::collections::BTreeMap;

use crate::template::{format_e, go_quote};

/// Go's `labels.Labels.String()`: `{__name__="up", job="a"}`.
pub fn labels_string(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// Go's `time.Duration.String()` for whole milliseconds: `0s`, `1m0s`,
/// `2m59.999s`, `500ms`.
pub fn go_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms / 60_000) % 60;
    let seconds = (ms / 1000) % 60;
    let millis = ms % 1000;
    let mut out = sign.to_string();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds.to_string());
    if millis > 0 {
        out.push_str(format!(".{millis:03}").trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// An alert as a test compares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelsAndAnnotations {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// promtool's `labelsAndAnnotations.String()`.
pub fn alerts_string(alerts: &[LabelsAndAnnotations]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n");
        }
        let body = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(&a.labels),
            labels_string(&a.annotations)
        );
        s.push_str(&format!("{i}:{}", indent_lines(&body, "  ")));
    }
    s.push_str("\n]");
    s
}

/// promtool's `indentLines`: every line but the first gets `indent`.
pub fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// promtool's `parsedSamplesString`.
pub fn samples_string(samples: &[(BTreeMap<String, String>, f64)]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(|(labels, v)| format!("{} {}", labels_string(labels), format_e(*v, None, true)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_promtool() {
        assert_eq!(go_duration_ms(0), "0s");
        assert_eq!(go_duration_ms(60_000), "1m0s");
        assert_eq!(go_duration_ms(179_999), "2m59.999s");
        assert_eq!(go_duration_ms(86_400_000), "24h0m0s");
        let labels = BTreeMap::from([("__name__".to_string(), "test".to_string())]);
        assert_eq!(
            samples_string(&[(labels, 1.0)]),
            r#"{__name__="test"} 1E+00"#
        );
        let alert = LabelsAndAnnotations {
            labels: BTreeMap::from([("alertname".to_string(), "Test".to_string())]),
            annotations: BTreeMap::new(),
        };
        assert_eq!(
            indent_lines(&alerts_string(&[alert]), "            "),
            "[\n            0:\n              Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ]"
        );
    }
}
