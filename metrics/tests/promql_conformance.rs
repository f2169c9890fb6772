//! Runs Prometheus's own PromQL conformance scripts
//! (`shared/testdata/promql/*.test`) against our engine and prints
//! passed / failed / skipped per file. Every in-scope statement must pass;
//! skips are listed with their reason.

mod promql_script;

use std::collections::BTreeMap;
use std::path::PathBuf;

use promql_script::parse::parse_script;
use promql_script::run::{run_script, SkipReason};

/// The files in scope (see `shared/testdata/README.md`). Native-histogram
/// statements inside them are skipped and counted.
const IN_SCOPE: &[&str] = &[
    "selectors",
    "staleness",
    "literals",
    "operators",
    "aggregators",
    "functions",
    "range_queries",
    "subquery",
    "at_modifier",
    "collision",
    "name_label_dropping",
    "limit",
    "trig_functions",
    "histograms",
];

/// Files of out-of-scope features, not run at all.
const OUT_OF_SCOPE: &[(&str, &str)] = &[
    ("native_histograms", "native histograms"),
    ("fill-modifier", "experimental fill modifiers"),
    ("extended_vectors", "experimental extended range vectors"),
    ("info", "experimental info()"),
    ("type_and_unit", "experimental type and unit labels"),
    ("duration_expression", "experimental duration expressions"),
    ("start_timestamps", "experimental start timestamps"),
];

/// In-scope statements we knowingly fail, as `(file, line, why)`. The test
/// fails if this list is not exactly what fails. (aggregators.test line 481,
/// `count_values("a\xc5z", version)`, is a counted `ParserGap` skip: see
/// `SkipReason::ParserGap`.)
const KNOWN_FAILURES: &[(&str, usize, &str)] = &[];

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/promql")
}

#[test]
fn prometheus_promql_test_scripts() {
    let dir = testdata();
    let mut failures = Vec::new();
    let mut skip_totals: BTreeMap<SkipReason, usize> = BTreeMap::new();
    let mut known_seen = 0;
    for name in IN_SCOPE {
        let path = dir.join(format!("{name}.test"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let commands = parse_script(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report = run_script(&commands);
        let known = KNOWN_FAILURES.iter().filter(|(f, _, _)| f == name).count();
        println!(
            "{name}.test: {} passed, {} failed, {} known failures, {} skipped ({} with unchecked warn/info expectations)",
            report.passed,
            report.failed.len() - known.min(report.failed.len()),
            known,
            report.skipped.len(),
            report.annotations_unchecked
        );
        for (reason, line, expr) in &report.skipped {
            *skip_totals.entry(*reason).or_default() += 1;
            println!("  skipped ({reason:?}) line {line}: {expr}");
        }
        for (line, failure) in &report.failed {
            let known = KNOWN_FAILURES
                .iter()
                .find(|(file, known_line, _)| file == name && known_line == line);
            match known {
                Some((_, _, why)) => {
                    println!("  known failure line {line}: {failure} ({why})");
                    known_seen += 1;
                }
                None => {
                    println!("  FAILED line {line}: {failure}");
                    failures.push(format!("{name}.test line {line}: {failure}"));
                }
            }
        }
    }
    for (name, why) in OUT_OF_SCOPE {
        println!("{name}.test: not run ({why})");
    }
    println!("skipped in total: {skip_totals:?}");
    assert_eq!(
        known_seen,
        KNOWN_FAILURES.len(),
        "a known failure now passes: remove it from KNOWN_FAILURES"
    );
    assert!(
        failures.is_empty(),
        "{} in-scope statements failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
