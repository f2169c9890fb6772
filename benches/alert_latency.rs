//! Alert latency, end to end: from the moment a condition becomes true in
//! a (simulated) application to the moment the webhook request reaches a
//! local receiver. opsdeck (an in-process agent: scrape, rule evaluation,
//! notifier) and Prometheus + Alertmanager (the Debian packages, when
//! installed) watch the same demo node side by side, both as tight as they
//! allow: 1 s scrape and evaluation intervals, `for: 0s`, `group_wait: 0s`.
//!
//! Each sample drains one more shard of the demo node (the shard's state
//! flips to `draining` while the admin request is handled) after a random
//! pause, so samples fall at random phases of the scrape and evaluation
//! clocks.
//!
//! `cargo bench --bench alert_latency [-- SAMPLES]` (default 40).

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::routing::post;
use axum::{Json, Router};
use opsdeck_demo::{DemoNode, DemoNodeConfig, DemoNodeHandle, Incidents};
use rand::Rng;
use tokio::sync::Mutex;

type Arrivals = Arc<Mutex<HashMap<(String, String), Instant>>>;

const RULES: &str = r#"groups:
  - name: latency
    interval: 1s
    rules:
      - alert: ShardDrained
        expr: app_shard_status{state=~"draining|drained"} == 1
        for: 0s
"#;

/// Records when each system's webhook first reported each shard.
async fn receive(
    State(arrivals): State<Arrivals>,
    UrlPath(system): UrlPath<String>,
    Json(body): Json<serde_json::Value>,
) {
    let at = Instant::now();
    let mut arrivals = arrivals.lock().await;
    for alert in body["alerts"].as_array().into_iter().flatten() {
        if alert["status"] == "firing" {
            if let Some(shard) = alert["labels"]["shard"].as_str() {
                arrivals
                    .entry((system.clone(), shard.to_string()))
                    .or_insert(at);
            }
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| candidate.is_file())
}

/// Kills a child process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus and Alertmanager configured as tightly as they allow.
fn start_prometheus_stack(
    dir: &Path,
    node: &DemoNodeHandle,
    receiver: &str,
) -> anyhow::Result<Option<(Running, Running)>> {
    let (Some(prometheus), Some(alertmanager)) = (
        find(&["prometheus"]),
        find(&["prometheus-alertmanager", "alertmanager"]),
    ) else {
        eprintln!(
            "alert_latency: prometheus or alertmanager not installed; measuring opsdeck only"
        );
        return Ok(None);
    };
    let am_port = free_port()?;
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{receiver}/alertmanager', send_resolved: false}}]\n"
        ),
    )?;
    let am = Running(
        Command::new(alertmanager)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let target = node.addr();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: ['{}']\nscrape_configs:\n  - job_name: demo\n    static_configs: [{{targets: ['{target}']}}]\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]\n",
            dir.join("rules.yml").display()
        ),
    )?;
    let prom = Running(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()?))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    Ok(Some((prom, am)))
}

async fn start_agent(
    dir: &Path,
    node: &DemoNodeHandle,
    receiver: &str,
) -> anyhow::Result<opsdeck_agent::AgentHandle> {
    let path = dir.join("agent.yaml");
    let text = format!(
        "listen: {{address: '127.0.0.1:0'}}\ndata_dir: '{data}'\ninterval: 1s\nhost: {{enabled: false}}\nscrape:\n  - {{name: demo, url: '{url}/metrics', interval: 1s, timeout: 900ms}}\nrules: {{default_pack: false, files: ['{rules}'], interval: 1s}}\nnotifications:\n  receivers: [{{name: hook, webhook: {{url: '{receiver}/opsdeck'}}}}]\n  route: {{receiver: hook, group_by: ['...'], group_wait: 0s}}\n",
        data = dir.join("agent-data").display(),
        url = node.url(),
        rules = dir.join("rules.yml").display(),
    );
    std::fs::write(&path, &text)?;
    let config = opsdeck_agent::config::parse(&text, &path)?;
    Ok(opsdeck_agent::start(config).await?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(system: &str, mut latencies: Vec<Duration>, samples: usize) {
    if latencies.is_empty() {
        println!("alert_latency {system}: no alert arrived");
        return;
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "alert_latency {system}: {}/{samples} alerts, condition -> webhook: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies[latencies.len() - 1]),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("rules.yml"), RULES)?;

    // Fast simulated time so that every shard is ready within seconds;
    // one shard more than samples, to take the drained shards' guilds.
    let mut node_config = DemoNodeConfig::new("bench", samples as u32 + 1, 7);
    node_config.speed = 50.0;
    node_config.incidents = Incidents::Off;
    let node = DemoNode::start(node_config).await?;

    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/{system}", post(receive))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let stack = start_prometheus_stack(dir.path(), &node, &receiver)?;
    let agent = match start_agent(dir.path(), &node, &receiver).await {
        Ok(agent) => Some(agent),
        Err(err) => {
            eprintln!("alert_latency: cannot start the opsdeck agent: {err:#}");
            None
        }
    };
    let mut systems = Vec::new();
    if agent.is_some() {
        systems.push("opsdeck");
    }
    if stack.is_some() {
        systems.push("alertmanager");
    }
    anyhow::ensure!(!systems.is_empty(), "nothing to measure");

    let client = reqwest::Client::new();
    // Every shard ready, and both pipelines past their first scrapes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shards: serde_json::Value = client
            .get(format!("{}/admin/shards", node.url()))
            .send()
            .await?
            .json()
            .await?;
        let ready = shards["shards"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["state"] == "ready"));
        if ready {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "demo shards not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut latencies: HashMap<&str, Vec<Duration>> = HashMap::new();
    for shard in 0..samples {
        let pause = rand::rng().random_range(0..1000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let became_true = Instant::now();
        let response = client
            .post(format!("{}/admin/shards/{shard}/drain", node.url()))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "drain shard {shard}: HTTP {}",
            response.status()
        );
        let deadline = became_true + Duration::from_secs(15);
        loop {
            let arrived = arrivals.lock().await.clone();
            let done = systems
                .iter()
                .all(|s| arrived.contains_key(&(s.to_string(), shard.to_string())));
            if done || Instant::now() > deadline {
                for system in &systems {
                    if let Some(at) = arrived.get(&(system.to_string(), shard.to_string())) {
                        latencies.entry(system).or_default().push(*at - became_true);
                    }
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    for system in &systems {
        report(
            system,
            latencies.remove(system).unwrap_or_default(),
            samples,
        );
    }
    if let Some(agent) = agent {
        agent.shutdown().await?;
    }
    drop(stack);
    node.shutdown().await?;
    Ok(())
}
