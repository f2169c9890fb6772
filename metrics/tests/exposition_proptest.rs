//! Property tests: the parser never panics and always places its errors
//! inside the input, whatever the bytes; and well-formed expositions, with
//! any label values, help texts, values and timestamps, read back exactly.

use opsdeck_metrics::exposition::{parse, Format};
use opsdeck_metrics::Labels;
use proptest::collection::vec;
use proptest::prelude::*;

fn formats() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::PrometheusText), Just(Format::OpenMetrics)]
}

/// Parses `input`; if it is rejected, the error must point at a line and
/// column that exist (or just past the end).
fn parse_and_check_position(input: &[u8], format: Format) -> Result<(), TestCaseError> {
    if let Err(e) = parse(input, format) {
        let text = String::from_utf8_lossy(input);
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert!(e.line >= 1 && e.line <= lines.len() + 1, "line of {e:?}");
        let width = lines.get(e.line - 1).map_or(0, |l| l.chars().count());
        prop_assert!(e.column >= 1 && e.column <= width + 1, "column of {e:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..400), format in formats()) {
        parse_and_check_position(&input, format)?;
    }

    /// Bytes drawn from the exposition alphabet reach far deeper into the
    /// parser than uniform bytes do.
    #[test]
    fn exposition_like_text_never_panics(
        input in r#"(# (HELP|TYPE|UNIT|EOF) |[a-z_:]{1,4}|\{|\}|=|,|"|\\|le|quantile|_total|_bucket|_count|_sum| |\t|\n|[0-9.eE+-]{1,4}|NaN|Inf|counter|gauge|histogram|summary|#|☃){0,60}"#,
        format in formats(),
    ) {
        parse_and_check_position(input.as_bytes(), format)?;
    }

    #[test]
    fn well_formed_expositions_round_trip(
        samples in vec(sample(), 1..12),
        format in formats(),
    ) {
        let mut text = String::new();
        for (i, s) in samples.iter().enumerate() {
            s.render(i, format, &mut text);
        }
        if format == Format::OpenMetrics {
            text.push_str("# EOF\n");
        }
        let parsed = parse(text.as_bytes(), format).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.samples.len(), samples.len());
        for (i, (want, got)) in samples.iter().zip(&parsed.samples).enumerate() {
            let name = format!("{}_{i}", want.name);
            let mut expected = Labels::from_pairs(want.labels.iter().cloned());
            expected.set("__name__", name);
            prop_assert_eq!(&got.labels, &expected);
            prop_assert!(
                got.value.to_bits() == want.value.to_bits() || (got.value.is_nan() && want.value.is_nan()),
                "value {} read as {}", want.value, got.value
            );
            prop_assert_eq!(got.timestamp_ms, want.timestamp_ms);
            prop_assert_eq!(parsed.metadata[i].help.as_deref(), Some(want.help.as_str()));
        }
    }
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    help: String,
    value: f64,
    timestamp_ms: Option<i64>,
}

fn sample() -> impl Strategy<Value = Sample> {
    let labels =
        vec(("[a-zA-Z_][a-zA-Z0-9_]{0,6}", r#"(.|\n|\\|"){0,10}"#), 0..5).prop_map(|pairs| {
            let mut seen = std::collections::HashSet::new();
            pairs
                .into_iter()
                .filter(|(n, _)| n != "__name__" && seen.insert(n.clone()))
                .collect::<Vec<_>>()
        });
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        labels,
        r#"(.|\n|\\|"){0,20}"#,
        any::<f64>(),
        proptest::option::of(-1_000_000_000_000_000i64..1_000_000_000_000_000),
    )
        .prop_map(|(name, labels, help, value, timestamp_ms)| Sample {
            name,
            labels,
            help,
            value,
            timestamp_ms,
        })
}

impl Sample {
    /// Writes this sample as the family `<name>_<index>`, with a HELP line.
    fn render(&self, index: usize, format: Format, out: &mut String) {
        let name = format!("{}_{index}", self.name);
        let quote_escape = format == Format::OpenMetrics;
        out.push_str(&format!(
            "# HELP {name} {}\n",
            escape(&self.help, quote_escape)
        ));
        out.push_str(&name);
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", escape(v, true)))
                .collect();
            out.push_str(&format!("{{{}}}", labels.join(",")));
        }
        let value = match self.value {
            v if v.is_nan() => "NaN".to_string(),
            v if v == f64::INFINITY => "+Inf".to_string(),
            v if v == f64::NEG_INFINITY => "-Inf".to_string(),
            v => format!("{v:?}"),
        };
        out.push_str(&format!(" {value}"));
        match (self.timestamp_ms, format) {
            (None, _) => {}
            (Some(ms), Format::PrometheusText) => out.push_str(&format!(" {ms}")),
            (Some(ms), Format::OpenMetrics) => {
                let sign = if ms < 0 { "-" } else { "" };
                let abs = ms.unsigned_abs();
                out.push_str(&format!(" {sign}{}.{:03}", abs / 1000, abs % 1000));
            }
        }
        out.push('\n');
    }
}

fn escape(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}
