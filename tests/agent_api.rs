//! The agent's HTTP API over real HTTP: probes, `/metrics` (checked by
//! promtool when installed), the Prometheus query API, the SSE stream
//! through the typed client, JSON stats endpoints, tokens, and a clean
//! exit on SIGTERM with a stream open.

mod agent_support;

use std::process::Command;
use std::time::Duration;

use agent_support::{Agent, Behavior, FixtureServer, WAIT};
use opsdeck_agent::api::prom::QueryData;
use opsdeck_agent::api::StreamEvent;
use opsdeck_agent::client::AgentClient;

const APP: &str = "# TYPE nodejs_heap_size_used_bytes gauge\nnodejs_heap_size_used_bytes 5e6\n# TYPE app_pool_active gauge\napp_pool_active{pool=\"main\"} 3\n# TYPE app_pool_max gauge\napp_pool_max{pool=\"main\"} 4\n# TYPE app_shard_status gauge\napp_shard_status{shard=\"0\",state=\"ready\"} 1\n";

fn app_agent(extra: &str) -> (FixtureServer, Agent) {
    let server = FixtureServer::start();
    let url = server.route("/metrics", Behavior::Body("text/plain", APP.into()));
    let agent = Agent::start(&format!(
        "interval: 200ms\nscrape:\n  - name: app\n    url: {url}\n    interval: 1s\n    timeout: 1s\n{extra}"
    ));
    agent.snapshot_where("pools", |s| !s.pools.is_empty());
    (server, agent)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn probes_and_metrics_pass_promtool() {
    let (_server, agent) = app_agent("");
    assert_eq!(agent.get("/healthz").status(), 200);
    assert_eq!(agent.get("/readyz").status(), 200);
    let metrics = agent.get("/metrics").text().expect("metrics body");
    for family in [
        "opsdeck_agent_build_info",
        "opsdeck_source_up{source=\"app\"} 1",
        "opsdeck_pool_active{pool=\"main\",kind=\"app_pool\"} 3",
        "opsdeck_pool_utilization_ratio{pool=\"main\",kind=\"app_pool\"} 0.75",
        "opsdeck_shard_state{shard=\"0\",state=\"ready\"} 1",
        "opsdeck_process_heap_used_bytes 5000000",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    if Command::new("promtool").arg("--version").output().is_err() {
        println!("promtool not installed: skipping `promtool check metrics`");
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), metrics.as_bytes())
        .expect("feed promtool");
    let output = child.wait_with_output().expect("promtool output");
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn query_api_has_prometheus_shapes() {
    let (_server, agent) = app_agent("");
    let client = reqwest::blocking::Client::new();
    let instant: serde_json::Value = client
        .post(format!("{}/api/v1/query", agent.url))
        .form(&[("query", "app_pool_active * 2")])
        .send()
        .and_then(|r| r.json())
        .expect("instant query");
    assert_eq!(instant["status"], "success", "{instant}");
    assert_eq!(instant["data"]["resultType"], "vector");
    assert_eq!(instant["data"]["result"][0]["value"][1], "6");
    assert_eq!(instant["data"]["result"][0]["metric"]["pool"], "main");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let range: serde_json::Value = client
        .get(format!("{}/api/v1/query_range", agent.url))
        .query(&[
            ("query", "up"),
            ("start", &format!("{}", now - 2.0)),
            ("end", &format!("{now}")),
            ("step", "1s"),
        ])
        .send()
        .and_then(|r| r.json())
        .expect("range query");
    assert_eq!(range["data"]["resultType"], "matrix", "{range}");
    assert_eq!(range["data"]["result"][0]["metric"]["job"], "app");

    let bad = client
        .get(format!("{}/api/v1/query", agent.url))
        .query(&[("query", "sum(")])
        .send()
        .expect("bad query");
    assert_eq!(bad.status(), 400);
    let bad: serde_json::Value = bad.json().expect("error JSON");
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["errorType"], "bad_data");

    // The typed client reads the same API.
    let data = runtime().block_on(async {
        let client = AgentClient::new(&agent.url, None).expect("client");
        client
            .query("sum(app_pool_max)", None)
            .await
            .expect("query")
    });
    match data {
        QueryData::Vector(samples) => assert_eq!(samples[0].value.value, 4.0),
        other => panic!("expected a vector, got {other:?}"),
    }
}

#[test]
fn stream_sends_a_snapshot_then_changes_and_resumes() {
    let (_server, agent) = app_agent("");
    runtime().block_on(async {
        let client = AgentClient::new(&agent.url, None).expect("client");
        let mut stream = client.stream(None).await.expect("stream");
        let first = tokio::time::timeout(WAIT, stream.next_event())
            .await
            .expect("first event in time")
            .expect("an event")
            .expect("a valid event");
        let StreamEvent::Snapshot(first) = first else {
            panic!("the first event is a snapshot, got {first:?}");
        };
        assert_eq!(first.pools[0].name, "main");
        let next = tokio::time::timeout(WAIT, stream.next_event())
            .await
            .expect("second event in time")
            .expect("an event")
            .expect("a valid event");
        match next {
            StreamEvent::Snapshot(next) => assert!(next.seq > first.seq),
            StreamEvent::Heartbeat { .. } => {}
        }
        // Resuming at the current snapshot does not resend it.
        let current = client.snapshot().await.expect("snapshot");
        let mut resumed = client.stream(Some(current.seq)).await.expect("stream");
        if let Ok(Some(Ok(StreamEvent::Snapshot(s)))) =
            tokio::time::timeout(Duration::from_secs(3), resumed.next_event()).await
        {
            assert!(s.seq > current.seq, "snapshot {} was resent", s.seq);
        }
    });
}

#[test]
fn json_stats_endpoints_map_pointers_to_series() {
    let server = FixtureServer::start();
    let url = server.route(
        "/pool/stats",
        Behavior::Body(
            "application/json",
            br#"{"pool": {"totalCount": 9, "idleCount": 2, "waitingCount": 1}, "max": 12}"#
                .to_vec(),
        ),
    );
    let agent = Agent::start(&format!(
        r#"interval: 200ms
host:
  enabled: false
json_stats:
  - name: pg
    url: {url}
    interval: 1s
    timeout: 1s
    labels: {{pool: pg}}
    metrics:
      - {{name: app_pool_size, pointer: /pool/totalCount}}
      - {{name: app_pool_idle, pointer: /pool/idleCount}}
      - {{name: app_pool_waiting, pointer: /pool/waitingCount}}
      - {{name: app_pool_max, pointer: /max}}
"#
    ));
    let snapshot = agent.snapshot_where("pool from JSON", |s| !s.pools.is_empty());
    let pool = &snapshot.pools[0];
    assert_eq!(pool.name, "pg");
    assert_eq!(
        (pool.size, pool.idle, pool.waiting, pool.max),
        (Some(9.0), Some(2.0), Some(1.0), Some(12.0))
    );
}

#[test]
fn tokens_guard_reads_off_loopback_and_changes_always() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("viewer-token");
    std::fs::write(&token_file, "view-secret\n").expect("token file");
    let config = format!(
        "listen:\n  address: 0.0.0.0:0\ndata_dir: {}\nhost:\n  enabled: false\nauth:\n  viewer_tokens:\n    - name: grafana\n      token_file: {}\n  operator_tokens:\n    - name: oncall\n      token: op-secret\n",
        dir.path().join("data").display(),
        token_file.display()
    );
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, config).expect("config");
    let agent = Agent::start_with_file(&path, dir);
    let port = agent.url.rsplit(':').next().expect("port").to_string();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().expect("request").status().as_u16()
    };
    assert_eq!(get("/healthz", None), 200, "probes are open");
    assert_eq!(get("/metrics", None), 401);
    assert_eq!(get("/metrics", Some("wrong")), 401);
    assert_eq!(get("/metrics", Some("view-secret")), 200);
    assert_eq!(get("/metrics", Some("op-secret")), 200);
    let post = |path: &str, token: &str| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .form(&[("query", "1")])
            .send()
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(
        post("/api/v1/query", "view-secret"),
        200,
        "a POSTed query is a read"
    );
    assert_eq!(
        post("/api/v1/snapshot", "view-secret"),
        403,
        "a viewer cannot change state"
    );
    assert_eq!(
        post("/api/v1/snapshot", "op-secret"),
        405,
        "an operator passes auth"
    );
    let logs = agent.stderr();
    assert!(!logs.contains("view-secret") && !logs.contains("op-secret"));
}

#[test]
fn sigterm_with_an_open_stream_exits_zero_promptly() {
    let (_server, agent) = app_agent("");
    let url = agent.url.clone();
    let reader = std::thread::spawn(move || {
        let response = reqwest::blocking::Client::new()
            .get(format!("{url}/api/v1/stream"))
            .send()
            .expect("stream");
        // Reads until the agent ends the stream.
        response.text().map(|t| t.len()).unwrap_or(0)
    });
    std::thread::sleep(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let status = agent.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "took {:?}",
        started.elapsed()
    );
    assert!(reader.join().expect("reader") > 0);
}

#[test]
fn rules_fire_into_alerts_snapshot_and_rules_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("test-rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: test\n    interval: 1s\n    rules:\n      - alert: PoolAlmostFull\n        expr: app_pool_active / app_pool_max > 0.5\n        labels: {severity: ticket}\n        annotations: {summary: 'pool {{ $labels.pool }} at {{ $value }}'}\n",
    )
    .expect("rule file");
    let (_server, agent) = app_agent(&format!("rules:\n  files: [{}]\n", rules.display()));
    let snapshot = agent.snapshot_where("alert in snapshot", |s| !s.alerts.is_empty());
    let alert = &snapshot.alerts[0];
    assert_eq!(alert.name, "PoolAlmostFull");
    assert_eq!(alert.state, opsdeck_agent::api::AlertState::Firing);
    assert_eq!(alert.severity.as_deref(), Some("ticket"));
    assert_eq!(alert.value, 0.75);
    assert_eq!(alert.annotations["summary"], "pool main at 0.75");

    let alerts: serde_json::Value = agent.get("/api/v1/alerts").json().expect("alerts JSON");
    assert_eq!(alerts["status"], "success");
    assert_eq!(
        alerts["data"]["alerts"][0]["labels"]["alertname"],
        "PoolAlmostFull"
    );
    assert_eq!(alerts["data"]["alerts"][0]["state"], "firing");
    assert_eq!(alerts["data"]["alerts"][0]["value"], "0.75");

    let rules: serde_json::Value = agent.get("/api/v1/rules").json().expect("rules JSON");
    let groups = rules["data"]["groups"].as_array().expect("groups");
    let test = groups
        .iter()
        .find(|g| g["name"] == "test")
        .expect("test group");
    assert_eq!(test["rules"][0]["type"], "alerting");
    assert_eq!(test["rules"][0]["health"], "ok");
    assert_eq!(test["rules"][0]["state"], "firing");
    assert!(
        groups.iter().any(|g| g["name"] == "opsdeck-shards"),
        "the default pack is loaded"
    );
}

#[test]
fn query_command_asks_an_agent() {
    let (_server, agent) = app_agent("");
    let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args([
            "query",
            "--agent",
            &agent.url,
            "sum by (pool) (app_pool_active)",
        ])
        .output()
        .expect("run opsdeck query");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("{pool=\"main\"} => 3 @["), "{stdout}");

    let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["query", "--agent", &agent.url, "rate(app_pool_active)"])
        .output()
        .expect("run opsdeck query");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("query"), "{stderr}");
}

#[test]
fn silences_mute_alerts_and_need_an_operator_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: test\n    interval: 1s\n    rules:\n      - alert: PoolBusy\n        expr: app_pool_active > 1\n",
    )
    .expect("rule file");
    let (_server, agent) = app_agent(&format!(
        "rules:\n  default_pack: false\n  files: [{}]\nauth:\n  operator_tokens:\n    - {{name: oncall, token: op-secret}}\n",
        rules.display()
    ));
    agent.snapshot_where("alert firing", |s| !s.alerts.is_empty());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let request = serde_json::json!({
        "matchers": [{"name": "alertname", "value": "PoolBusy"}],
        "starts_at_ms": now,
        "ends_at_ms": now + 3_600_000,
        "created_by": "alice",
        "comment": "known",
    });
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1/silences", agent.url);
    let anonymous = client.post(&url).json(&request).send().expect("post");
    assert_eq!(
        anonymous.status(),
        401,
        "changes need a token even on loopback"
    );
    let created = client
        .post(&url)
        .bearer_auth("op-secret")
        .json(&request)
        .send()
        .expect("post");
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    agent.snapshot_where("alert silenced", |s| s.alerts.iter().all(|a| a.silenced));
    let listed: serde_json::Value = agent.get("/api/v1/silences").json().expect("list");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["created_by"], "alice (oncall)");

    let expired = client
        .delete(format!("{url}/{id}"))
        .bearer_auth("op-secret")
        .send()
        .expect("delete");
    assert_eq!(expired.status(), 200);
    agent.snapshot_where("alert no longer silenced", |s| {
        s.alerts.iter().all(|a| !a.silenced)
    });
    let missing = client
        .delete(format!("{url}/no-such-id"))
        .bearer_auth("op-secret")
        .send()
        .expect("delete");
    assert_eq!(missing.status(), 404);
}
