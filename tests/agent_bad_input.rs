//! Bad input gets a clear error and the agent keeps serving: targets that
//! answer garbage, a 50 MB body, nothing at all, a 500 or a refused
//! connection; a target that goes bad has its series marked stale; an
//! invalid config is refused with the file, line and key.

mod agent_support;

use std::process::Command;

use agent_support::{Agent, Behavior, FixtureServer};

const GOOD: &str = "# TYPE nodejs_heap_size_used_bytes gauge\nnodejs_heap_size_used_bytes 1234\n";

/// A loopback URL on which nothing listens.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/metrics")
}

fn target(name: &str, url: &str) -> String {
    format!("  - name: {name}\n    url: {url}\n    interval: 2s\n    timeout: 1s\n")
}

#[test]
fn each_bad_target_is_reported_and_the_agent_keeps_serving() {
    let server = FixtureServer::start();
    let good = server.route("/good", Behavior::Body("text/plain", GOOD.into()));
    let garbage = server.route(
        "/garbage",
        Behavior::Body(
            "text/plain",
            b"<html>this is {not\" an exposition\n".to_vec(),
        ),
    );
    let huge = server.route("/huge", Behavior::Body("text/plain", vec![b'#'; 50 << 20]));
    let hang = server.route("/hang", Behavior::Hang);
    let error = server.route("/error", Behavior::Status(500));
    let refused = refused_url();
    let targets: String = [
        ("good", good.as_str()),
        ("garbage", &garbage),
        ("huge", &huge),
        ("hang", &hang),
        ("error", &error),
        ("refused", &refused),
    ]
    .iter()
    .map(|(name, url)| target(name, url))
    .collect();
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n{targets}"
    ));

    let snapshot = agent.snapshot_where("every target scraped once", |s| {
        s.targets.iter().all(|t| t.last_scrape_ms.is_some())
    });
    let error_of = |name: &str| {
        let target = snapshot
            .targets
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("target {name}"));
        assert_eq!(target.up, name == "good", "{target:?}");
        target.last_error.clone().unwrap_or_default()
    };
    assert_eq!(error_of("good"), "");
    assert!(
        error_of("garbage").contains("invalid exposition at line 1"),
        "{}",
        error_of("garbage")
    );
    assert!(
        error_of("huge").contains("exceeds the limit of 10485760 bytes"),
        "{}",
        error_of("huge")
    );
    assert!(
        error_of("hang").contains("timed out after 1s"),
        "{}",
        error_of("hang")
    );
    assert!(
        error_of("error").contains("HTTP status 500"),
        "{}",
        error_of("error")
    );
    assert!(
        error_of("refused").contains("connection failed"),
        "{}",
        error_of("refused")
    );

    // Still serving, with the good target's data and Prometheus's `up`.
    assert_eq!(agent.get("/healthz").status(), 200);
    assert_eq!(agent.query("nodejs_heap_size_used_bytes")[0].1, 1234.0);
    let up = agent.query("sum(up)");
    assert_eq!(up[0].1, 1.0, "only the good target is up");
    let metrics = agent.get("/metrics").text().expect("metrics");
    assert!(
        metrics.contains("opsdeck_source_up{source=\"refused\"} 0"),
        "{metrics}"
    );
    assert!(agent.stderr().contains("scrape failed"));
}

#[test]
fn a_target_that_goes_bad_has_its_series_marked_stale() {
    let server = FixtureServer::start();
    let url = server.route("/metrics", Behavior::Body("text/plain", GOOD.into()));
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n  - name: flaky\n    url: {url}\n    interval: 1s\n    timeout: 500ms\n"
    ));
    agent_support::eventually("first scrape", agent_support::WAIT, || {
        (!agent.query("nodejs_heap_size_used_bytes").is_empty()).then_some(())
    });
    server.route("/metrics", Behavior::Status(503));
    agent_support::eventually(
        "series stale after a failed scrape",
        agent_support::WAIT,
        || {
            agent
                .query("nodejs_heap_size_used_bytes")
                .is_empty()
                .then_some(())
        },
    );
    assert_eq!(agent.query("up{job=\"flaky\"}")[0].1, 0.0);
}

fn check_config(yaml: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["agent", "--check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run opsdeck");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        path.display().to_string(),
    )
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let (ok, stderr, path) = check_config(
        "interval: 5s\nscrape:\n  - name: app\n    url: http://127.0.0.1:3000/metrics\n    scrape_interval: 1s\n",
    );
    assert!(!ok);
    assert!(stderr.contains(&format!("{path}:5:")), "{stderr}");
    assert!(stderr.contains("scrape[0]"), "{stderr}");
    assert!(
        stderr.contains("unknown field `scrape_interval`"),
        "{stderr}"
    );
}

#[test]
fn invalid_values_name_the_key_and_the_agent_does_not_start() {
    let (ok, stderr, path) = check_config("listen:\n  address: 0.0.0.0:9464\n");
    assert!(!ok);
    assert!(
        stderr.contains(&path) && stderr.contains("auth.viewer_tokens"),
        "{stderr}"
    );

    let (ok, stderr, _) =
        check_config("profiles:\n  process:\n    heap_used_bytes: 'sum(rate(x[1m]'\n");
    assert!(!ok);
    assert!(
        stderr.contains("profiles.process.heap_used_bytes"),
        "{stderr}"
    );

    let (ok, stdout_or_err, _) = check_config("scrape: []\n");
    assert!(ok, "{stdout_or_err}");
}

/// Runs `opsdeck agent` with `data_dir`, expects it to fail, and returns
/// what it printed on stderr.
fn agent_fails_to_start_with(data_dir: &std::path::Path) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.yaml");
    std::fs::write(
        &path,
        format!(
            "listen:\n  address: 127.0.0.1:0\ndata_dir: {}\n",
            data_dir.display()
        ),
    )
    .expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["agent", "--config"])
        .arg(&path)
        .output()
        .expect("run opsdeck");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_locked_data_dir_is_a_clear_error() {
    let first = Agent::start("host:\n  enabled: false\n");
    let data_dir = first.dir.path().join("data");
    let stderr = agent_fails_to_start_with(&data_dir);
    assert!(
        stderr.contains("in use by another opsdeck agent"),
        "{stderr}"
    );
    assert_eq!(first.get("/healthz").status(), 200);
}

#[test]
fn a_chunk_directory_that_cannot_be_made_is_a_clear_error() {
    let running = Agent::start("host:\n  enabled: false\n");
    let chunks = running.dir.path().join("data").join("chunks");
    assert!(chunks.is_dir(), "the store keeps its closed chunks there");
    let metrics = running.get("/metrics").text().expect("metrics body");
    assert!(
        metrics.contains("\nopsdeck_agent_store_disk_bytes "),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nopsdeck_agent_store_disk_errors_total 0\n"),
        "{metrics}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).expect("data dir");
    // A file where the directory should be.
    std::fs::write(data_dir.join("chunks"), b"not a directory").expect("write file");
    let stderr = agent_fails_to_start_with(&data_dir);
    let expected = format!(
        "cannot use {} for the series store's chunks",
        data_dir.join("chunks").display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
