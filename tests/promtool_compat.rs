//! `opsdeck rules check|test` against `promtool check|test rules` on
//! Prometheus's own promtool test data and on opsdeck's default rule pack.
//!
//! Every file must give the outcome recorded here (what promtool 2.42, the
//! Debian package, gives). When `promtool` is installed, it runs on the same
//! files and must agree; for the files whose tests fail on assertions (not
//! on parse errors, which each tool words its own way) the whole output
//! must be identical.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/promtool")
}

fn rule_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/rules")
}

/// `(file, passes "rules test", passes "rules check")`.
const EXPECTED: &[(&str, bool, bool)] = &[
    ("at-modifier-test.yml", true, false),
    ("at-modifier.yml", false, true),
    ("bad-input-series.yml", false, false),
    ("bad-promql.yml", false, false),
    ("bad-rules-error-test.yml", false, false),
    ("bad-rules-error.yml", false, true),
    ("bad-rules-syntax-test.yml", false, false),
    ("bad-rules-syntax.yml", false, false),
    ("failing.yml", false, false),
    ("long-period.yml", true, false),
    ("negative-offset-test.yml", true, false),
    ("negative-offset.yml", false, true),
    ("no-test-group-interval.yml", false, false),
    ("rules-bad.yml", false, false),
    ("rules.yml", false, true),
    // Duplicate rules are a lint: reported, exit 0 unless --lint-fatal.
    ("rules_duplicates.yml", false, true),
    ("rules_extrafields.yml", false, false),
    ("rules_run.yml", false, false),
    ("rules_run_extrafields.yml", false, false),
    ("rules_run_fuzzy.yml", false, false),
    ("rules_run_no_fuzzy.yml", false, false),
    ("start-time-test.yml", false, false),
    ("unittest.yml", false, false),
];

/// Files whose `rules test` output must equal promtool's byte for byte.
const SAME_TEST_OUTPUT: &[&str] = &[
    "at-modifier-test.yml",
    "failing.yml",
    "long-period.yml",
    "negative-offset-test.yml",
    "no-test-group-interval.yml",
    "rules_run.yml",
];

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) => panic!("running {program} {args:?}: {e}"),
    }
}

/// promtool's `test rules` builds a scratch TSDB in `$TMPDIR`; for
/// long-period.yml that is about 512 MiB of WAL, more than a small `/tmp`
/// (a CI runner's tmpfs) holds. The target directory is on the build disk.
fn promtool(args: &[&str], dir: &Path) -> Output {
    // promtool leaves its scratch TSDB behind; the directory goes on drop.
    let scratch = match tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")) {
        Ok(scratch) => scratch,
        Err(e) => panic!("scratch directory for promtool: {e}"),
    };
    match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", scratch.path())
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("running promtool {args:?}: {e}"),
    }
}

/// promtool failing on its own disk space says nothing about opsdeck.
fn promtool_out_of_disk(output: &Output) -> bool {
    combined(output).contains("no space left on device")
}

fn promtool_available() -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("promtool is not installed: skipping the comparison with promtool, checking recorded outcomes only");
    }
    found
}

fn combined(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn expectations_cover_every_testdata_file() {
    let mut files: Vec<String> = std::fs::read_dir(testdata())
        .expect("testdata directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml"))
        .collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();
    assert_eq!(
        files, listed,
        "every promtool testdata file needs a recorded outcome"
    );
}

#[test]
fn rules_test_agrees_with_promtool() {
    let dir = testdata();
    let compare = promtool_available();
    for (file, passes, _) in EXPECTED {
        let ours = run(OPSDECK, &["rules", "test", file], &dir);
        assert_eq!(
            ours.status.code(),
            Some(if *passes { 0 } else { 1 }),
            "opsdeck rules test {file}:\n{}",
            combined(&ours)
        );
        if compare {
            let theirs = promtool(&["test", "rules", file], &dir);
            if promtool_out_of_disk(&theirs) {
                eprintln!("promtool ran out of disk space on {file}: not compared");
                continue;
            }
            assert_eq!(
                ours.status.code(),
                theirs.status.code(),
                "exit codes differ on {file}:\nopsdeck:\n{}\npromtool:\n{}",
                combined(&ours),
                combined(&theirs)
            );
            if SAME_TEST_OUTPUT.contains(file) {
                assert_eq!(
                    String::from_utf8_lossy(&ours.stdout),
                    String::from_utf8_lossy(&theirs.stdout),
                    "stdout of {file}"
                );
                assert_eq!(
                    String::from_utf8_lossy(&ours.stderr),
                    String::from_utf8_lossy(&theirs.stderr),
                    "stderr of {file}"
                );
            }
        }
    }
}

#[test]
fn rules_check_agrees_with_promtool() {
    let dir = testdata();
    let compare = promtool_available();
    for (file, _, passes) in EXPECTED {
        let ours = run(OPSDECK, &["rules", "check", file], &dir);
        assert_eq!(
            ours.status.code(),
            Some(if *passes { 0 } else { 1 }),
            "opsdeck rules check {file}:\n{}",
            combined(&ours)
        );
        if compare {
            let theirs = promtool(&["check", "rules", file], &dir);
            assert_eq!(
                ours.status.code(),
                theirs.status.code(),
                "exit codes differ on {file}:\nopsdeck:\n{}\npromtool:\n{}",
                combined(&ours),
                combined(&theirs)
            );
        }
    }
}

#[test]
fn failures_name_the_test_the_alert_the_time_and_both_sides() {
    let out = combined(&run(
        OPSDECK,
        &["rules", "test", "failing.yml"],
        &testdata(),
    ));
    for expected in [
        "  FAILED:",
        "    name: Failing test,",
        "    alertname: Test, time: 0s, ",
        "        exp:[",
        "              Labels:{alertname=\"Test\"}",
        "        got:[]",
        "    expr: \"test\", time: 0s,",
        "        exp: {__name__=\"test\"} 1E+00",
        "        got: {__name__=\"test\"} 0E+00",
        "    alertname: InstanceDown, time: 5m, ",
        "Annotations:{description=\" of job test has been down for more than 5 minutes.\", summary=\"Instance  down\"}",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn check_errors_name_file_line_group_and_rule() {
    let dir = testdata();
    let out = combined(&run(
        OPSDECK,
        &["rules", "check", "bad-rules-syntax.yml"],
        &dir,
    ));
    assert!(out.contains("bad-rules-syntax.yml: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression"), "{out}");
    let out = combined(&run(OPSDECK, &["rules", "check", "rules-bad.yml"], &dir));
    assert!(
        out.contains("rules-bad.yml: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\""),
        "{out}"
    );
    let out = combined(&run(
        OPSDECK,
        &["rules", "check", "rules_extrafields.yml"],
        &dir,
    ));
    assert!(
        out.contains("rules_extrafields.yml: 7:5: ") && out.contains("unknown field `namespace`"),
        "{out}"
    );
}

#[test]
fn duplicate_rules_fail_only_with_lint_fatal() {
    let dir = testdata();
    let lenient = run(OPSDECK, &["rules", "check", "rules_duplicates.yml"], &dir);
    assert_eq!(lenient.status.code(), Some(0));
    assert!(combined(&lenient)
        .contains("lint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m"));
    let fatal = run(
        OPSDECK,
        &["rules", "check", "--lint-fatal", "rules_duplicates.yml"],
        &dir,
    );
    assert_eq!(fatal.status.code(), Some(3));
    let off = run(
        OPSDECK,
        &["rules", "check", "--lint", "none", "rules_duplicates.yml"],
        &dir,
    );
    assert!(combined(&off).contains("SUCCESS: 5 rules found"));
}

#[test]
fn default_rule_pack_passes_both_tools() {
    let pack = rule_pack();
    let rule_files = [
        "runtime.yml",
        "http.yml",
        "pools.yml",
        "shards.yml",
        "targets.yml",
    ];
    let test_files: Vec<String> = rule_files
        .iter()
        .map(|f| format!("tests/{}", f.replace(".yml", "_test.yml")))
        .collect();
    let test_args: Vec<&str> = test_files.iter().map(String::as_str).collect();
    let compare = promtool_available();

    let mut args = vec!["rules", "check"];
    args.extend(rule_files);
    let checked = run(OPSDECK, &args, &pack);
    assert_eq!(checked.status.code(), Some(0), "{}", combined(&checked));
    let mut args = vec!["rules", "test"];
    args.extend(&test_args);
    let tested = run(OPSDECK, &args, &pack);
    assert_eq!(tested.status.code(), Some(0), "{}", combined(&tested));

    if compare {
        let mut args = vec!["check", "rules"];
        args.extend(rule_files);
        let checked = promtool(&args, &pack);
        assert_eq!(checked.status.code(), Some(0), "{}", combined(&checked));
        let mut args = vec!["test", "rules"];
        args.extend(&test_args);
        let tested = promtool(&args, &pack);
        assert_eq!(tested.status.code(), Some(0), "{}", combined(&tested));
    }
}
