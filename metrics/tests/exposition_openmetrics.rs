//! Runs the OpenMetrics conformance suite for parsers
//! (`shared/testdata/openmetrics/`, 211 cases) through our parser in
//! OpenMetrics mode and asserts that it accepts exactly the cases the
//! suite says parse.

use std::path::{Path, PathBuf};

use opsdeck_metrics::exposition::{parse, Format};

/// Cases where we deliberately disagree with the suite, with the reason.
/// Empty: we agree on every case.
const DISAGREEMENTS: &[(&str, &str)] = &[];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/openmetrics")
}

#[test]
fn agrees_with_the_openmetrics_conformance_suite() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .expect("the shared OpenMetrics suite is beside the checkout")
        .map(|entry| entry.expect("readable suite folder").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 211, "the suite has 211 cases");

    let mut wrong = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).expect("test.json"))
                .expect("valid JSON");
        let should_parse = spec["shouldParse"]
            .as_bool()
            .expect("shouldParse is a boolean");
        let input = std::fs::read(case.join(spec["file"].as_str().unwrap_or("metrics")))
            .expect("metrics file");
        let outcome = parse(&input, Format::OpenMetrics);
        let agrees = outcome.is_ok() == should_parse;
        let excused = DISAGREEMENTS.iter().any(|(case, _)| *case == name);
        if agrees == excused {
            wrong.push(format!(
                "{name}: suite says shouldParse={should_parse}, we got {outcome:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases disagree:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn rejections_name_a_line_inside_the_input() {
    let input = std::fs::read(suite_dir().join("bad_histograms_9/metrics")).expect("case file");
    let err = parse(&input, Format::OpenMetrics).unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    assert!(err.message.contains("increasing le order"), "{err}");
}
