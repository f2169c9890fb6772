//! Shared by the agent's bench binaries: a real HTTP target on loopback
//! serving a generated exposition, and latency/percentile helpers.

#![allow(dead_code)] // Each bench binary uses a different part.

use std::fmt::Write;
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;

/// An exposition like a sharded Node.js app's: prom-client runtime series,
/// `pools` pools and `shards` shards under the opsdeck conventions, then
/// `filler` request-counter series to reach a target series count.
pub fn exposition(shards: usize, pools: usize, filler: usize) -> String {
    let mut out = String::new();
    out.push_str(
        "# TYPE nodejs_heap_size_used_bytes gauge\nnodejs_heap_size_used_bytes 48234112\n",
    );
    out.push_str(
        "# TYPE nodejs_heap_size_total_bytes gauge\nnodejs_heap_size_total_bytes 61865984\n",
    );
    out.push_str("# TYPE nodejs_eventloop_lag_seconds gauge\nnodejs_eventloop_lag_seconds 0.004\n");
    out.push_str("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n");
    out.push_str(
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 98304000\n",
    );
    for metric in [
        "size",
        "active",
        "idle",
        "waiting",
        "max",
        "acquire_timeouts_total",
    ] {
        let _ = writeln!(out, "# TYPE app_pool_{metric} gauge");
        for p in 0..pools {
            let _ = writeln!(out, "app_pool_{metric}{{pool=\"pool-{p}\"}} {}", 3 + p);
        }
    }
    out.push_str("# TYPE app_shard_status gauge\n");
    for s in 0..shards {
        for state in [
            "starting",
            "ready",
            "draining",
            "drained",
            "disconnected",
            "dead",
        ] {
            let on = u8::from(state == "ready");
            let _ = writeln!(
                out,
                "app_shard_status{{shard=\"{s}\",state=\"{state}\"}} {on}"
            );
        }
    }
    for (metric, value) in [
        ("app_shard_guilds", "1200"),
        ("app_shard_latency_seconds", "0.042"),
        ("app_shard_last_heartbeat_timestamp_seconds", "1795000000.5"),
        ("app_shard_ready_timestamp_seconds", "1794000000"),
        ("app_shard_restarts_total", "2"),
    ] {
        let _ = writeln!(out, "# TYPE {metric} gauge");
        for s in 0..shards {
            let _ = writeln!(out, "{metric}{{shard=\"{s}\"}} {value}");
        }
    }
    out.push_str("# TYPE http_requests_total counter\n");
    for i in 0..filler {
        let _ = writeln!(
            out,
            "http_requests_total{{method=\"GET\",route=\"/r/{}\",code=\"{}\"}} {}",
            i / 5,
            200 + i % 5,
            i * 7
        );
    }
    out
}

/// Counts the samples (non-comment lines) of an exposition.
pub fn series_count(exposition: &str) -> usize {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

/// Serves `body` at `/metrics` on a free loopback port.
pub async fn serve(body: String) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/metrics", get(move || std::future::ready(body.clone())));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// The `p`-th percentile (0-100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
