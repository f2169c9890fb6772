//! Notification pipeline latency: from `Notifier::ingest` of a newly
//! firing alert to the webhook request reaching a local receiver, with
//! `group_wait: 0s` (the dispatcher, the outbox commit to disk and the HTTP
//! request). Prints percentiles over many alerts, one at a time.
//!
//! `cargo bench -p opsdeck-alerts --bench notify_latency [-- N]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, Notifier};
use tokio::sync::mpsc;

async fn receive(
    State(arrivals): State<mpsc::UnboundedSender<(String, Instant)>>,
    Json(body): Json<serde_json::Value>,
) {
    let at = Instant::now();
    let id = body["alerts"][0]["labels"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let _ = arrivals.send((id, at));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; the first number is the count.
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(arrivals_tx);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: hook\n      webhook: {{url: '{url}'}}\n  route: {{receiver: hook, group_by: ['...'], group_wait: 0s}}\n"
    );
    let mut config = parse_notifications_section(&yaml)?;
    config.load_secrets(&|_| None)?;
    let notifier = Notifier::start(
        &config,
        Arc::new(redb::Database::create(dir.path().join("db"))?),
    )?;

    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let labels: BTreeMap<String, String> = [
            ("alertname", "LatencyProbe".to_string()),
            ("id", i.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let alert = Alert {
            labels,
            annotations: BTreeMap::new(),
            status: AlertStatus::Firing,
            starts_at_ms: chrono::Utc::now().timestamp_millis(),
            ends_at_ms: None,
            value: Some(1.0),
            generator_url: None,
        };
        let sent = Instant::now();
        notifier.ingest(vec![alert]);
        let (id, at) = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await?
            .ok_or("receiver stopped")?;
        if id != i.to_string() {
            return Err(format!("expected alert {i}, got {id}").into());
        }
        latencies.push(at - sent);
    }
    latencies.sort();
    println!(
        "notify_latency: {count} alerts, ingest -> webhook request: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
    notifier.shutdown().await;
    Ok(())
}
