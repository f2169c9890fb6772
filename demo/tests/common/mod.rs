//! Helpers shared by the demo's integration tests: start a real node on
//! loopback and talk HTTP to it.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::future::Future;
use std::time::{Duration, Instant};

use opsdeck_demo::{DemoNode, DemoNodeConfig, DemoNodeHandle, Incidents};
use serde_json::Value;

/// Fast enough that a 5 s identify slot takes 50 ms.
pub const SPEED: f64 = 100.0;

/// A node without scripted incidents at [`SPEED`].
pub async fn start_node(shards: u32, seed: u64) -> DemoNodeHandle {
    start_node_at(shards, seed, SPEED).await
}

/// A node without scripted incidents, at a chosen speed: slower when a test
/// must observe a short-lived state over HTTP.
pub async fn start_node_at(shards: u32, seed: u64, speed: f64) -> DemoNodeHandle {
    start(DemoNodeConfig {
        name: "node-test".into(),
        shards,
        seed,
        speed,
        incidents: Incidents::Off,
    })
    .await
}

pub async fn start(config: DemoNodeConfig) -> DemoNodeHandle {
    DemoNode::start(config).await.expect("demo node starts")
}

pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(node: &DemoNodeHandle) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: node.url().to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET reaches the node");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("POST reaches the node");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics reaches the node")
            .text()
            .await
            .expect("text body")
    }

    /// The samples of one scrape, parsed by prometheus-parse.
    pub async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = self.metrics_text().await;
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .expect("exposition parses")
    }

    pub async fn shard(&self, id: u32) -> Value {
        let (status, body) = self.get(&format!("/admin/shards/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// The value of the sample named `name` whose labels include `labels`.
pub fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape.samples.iter().find(|sample| {
        sample.metric == name
            && labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(*value))
    });
    match found.map(|sample| &sample.value) {
        Some(prometheus_parse::Value::Counter(v))
        | Some(prometheus_parse::Value::Gauge(v))
        | Some(prometheus_parse::Value::Untyped(v)) => *v,
        other => panic!("no sample {name}{labels:?}: {other:?}"),
    }
}

/// The sum of the samples named `name` whose labels include `labels`.
pub fn sum(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name} is not a number: {other:?}"),
        })
        .sum()
}

/// Polls `check` until it returns `Some`, for at most `timeout` of real time.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sleeps for `sim_seconds` of simulated time at [`SPEED`].
pub async fn sim_sleep(sim_seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(sim_seconds / SPEED)).await;
}
