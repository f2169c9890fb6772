//! The default rule pack fires in production, not only in its promtool
//! tests: the real agent binary scrapes a sped-up demo node, incidents are
//! started through the demo's admin API, and the matching default alerts
//! reach `firing` at `/api/v1/alerts`. The agent divides every `for` by
//! the demo's speed (`rules.hold_speedup`), as `opsdeck demo` does.
//!
//! `ShardHeartbeatSilent` is not checked: it compares the demo's real
//! wall-clock heartbeat with `time()` and needs 180 real seconds of
//! silence; the silent shard is caught by `ShardNotReady` first.

mod agent_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use agent_support::Agent;
use opsdeck_demo::{DemoNode, DemoNodeConfig, Incidents};
use serde_json::{json, Value};

const SPEED: f64 = 100.0;
const SHARDS: u32 = 6;
const SILENT_SHARD: u32 = 1;
const LOOPING_SHARD: u32 = 2;
const SLOW_SHARD: u32 = 3;
/// Every alert below must fire within this long of its incident's start.
const FIRE_WITHIN: Duration = Duration::from_secs(40);

/// An alert the test waits for: its name and the labels that pick it.
struct Expected {
    alert: &'static str,
    labels: Vec<(&'static str, String)>,
}

impl Expected {
    fn new(alert: &'static str, labels: &[(&'static str, String)]) -> Self {
        Expected {
            alert,
            labels: labels.to_vec(),
        }
    }

    fn matches(&self, alert: &Value) -> bool {
        alert["labels"]["alertname"] == self.alert
            && self
                .labels
                .iter()
                .all(|(name, value)| alert["labels"][*name] == value.as_str())
    }

    fn describe(&self) -> String {
        format!("{}{:?}", self.alert, self.labels)
    }
}

fn start_incident(client: &reqwest::blocking::Client, node: &str, kind: &str, body: Value) {
    let response = client
        .post(format!("{node}/admin/incidents/{kind}"))
        .json(&body)
        .send()
        .unwrap_or_else(|err| panic!("POST incident {kind}: {err}"));
    assert_eq!(response.status().as_u16(), 202, "incident {kind} accepted");
}

/// Every pending and firing alert, as `/api/v1/alerts` lists them.
fn alert_states(agent: &Agent) -> Vec<Value> {
    let body: Value = agent.get("/api/v1/alerts").json().expect("alerts JSON");
    body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn default_rules_fire_on_demo_incidents() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut config = DemoNodeConfig::new("node-1", SHARDS, 7);
    config.speed = SPEED;
    config.incidents = Incidents::Off;
    let node = runtime
        .block_on(DemoNode::start(config))
        .expect("demo node starts");

    let agent = Agent::start(&format!(
        "interval: 250ms\nhost:\n  enabled: false\nrules:\n  interval: 250ms\n  hold_speedup: {SPEED}\nscrape:\n  - name: demo\n    url: {}/metrics\n    interval: 250ms\n    timeout: 250ms\n",
        node.url()
    ));
    agent.snapshot_where("demo shards and pool in the node view", |s| {
        s.shards.len() == SHARDS as usize && !s.pools.is_empty()
    });

    // A healthy node raises none of them, even once every hold has passed.
    std::thread::sleep(Duration::from_secs(3));
    let healthy_firing: Vec<String> = alert_states(&agent)
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| a["labels"].to_string())
        .collect();
    assert!(
        healthy_firing.is_empty(),
        "a healthy node fires: {healthy_firing:?}"
    );

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let url = node.url().to_string();
    start_incident(
        &client,
        &url,
        "shard-silent",
        json!({ "shard": SILENT_SHARD }),
    );
    start_incident(
        &client,
        &url,
        "restart-loop",
        json!({ "shard": LOOPING_SHARD }),
    );
    start_incident(
        &client,
        &url,
        "latency-spike",
        json!({ "shard": SLOW_SHARD }),
    );
    start_incident(&client, &url, "memory-leak", json!({}));
    start_incident(&client, &url, "pool-exhaustion", json!({}));
    let started = Instant::now();

    let shard = |id: u32| ("shard", id.to_string());
    let mut waiting = vec![
        Expected::new(
            "ShardNotReady",
            &[shard(SILENT_SHARD), ("state", "disconnected".into())],
        ),
        Expected::new("ShardRestartLoop", &[shard(LOOPING_SHARD)]),
        Expected::new("ShardLatencyHigh", &[shard(SLOW_SHARD)]),
        Expected::new("HeapUsageHigh", &[("runtime", "nodejs".into())]),
        Expected::new("HeapGrowthToLimit", &[("runtime", "nodejs".into())]),
        Expected::new("PoolClientsWaiting", &[]),
        Expected::new("PoolAcquireTimeouts", &[]),
    ];
    let mut fired_after: BTreeMap<String, Duration> = BTreeMap::new();
    while !waiting.is_empty() && started.elapsed() < FIRE_WITHIN {
        let alerts = alert_states(&agent);
        waiting.retain(|expected| {
            let firing = alerts
                .iter()
                .any(|a| a["state"] == "firing" && expected.matches(a));
            if firing {
                fired_after.insert(expected.describe(), started.elapsed());
            }
            !firing
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    let last_seen: Vec<String> = alert_states(&agent)
        .iter()
        .map(|a| format!("{} {}", a["state"], a["labels"]))
        .collect();
    assert!(
        waiting.is_empty(),
        "not firing after {FIRE_WITHIN:?}: {:?}\nfired: {fired_after:?}\nalerts: {last_seen:#?}\nagent stderr:\n{}",
        waiting.iter().map(Expected::describe).collect::<Vec<_>>(),
        agent.stderr()
    );
    eprintln!("fired after: {fired_after:#?}");
    drop(agent);
    runtime
        .block_on(node.shutdown())
        .expect("demo node shuts down");
}
