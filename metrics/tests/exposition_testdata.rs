//! Every real exposition in `shared/testdata/exposition/` parses, and its
//! samples match what `prometheus-parse` 0.2.5 reads from the same text,
//! except where prometheus-parse is wrong; each such difference is a named
//! category below, and the test checks that prometheus-parse really does
//! get every sample it excuses wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_metrics::exposition::{parse, Exposition, Format, MetricType, ParsedSample};
use prometheus_parse::{Scrape, Value};

/// Files whose name says OpenMetrics but whose content is not.
const NOT_OPENMETRICS: &[(&str, &str)] = &[(
    "prometheus-2.42.openmetrics.txt",
    "Prometheus 2.42 served its text format 0.0.4 here: there is no `# EOF`, and counter \
     TYPE lines name the `_total` sample, which OpenMetrics forbids. It is checked as text.",
)];

/// Lines prometheus-parse gets wrong, written for this test because the
/// real fixtures happen not to contain them.
const EDGE_CASES_TEXT: &str = r#"# HELP edge_colon:rate5m A recording-rule style name.
# TYPE edge_colon:rate5m gauge
edge_colon:rate5m{job="api"} 3
# HELP edge_escapes Escapes: a \\ backslash and a \n newline.
# TYPE edge_escapes gauge
edge_escapes{path="C:\\DIR\\FILE.TXT",msg="say \"hi\"\nbye"} 1
edge_separators{list="a,b",expr="x=1"} 2
edge_braces{set="{a}"} 2
edge_empty_braces{} 4
edge_plain{a="1",b=""} 5 1395066363000
edge_special{kind="nan"} NaN
edge_special{kind="inf"} +Inf -3982045
# TYPE edge_histogram histogram
edge_histogram_bucket{le="0.5"} 1
edge_histogram_bucket{le="+Inf"} 2
edge_histogram_sum 0.7
edge_histogram_count 2
"#;

const EDGE_CASES_OPENMETRICS: &str = r#"# TYPE om_requests counter
# HELP om_requests Requests.
om_requests_total{code="200"} 10 1700000000.5 # {trace_id="abc"} 1 1700000000.25
om_requests_created{code="200"} 1700000000 1700000000.5
# TYPE om_temperature_celsius gauge
# UNIT om_temperature_celsius celsius
om_temperature_celsius 21.5 1700000000
# EOF
"#;

/// Why prometheus-parse reads a sample differently from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Difference {
    /// Its metric-name pattern is `\w+`, so a sample named with `:` (a
    /// recording rule's name) does not match and is dropped.
    ColonInName,
    /// It splits the label block on `,` and `=` and ends it at the first
    /// `}`, so a value containing any of them is cut short or dropped.
    SeparatorInLabelValue,
    /// It does not unescape `\\`, `\"` and `\n` in label values.
    EscapedLabelValue,
    /// Its label pattern needs at least one character between the braces,
    /// so `name{} value` is dropped.
    EmptyBraces,
    /// OpenMetrics timestamps are seconds, maybe fractional; it reads them
    /// as integer milliseconds and replaces a fractional one by the scrape
    /// time.
    OpenMetricsTimestamp,
}

fn classify(line: &str, ours: &ParsedSample, format: Format) -> Option<Difference> {
    let name = ours.labels.metric_name().unwrap_or_default();
    let values = || {
        ours.labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| l.value)
    };
    if name.contains(':') {
        Some(Difference::ColonInName)
    } else if values().any(|v| v.contains([',', '=', '}'])) {
        Some(Difference::SeparatorInLabelValue)
    } else if values().any(|v| v.contains(['\\', '"', '\n'])) {
        Some(Difference::EscapedLabelValue)
    } else if line.contains("{}") {
        Some(Difference::EmptyBraces)
    } else if format == Format::OpenMetrics && ours.timestamp_ms.is_some() {
        Some(Difference::OpenMetricsTimestamp)
    } else {
        None
    }
}

/// A sample reduced to what both parsers report.
#[derive(Debug, Clone, PartialEq)]
struct Flat {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    timestamp_ms: Option<i64>,
}

impl Flat {
    fn same_as(&self, other: &Flat) -> bool {
        let same_value = self.value == other.value || (self.value.is_nan() && other.value.is_nan());
        self.name == other.name
            && self.labels == other.labels
            && same_value
            && self.timestamp_ms == other.timestamp_ms
    }
}

fn flat_ours(sample: &ParsedSample) -> Flat {
    Flat {
        name: sample.labels.metric_name().unwrap_or_default().to_string(),
        labels: sample
            .labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect(),
        value: sample.value,
        timestamp_ms: sample.timestamp_ms,
    }
}

/// A time no fixture uses, to tell "no timestamp" from a timestamp.
fn scrape_time() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(-1)
        .single()
        .expect("valid instant")
}

/// What prometheus-parse makes of one sample line on its own (so without
/// type context, which makes every sample a plain untyped one).
fn theirs_for_line(line: &str) -> Option<Flat> {
    let scrape = Scrape::parse_at(std::iter::once(Ok(line.to_string())), scrape_time()).ok()?;
    let sample = scrape.samples.into_iter().next()?;
    let Value::Untyped(value) = sample.value else {
        return None;
    };
    Some(Flat {
        name: sample.metric,
        // An empty label value means "no label" in Prometheus; it keeps them.
        labels: sample
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        value,
        timestamp_ms: (sample.timestamp != scrape_time())
            .then(|| sample.timestamp.timestamp_millis()),
    })
}

fn is_sample_line(line: &str) -> bool {
    let trimmed = line.trim_start_matches([' ', '\t']);
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// Compares our samples with prometheus-parse's, line by line; returns
/// how many samples each difference excused.
fn compare_samples(
    file: &str,
    text: &str,
    ours: &Exposition,
    format: Format,
) -> BTreeMap<Difference, usize> {
    let lines: Vec<&str> = text.lines().filter(|l| is_sample_line(l)).collect();
    assert_eq!(
        lines.len(),
        ours.samples.len(),
        "{file}: one sample per sample line"
    );
    let mut excused = BTreeMap::new();
    for (line, sample) in lines.iter().zip(&ours.samples) {
        let ours = flat_ours(sample);
        let theirs = theirs_for_line(line);
        let matches = theirs.as_ref().is_some_and(|t| t.same_as(&ours));
        match classify(line, sample, format) {
            Some(difference) => {
                assert!(
                    !matches,
                    "{file}: {difference:?} excuses {line:?}, but prometheus-parse reads it right"
                );
                *excused.entry(difference).or_insert(0) += 1;
            }
            None => assert!(
                matches,
                "{file}: {line:?}\n ours:   {ours:?}\n theirs: {theirs:?}"
            ),
        }
    }
    excused
}

/// Checks the types prometheus-parse gives whole-file samples against our
/// metadata; returns how many OpenMetrics counters it called untyped (it
/// looks the type up under the sample name, `x_total`, while OpenMetrics
/// types the family `x`).
fn compare_types(file: &str, text: &str, ours: &Exposition) -> usize {
    let kinds: BTreeMap<&str, MetricType> = ours
        .metadata
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = Scrape::parse_at(lines, scrape_time()).expect("prometheus-parse reads the file");
    let mut untyped_counters = 0;
    for sample in &scrape.samples {
        let name = sample.metric.as_str();
        let theirs = match sample.value {
            Value::Counter(_) => MetricType::Counter,
            Value::Gauge(_) => MetricType::Gauge,
            Value::Histogram(_) => MetricType::Histogram,
            Value::Summary(_) => MetricType::Summary,
            Value::Untyped(_) => {
                let family = name.strip_suffix("_total").unwrap_or(name);
                if family != name && kinds.get(family) == Some(&MetricType::Counter) {
                    untyped_counters += 1;
                }
                continue;
            }
        };
        assert_eq!(kinds.get(name), Some(&theirs), "{file}: type of {name}");
    }
    untyped_counters
}

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/exposition");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the shared exposition fixtures are beside the checkout")
        .map(|e| e.expect("readable fixture directory").path())
        .collect();
    paths.sort();
    let mut files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            (
                name,
                std::fs::read_to_string(p).expect("fixture is UTF-8 text"),
            )
        })
        .collect();
    files.push(("edge-cases.txt".into(), EDGE_CASES_TEXT.into()));
    files.push((
        "edge-cases.openmetrics.txt".into(),
        EDGE_CASES_OPENMETRICS.into(),
    ));
    files
}

fn format_for(file: &str) -> Format {
    let named_openmetrics = file.ends_with(".openmetrics.txt");
    if named_openmetrics && !NOT_OPENMETRICS.iter().any(|(f, _)| *f == file) {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}

#[test]
fn every_fixture_parses_and_matches_prometheus_parse() {
    let mut excused_total: BTreeMap<Difference, usize> = BTreeMap::new();
    let mut untyped_counters = 0;
    for (file, text) in fixtures() {
        let format = format_for(&file);
        let ours = parse(text.as_bytes(), format).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!ours.samples.is_empty(), "{file} has samples");
        for (difference, n) in compare_samples(&file, &text, &ours, format) {
            *excused_total.entry(difference).or_insert(0) += n;
        }
        let untyped = compare_types(&file, &text, &ours);
        if format == Format::OpenMetrics {
            untyped_counters += untyped;
        } else {
            assert_eq!(untyped, 0, "{file}: text-format counters keep their type");
        }
    }
    // Every listed difference is real and seen.
    for difference in [
        Difference::ColonInName,
        Difference::SeparatorInLabelValue,
        Difference::EscapedLabelValue,
        Difference::EmptyBraces,
        Difference::OpenMetricsTimestamp,
    ] {
        assert!(
            excused_total.contains_key(&difference),
            "{difference:?} never seen: {excused_total:?}"
        );
    }
    assert!(
        untyped_counters > 0,
        "OpenMetrics counters come out untyped in prometheus-parse"
    );
}

#[test]
fn misnamed_openmetrics_fixture_is_text() {
    for (file, why) in NOT_OPENMETRICS {
        let (_, text) = fixtures()
            .into_iter()
            .find(|(f, _)| f == file)
            .expect("fixture exists");
        let err = parse(text.as_bytes(), Format::OpenMetrics).expect_err(why);
        assert!(
            err.message.contains("clashes") || err.message.contains("EOF"),
            "{file}: {err}"
        );
        parse(text.as_bytes(), Format::PrometheusText).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn sample_counts_match_the_fixtures() {
    let files = fixtures();
    let count = |file: &str| {
        let (_, text) = files
            .iter()
            .find(|(f, _)| f == file)
            .expect("fixture exists");
        parse(text.as_bytes(), format_for(file))
            .expect("parses")
            .samples
            .len()
    };
    // The count the fixture's README gives.
    assert_eq!(count("node-exporter-e2e-output.txt"), 3027);
    assert_eq!(count("node-exporter-1.5.txt"), 507);
}

#[test]
fn values_escapes_and_timestamps_come_through() {
    let ours = parse(EDGE_CASES_TEXT.as_bytes(), Format::PrometheusText).expect("edge cases parse");
    let find = |name: &str| {
        ours.samples
            .iter()
            .find(|s| s.labels.metric_name() == Some(name))
            .unwrap_or_else(|| panic!("{name} parsed"))
    };
    let escapes = find("edge_escapes");
    assert_eq!(escapes.labels.get("path"), Some(r"C:\DIR\FILE.TXT"));
    assert_eq!(escapes.labels.get("msg"), Some("say \"hi\"\nbye"));
    assert_eq!(find("edge_colon:rate5m").value, 3.0);
    let plain = find("edge_plain");
    assert_eq!(plain.timestamp_ms, Some(1395066363000));
    assert_eq!(
        plain.labels.get("b"),
        None,
        "empty label values are dropped"
    );
    let help = ours
        .metadata
        .iter()
        .find(|m| m.name == "edge_escapes")
        .and_then(|m| m.help.clone());
    assert_eq!(
        help.as_deref(),
        Some("Escapes: a \\ backslash and a \n newline.")
    );

    let om = parse(EDGE_CASES_OPENMETRICS.as_bytes(), Format::OpenMetrics)
        .expect("OpenMetrics edge cases parse");
    assert_eq!(om.samples[0].timestamp_ms, Some(1_700_000_000_500));
    let counter = &om.metadata[0];
    assert_eq!(
        (counter.name.as_str(), counter.kind),
        ("om_requests", MetricType::Counter)
    );
    assert_eq!(om.metadata[1].unit.as_deref(), Some("celsius"));
}
