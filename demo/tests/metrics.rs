//! `/metrics` of a real node: the names and encodings that profiles, alert
//! rules and runbooks key off, counters that only go up, and promtool's verdict.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{sample, sim_sleep, start_node, start_node_at, Client};

const DOCUMENTED_NAMES: [&str; 37] = [
    "nodejs_heap_size_used_bytes",
    "nodejs_heap_size_total_bytes",
    "nodejs_external_memory_bytes",
    "nodejs_heap_space_size_total_bytes",
    "nodejs_heap_space_size_used_bytes",
    "nodejs_heap_space_size_available_bytes",
    "nodejs_eventloop_lag_seconds",
    "nodejs_eventloop_lag_min_seconds",
    "nodejs_eventloop_lag_max_seconds",
    "nodejs_eventloop_lag_mean_seconds",
    "nodejs_eventloop_lag_stddev_seconds",
    "nodejs_eventloop_lag_p50_seconds",
    "nodejs_eventloop_lag_p90_seconds",
    "nodejs_eventloop_lag_p99_seconds",
    "nodejs_gc_duration_seconds",
    "nodejs_version_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "http_requests_total",
    "http_request_duration_seconds",
    "app_pool_size",
    "app_pool_max",
    "app_pool_active",
    "app_pool_idle",
    "app_pool_waiting",
    "app_pool_acquire_timeouts_total",
    "app_shard_status",
    "app_shard_status_code",
    "app_shard_guilds",
    "app_shard_latency_seconds",
    "app_shard_last_heartbeat_timestamp_seconds",
    "app_shard_ready_timestamp_seconds",
    "app_shard_restarts_total",
    "app_identify_budget_remaining",
    "app_identify_queue_length",
];

#[tokio::test]
async fn every_documented_series_is_exported() {
    let node = start_node(4, 1).await;
    let client = Client::new(&node);
    sim_sleep(30.0).await;
    let scrape = client.scrape().await;
    for name in DOCUMENTED_NAMES {
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "{name} is missing"
        );
    }
    for shard in ["0", "1", "2", "3"] {
        assert_eq!(
            sample(
                &scrape,
                "app_shard_status",
                &[("shard", shard), ("state", "ready")]
            ),
            1.0
        );
        assert_eq!(
            sample(&scrape, "app_shard_status_code", &[("shard", shard)]),
            5.0
        );
        assert!(sample(&scrape, "app_shard_guilds", &[("shard", shard)]) >= 900.0);
    }
    assert_eq!(sample(&scrape, "app_pool_max", &[("pool", "main")]), 20.0);
    let used = sample(&scrape, "nodejs_heap_size_used_bytes", &[]);
    let total = sample(&scrape, "nodejs_heap_size_total_bytes", &[]);
    assert!(0.0 < used && used <= total, "used {used} total {total}");
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn shard_status_is_one_hot_over_the_six_states() {
    // Slow enough that the restarted shard is still down when scraped.
    let node = start_node_at(3, 2, 5.0).await;
    let client = Client::new(&node);
    let (status, _) = client.post("/admin/shards/1/restart", None).await;
    assert_eq!(status, 202);
    let scrape = client.scrape().await;
    let mut per_shard: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for s in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "app_shard_status")
    {
        let value = match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("app_shard_status is not a gauge: {other:?}"),
        };
        per_shard
            .entry(s.labels.get("shard").expect("shard label").to_owned())
            .or_default()
            .push((
                s.labels.get("state").expect("state label").to_owned(),
                value,
            ));
    }
    assert_eq!(per_shard.len(), 3);
    for (shard, states) in &per_shard {
        assert_eq!(states.len(), 6, "shard {shard}: {states:?}");
        let hot: Vec<_> = states.iter().filter(|(_, v)| *v == 1.0).collect();
        assert_eq!(hot.len(), 1, "shard {shard}: {states:?}");
        assert!(states.iter().all(|(_, v)| *v == 0.0 || *v == 1.0));
    }
    let restarted_state = &per_shard["1"]
        .iter()
        .find(|(_, v)| *v == 1.0)
        .expect("hot")
        .0;
    assert!(
        ["disconnected", "starting"].contains(&restarted_state.as_str()),
        "{restarted_state}"
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn counters_only_go_up() {
    let node = start_node(2, 3).await;
    let client = Client::new(&node);
    // Counters, and the cumulative bucket counts of histograms.
    let counters = |scrape: &prometheus_parse::Scrape| -> BTreeMap<String, f64> {
        let mut values = BTreeMap::new();
        for s in &scrape.samples {
            let labels: BTreeMap<_, _> = s.labels.iter().collect();
            let series = format!("{}{labels:?}", s.metric);
            match &s.value {
                prometheus_parse::Value::Counter(v) => {
                    values.insert(series, *v);
                }
                prometheus_parse::Value::Histogram(buckets) => {
                    for bucket in buckets {
                        values.insert(format!("{series}le={}", bucket.less_than), bucket.count);
                    }
                }
                _ => {}
            }
        }
        values
    };
    let mut previous = counters(&client.scrape().await);
    assert!(previous.len() > 20);
    for _ in 0..3 {
        sim_sleep(40.0).await;
        let current = counters(&client.scrape().await);
        for (series, value) in &previous {
            assert!(
                current[series] >= *value,
                "{series} went from {value} to {}",
                current[series]
            );
        }
        previous = current;
    }
    let requests: f64 = previous
        .iter()
        .filter(|(series, _)| series.starts_with("http_requests_total"))
        .map(|(_, v)| v)
        .sum();
    assert!(
        requests > 1000.0,
        "{requests} requests in 120 simulated seconds"
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let node = start_node(1, 4).await;
    let response = reqwest::get(format!("{}/metrics", node.url()))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("ascii");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    node.shutdown().await.expect("node stops");
}

/// `promtool check metrics` lints the exposition the way Prometheus users
/// do. The test suite's setup installs promtool; without it this test says
/// so and checks nothing.
#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("promtool is not installed: skipping `promtool check metrics`");
        return;
    }
    let node = start_node(4, 5).await;
    let client = Client::new(&node);
    client.post("/admin/incidents/pool-exhaustion", None).await;
    sim_sleep(20.0).await;
    let text = client.metrics_text().await;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("exposition written to promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    node.shutdown().await.expect("node stops");
}
