//! `opsdeck demo --headless` as a user runs it: the fleet comes up within
//! 5 s, every agent sees its node's shards and pools, a scripted "shard goes
//! silent" incident fires the default `ShardNotReady` alert on the sped-up
//! clock, and SIGTERM stops everything with exit 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const NODES: usize = 2;
const SHARDS: usize = 4;

struct Demo {
    child: Child,
    agents: Vec<(String, String)>,
}

impl Demo {
    /// Starts the demo and waits at most `deadline` for its `agent NAME URL`
    /// lines.
    fn start(deadline: Duration) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
            .args(["demo", "--headless", "--seed", "7", "--speed", "60"])
            .args([
                "--nodes",
                &NODES.to_string(),
                "--shards",
                &SHARDS.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("opsdeck demo starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut agents = Vec::new();
        while agents.len() < NODES {
            let left = deadline.saturating_sub(started.elapsed());
            let line = lines_rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("only {} agent lines within {deadline:?}", agents.len())
            });
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "`agent NAME URL`, got {line:?}");
            assert_eq!(fields[0], "agent", "{line:?}");
            agents.push((fields[1].to_string(), fields[2].to_string()));
        }
        Demo { child, agents }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for demo") {
                return status;
            }
            assert!(Instant::now() < deadline, "demo did not exit after SIGTERM");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get_json(url: &str) -> Option<Value> {
    let response = reqwest::blocking::get(url).ok()?;
    response.error_for_status().ok()?.json().ok()
}

/// Polls `url` until `check` accepts its JSON, or panics naming `what`.
fn poll_json(url: &str, what: &str, timeout: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(json) = get_json(url) {
            if check(&json) {
                return json;
            }
            last = Some(json);
        }
        thread::sleep(Duration::from_millis(250));
    }
    panic!("{what} not seen within {timeout:?} at {url}; last answer: {last:?}");
}

fn len_of(snapshot: &Value, key: &str) -> usize {
    snapshot[key].as_array().map_or(0, Vec::len)
}

#[test]
fn headless_demo_serves_shards_and_pools_and_fires_the_silent_shard_alert() {
    let demo = Demo::start(Duration::from_secs(5));
    let names: Vec<&str> = demo.agents.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["node-1", "node-2"]);

    for (name, url) in &demo.agents {
        let snapshot = poll_json(
            &format!("{url}/api/v1/snapshot"),
            &format!("{name}'s shards and pools"),
            Duration::from_secs(20),
            |s| len_of(s, "shards") == SHARDS && len_of(s, "pools") > 0,
        );
        assert_eq!(snapshot["node"]["name"], name.as_str());
    }

    // The agent's scrape target is the node's app; its admin API sits beside
    // /metrics.
    let (_, agent) = &demo.agents[0];
    let snapshot = get_json(&format!("{agent}/api/v1/snapshot")).expect("snapshot");
    let metrics_url = snapshot["targets"][0]["url"].as_str().expect("target url");
    let app = metrics_url.trim_end_matches("/metrics");
    let incident = reqwest::blocking::Client::new()
        .post(format!("{app}/admin/incidents/shard-silent"))
        .json(&serde_json::json!({ "shard": 2 }))
        .send()
        .expect("incident request");
    assert_eq!(incident.status().as_u16(), 202, "incident accepted");

    poll_json(
        &format!("{agent}/api/v1/alerts"),
        "ShardNotReady firing for shard 2",
        Duration::from_secs(60),
        |body| {
            body["data"]["alerts"].as_array().is_some_and(|alerts| {
                alerts.iter().any(|a| {
                    a["labels"]["alertname"] == "ShardNotReady"
                        && a["labels"]["shard"] == "2"
                        && a["state"] == "firing"
                })
            })
        },
    );

    let status = demo.terminate();
    assert!(status.success(), "demo exits 0 on SIGTERM, got {status:?}");
}
