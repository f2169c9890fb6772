//! `GET /api/v1/snapshot` latency on loopback, with 64 shards and 4 pools:
//! an agent (in this process) scrapes a real HTTP target; a keep-alive
//! client times sequential requests. Budget: p99 <= 2 ms.
//!
//! `cargo bench -p opsdeck-agent --bench snapshot_latency` (release build).

mod support;

use std::time::{Duration, Instant};

use opsdeck_agent::config::{AgentConfig, ScrapeTargetConfig};

const REQUESTS: usize = 5_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // extra and should not spend seconds here.
    if !std::env::args().any(|a| a == "--bench") {
        println!("snapshot_latency: run with `cargo bench` to measure");
        return Ok(());
    }
    let target = support::serve(support::exposition(64, 4, 0)).await?;
    let data_dir = tempfile::tempdir()?;
    let mut config = AgentConfig::default();
    config.listen.address = "127.0.0.1:0".parse()?;
    config.data_dir = Some(data_dir.path().to_path_buf());
    config.interval = Duration::from_secs(1);
    config.scrape.push(ScrapeTargetConfig::new(
        "app",
        format!("http://{target}/metrics").parse()?,
    ));
    let agent = opsdeck_agent::start(config).await?;
    let url = format!("{}/api/v1/snapshot", agent.url());
    let client = reqwest::Client::new();

    // Wait for a snapshot with every shard and pool.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = client.get(&url).send().await?;
        if response.status() == 200 {
            let snapshot: opsdeck_agent::api::Snapshot = response.json().await?;
            if snapshot.shards.len() == 64 && snapshot.pools.len() == 4 {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err("no snapshot with 64 shards and 4 pools".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut latencies_ms = Vec::with_capacity(REQUESTS);
    let mut bytes = 0;
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let body = client.get(&url).send().await?.bytes().await?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    latencies_ms.sort_by(f64::total_cmp);
    println!(
        "snapshot latency, 64 shards + 4 pools, {bytes} bytes, {REQUESTS} sequential requests: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        support::percentile(&latencies_ms, 50.0),
        support::percentile(&latencies_ms, 99.0),
        latencies_ms.last().copied().unwrap_or(f64::NAN),
    );
    agent.shutdown().await?;
    Ok(())
}
