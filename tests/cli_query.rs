//! `opsdeck query --file`: an instant query over one exposition file,
//! printed the way `promtool query instant` prints results.

use std::path::PathBuf;
use std::process::{Command, Output};

fn opsdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .output()
        .expect("run opsdeck")
}

fn exposition(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write exposition");
    file
}

const SCRAPE: &str = "# TYPE up gauge\n\
up{job=\"api\"} 1\n\
# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",job=\"api\"} 10\n\
http_requests_total{code=\"500\",job=\"api\"} 2\n";

#[test]
fn prints_a_vector_like_promtool() {
    let file = exposition(SCRAPE);
    let path = file.path().to_str().expect("utf-8 path");
    let out = opsdeck(&["query", "--file", path, "--time", "1700000000", "up"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "up{job=\"api\"} => 1 @[1700000000]\n"
    );

    let out = opsdeck(&[
        "query",
        "--file",
        path,
        "--time",
        "1700000000",
        "sum by (job) (http_requests_total) / on(job) up",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{job=\"api\"} => 12 @[1700000000]\n"
    );
}

#[test]
fn prints_scalars() {
    let file = exposition(SCRAPE);
    let path = file.path().to_str().expect("utf-8 path");
    let out = opsdeck(&["query", "--file", path, "--time", "60", "scalar(up) * 2"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "scalar: 2 @[60]\n");
}

#[test]
fn queries_a_real_node_exporter_scrape() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/exposition/node-exporter-1.5.txt");
    let out = opsdeck(&[
        "query",
        "--file",
        path.to_str().expect("utf-8 path"),
        "count(node_cpu_seconds_total{mode=\"idle\"}) > 0",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{} => "));
}

#[test]
fn a_malformed_file_is_reported_with_its_name_and_line() {
    let file = exposition("up 1\nup{job=\"api\" 1\n");
    let path = file.path().to_str().expect("utf-8 path");
    let out = opsdeck(&["query", "--file", path, "up"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(path), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn a_bad_expression_is_reported() {
    let file = exposition(SCRAPE);
    let path = file.path().to_str().expect("utf-8 path");
    let out = opsdeck(&["query", "--file", path, "sum(up"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse error"));
}
