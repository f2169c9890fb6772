//! `rules test`: runs `promtool test rules` files unchanged.
//!
//! The file format and the semantics follow promtool 2.42 (the Debian
//! `prometheus` package), which the integration tests compare against:
//! unknown keys are errors, a test group without `interval` loads all its
//! samples at time 0, and rule files that match nothing are a warning.

mod report;
mod runner;
mod series;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::PromDuration;
pub use series::{parse_metric, parse_values, NotationError, SeriesValue};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    #[serde(default)]
    pub interval: PromDuration,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTestCase>,
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub external_url: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    #[serde(default)]
    pub series: String,
    #[serde(default)]
    pub values: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default)]
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTestCase {
    #[serde(default)]
    pub expr: String,
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default)]
    pub exp_samples: Vec<ExpectedSample>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSample {
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub value: f64,
}

/// Runs each test file, printing as promtool does; returns whether all
/// passed.
pub fn run_files(
    files: &[&Path],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let mut all_passed = true;
    for path in files {
        writeln!(out, "Unit Testing:  {}", path.display())?;
        let failures = run_file(path, err)?;
        if failures.is_empty() {
            writeln!(out, "  SUCCESS")?;
        } else {
            all_passed = false;
            writeln!(err, "  FAILED:")?;
            for failure in failures {
                writeln!(err, "{failure}")?;
                writeln!(out)?;
            }
        }
        writeln!(out)?;
    }
    Ok(all_passed)
}

/// The failures of one test file (empty when it passes). Warnings go to
/// `err` directly.
pub fn run_file(path: &Path, err: &mut dyn Write) -> std::io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return Ok(vec![format!("{}: {e}", path.display())]),
    };
    let file: TestFile = match serde_yaml_ng::from_str(&text) {
        Ok(file) => file,
        Err(e) => return Ok(vec![format!("{}: {e}", path.display())]),
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut rule_files = Vec::new();
    for pattern in &file.rule_files {
        let matched = glob(&base.join(pattern));
        if matched.is_empty() {
            writeln!(
                err,
                "  WARNING: no file match pattern {}",
                base.join(pattern).display()
            )?;
        }
        rule_files.extend(matched);
    }
    Ok(runner::run(&file, &rule_files))
}

/// Files matching a path whose last component may hold `*`, `?` or `[...]`
/// wildcards (as Go's `filepath.Glob`, for the common case), sorted.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains(['*', '?', '[']) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard_match(name.as_bytes(), n.as_bytes()))
        })
        .map(|e| pattern.with_file_name(e.file_name()))
        .collect();
    found.sort();
    found
}

fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard_match(&pattern[1..], name)
                || (!name.is_empty() && wildcard_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard_match(&pattern[1..], &name[1..]),
        (Some(b'['), Some(&c)) => match pattern.iter().position(|&b| b == b']') {
            Some(end) => {
                let class = &pattern[1..end];
                let (negate, class) = match class.first() {
                    Some(b'^' | b'!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && wildcard_match(&pattern[end + 1..], &name[1..])
            }
            None => false,
        },
        (Some(&p), Some(&c)) => p == c && wildcard_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "
groups:
  - name: first
    rules:
      - record: doubled
        expr: base * 2
  - name: second
    rules:
      - alert: Big
        expr: doubled > 5
        for: 1m
        annotations: {summary: 'doubled is {{ $value }}'}
";

    fn run_text(test: &str) -> (Vec<String>, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("rules.yml"), RULES).expect("write rules");
        let path = dir.path().join("test.yml");
        std::fs::write(&path, test).expect("write test");
        let mut warnings = Vec::new();
        let failures = run_file(&path, &mut warnings).expect("writable");
        (failures, String::from_utf8_lossy(&warnings).into_owned())
    }

    #[test]
    fn recording_results_feed_alerts_in_group_order() {
        let (failures, _) = run_text(
            "
rule_files: ['rule*.yml']
group_eval_order: [first, second]
tests:
  - interval: 1m
    input_series:
      - series: base
        values: '1+1x5'
    alert_rule_test:
      - eval_time: 2m
        alertname: Big
        exp_alerts: []
      - eval_time: 3m
        alertname: Big
        exp_alerts:
          - exp_annotations: {summary: doubled is 8}
    promql_expr_test:
      - expr: doubled
        eval_time: 2m
        exp_samples:
          - labels: doubled
            value: 6
",
        );
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn reports_file_level_mistakes_like_promtool() {
        let (failures, _) =
            run_text("rule_files: [rules.yml]\ngroup_eval_order: [a, a]\ntests: [{}]\n");
        assert_eq!(failures, ["group name repeated in evaluation order: a"]);
        let (failures, _) =
            run_text("tests:\n  - name: g\n    alert_rule_test:\n      - eval_time: 1m\n");
        assert_eq!(
            failures,
            ["an item under alert_rule_test misses required attribute alertname at eval_time 1m (in TestGroup g)"]
        );
        let (failures, warnings) = run_text("rule_files: [missing.yml]\ntests: [{}]\n");
        assert!(failures.is_empty());
        assert!(
            warnings.contains("WARNING: no file match pattern"),
            "{warnings}"
        );
        let (failures, _) = run_text("tests:\n  - interval: 1m\n    fuzzy: true\n");
        assert!(
            failures[0].contains("unknown field `fuzzy`"),
            "{failures:?}"
        );
    }

    #[test]
    fn wildcards_match_like_filepath_glob() {
        assert!(wildcard_match(b"*.yml", b"rules.yml"));
        assert!(wildcard_match(b"r?les.y[a-z]l", b"rules.yml"));
        assert!(!wildcard_match(b"*.yml", b"rules.yaml"));
        assert!(wildcard_match(b"[!a]*", b"rules"));
    }
}
