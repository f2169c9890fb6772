//! Exactly-once notification delivery across `kill -9` of the real agent.
//!
//! The agent scrapes a fixture app in which shard 3 is not ready, so a
//! `for: 0s` rule fires and the agent posts Alertmanager webhook JSON to a
//! receiver in this test. The receiver holds the first request open and
//! never answers it; while the agent waits on it, the agent is killed with
//! SIGKILL (`Child::kill`), then started again on the same data dir. The
//! shard is then made ready, so the alert also resolves.
//!
//! What "exactly once" means here: a notification is identified by what
//! the agent's dedup is keyed on (the group key, the notification's status
//! and each alert's fingerprint, status and start), and it is *delivered*
//! when the receiver has answered it 2xx. The request that reached the
//! receiver but was never answered (its connection died with the agent) is
//! not a delivery: the sender never learned that it arrived, so it must be
//! sent again. The test asserts that every identity is delivered exactly
//! once, that the re-sent request is byte for byte the one that was cut
//! off (it came from the outbox), and that the restarted agent, whose rule
//! engine reports the alert again, adds no second notification of it.

mod agent_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use agent_support::{eventually, exposition_value, Agent, Behavior, FixtureServer, WAIT};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

const NOT_READY: &str = "# TYPE app_shard_ready gauge\napp_shard_ready{shard=\"3\"} 0\n";
const READY: &str = "# TYPE app_shard_ready gauge\napp_shard_ready{shard=\"3\"} 1\n";

const RULES: &str = "groups:\n  - name: shards\n    interval: 1s\n    rules:\n      - alert: ShardNotReady\n        expr: app_shard_ready == 0\n        for: 0s\n        labels: {severity: critical}\n";

/// Longer than any gap in which a duplicate would show: the rule engine
/// reports the alert every second and the route looks at its group every
/// second (`group_interval: 1s`).
const SETTLE: Duration = Duration::from_millis(2_500);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Request {
    body: Bytes,
    /// Answered 2xx. Only the held request is never answered.
    acknowledged: bool,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// The notification's dedup identity: group key, status, and each
    /// alert's fingerprint, status and start.
    fn identity(&self) -> String {
        let body = self.json();
        let mut alerts: Vec<String> = body["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| format!("{} {} {}", a["fingerprint"], a["status"], a["startsAt"]))
            .collect();
        alerts.sort();
        format!(
            "{} {} [{}]",
            body["groupKey"],
            body["status"],
            alerts.join(", ")
        )
    }
}

type Log = Arc<Mutex<Vec<Request>>>;

/// A webhook receiver on 127.0.0.1 that records every request and holds
/// the first one open for good.
struct Receiver {
    addr: SocketAddr,
    log: Log,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let log = Log::default();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(log.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            addr,
            log,
            _runtime: runtime,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The `n`th request (from 1), once it has arrived and, unless it is
    /// the held one, been answered.
    fn wait_for(&self, what: &str, n: usize) -> Request {
        eventually(what, WAIT, || {
            let request = self.requests().get(n - 1)?.clone();
            (n == 1 || request.acknowledged).then_some(request)
        })
    }
}

async fn receive(State(log): State<Log>, body: Bytes) -> StatusCode {
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Request {
            body,
            acknowledged: false,
        });
        log.len() - 1
    };
    if index == 0 {
        // Never answered: the agent is killed while it waits on this one.
        std::future::pending::<()>().await;
    }
    log.lock().unwrap()[index].acknowledged = true;
    StatusCode::OK
}

/// The agent config, in `dir`, with its data dir next to it, so that a
/// second agent started from it reopens the same database.
fn write_config(dir: &Path, app_url: &str, hook_url: &str) -> std::path::PathBuf {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).expect("rule file");
    let config = format!(
        r#"listen:
  address: 127.0.0.1:0
data_dir: {data}
interval: 200ms
host:
  enabled: false
scrape:
  - name: app
    url: {app_url}
    interval: 250ms
    timeout: 200ms
rules:
  default_pack: false
  files: [{rules}]
notifications:
  receivers:
    - name: hook
      webhook: {{url: '{hook_url}'}}
  route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}
  delivery: {{timeout: 60s, initial_backoff: 100ms, max_backoff: 1s}}
"#,
        data = dir.join("data").display(),
        rules = rules.display(),
    );
    let path = dir.join("agent.yaml");
    std::fs::write(&path, config).expect("write config");
    path
}

fn start_agent(config: &Path) -> Agent {
    // The data dir lives in the config's dir; the one Agent keeps is unused.
    Agent::start_with_file(config, tempfile::tempdir().expect("temp dir"))
}

fn delivered_total(agent: &Agent) -> Option<f64> {
    let metrics = agent.get("/metrics").bytes().expect("metrics body");
    exposition_value(
        &metrics,
        "opsdeck_notifications_delivered_total",
        &[("receiver", "hook")],
    )
}

#[test]
fn sigkill_mid_delivery_then_restart_delivers_each_notification_once() {
    let app = FixtureServer::start();
    let app_url = app.route("/metrics", Behavior::Body("text/plain", NOT_READY.into()));
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        &app_url,
        &format!("http://{}/hook", receiver.addr),
    );

    let first_agent = start_agent(&config);
    let held = receiver.wait_for("the firing notification", 1);
    assert_eq!(held.json()["status"], "firing", "{}", held.json());
    drop(first_agent); // Child::kill: SIGKILL while the request is held open
    assert!(!receiver.requests()[0].acknowledged);

    let agent = start_agent(&config);
    let resent = receiver.wait_for("the re-sent notification", 2);
    assert_eq!(
        resent.body, held.body,
        "the outbox re-sends the very notification that was cut off"
    );
    thread::sleep(SETTLE);
    assert_eq!(
        receiver.requests().len(),
        2,
        "the restarted rule engine reports the alert again; it is not notified again"
    );

    app.route("/metrics", Behavior::Body("text/plain", READY.into()));
    let resolved = receiver.wait_for("the resolved notification", 3);
    assert_eq!(resolved.json()["status"], "resolved", "{}", resolved.json());
    thread::sleep(SETTLE);

    let requests = receiver.requests();
    let mut delivered: Vec<String> = requests
        .iter()
        .filter(|r| r.acknowledged)
        .map(Request::identity)
        .collect();
    delivered.sort();
    let mut expected = vec![held.identity(), resolved.identity()];
    expected.sort();
    assert_eq!(
        delivered, expected,
        "firing and resolved, each acknowledged exactly once: {requests:#?}"
    );
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert_eq!(
        delivered_total(&agent),
        Some(2.0),
        "the restarted agent counts what it delivered"
    );
}

/// A receiver that answers 404 loses the notification: the agent says so
/// in its snapshot (for the dashboard) and its `/metrics`, and keeps going.
#[test]
fn a_permanent_failure_shows_in_the_snapshot_and_metrics() {
    let app = FixtureServer::start();
    let app_url = app.route("/metrics", Behavior::Body("text/plain", NOT_READY.into()));
    let hook = app.route("/hook", Behavior::Status(404));
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = start_agent(&write_config(dir.path(), &app_url, &hook));
    let snapshot = agent.snapshot_where("the delivery failure reported", |s| {
        s.receivers
            .iter()
            .any(|r| r.last_error.as_ref().is_some_and(|e| e.permanent))
    });
    let receiver = &snapshot.receivers[0];
    assert_eq!(
        (receiver.name.as_str(), receiver.kind.as_str()),
        ("hook", "webhook")
    );
    assert_eq!(receiver.pending, 0, "dropped, not retried");
    let error = receiver.last_error.as_ref().expect("an error");
    assert_eq!(error.status, Some(404));
    assert!(error.notification.contains("ShardNotReady"), "{error:?}");
    let metrics = agent.get("/metrics").bytes().expect("metrics body");
    assert!(
        exposition_value(
            &metrics,
            "opsdeck_notifications_failed_total",
            &[("receiver", "hook")]
        )
        .is_some_and(|n| n >= 1.0),
        "{}",
        String::from_utf8_lossy(&metrics)
    );
}
