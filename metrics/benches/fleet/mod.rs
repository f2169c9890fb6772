//! The data of the PromQL benchmarks: an imagined 50-node sharded bot
//! fleet, 10,000 series with 1 h of samples scraped every 15 s, and the 50
//! alert expressions a rule pack for it would have. Shared by
//! `metrics/benches/promql.rs` (the expressions as queries) and
//! `alerts/benches/rule_group.rs` (the same expressions as alerting rules).

use opsdeck_metrics::{Labels, SeriesStore, StoreConfig};

pub const SCRAPE_MS: i64 = 15_000;
pub const HOUR_MS: i64 = 3_600_000;
const INSTANCES: usize = 50;
/// The evaluation time: the end of the hour of history.
pub const NOW: i64 = 1_700_000_000_000;

/// The alert expressions of the batch, as a rule pack for a sharded fleet
/// would have them.
pub const ALERTS: [&str; 50] = [
    "up == 0",
    "absent(up{job=\"bot\"})",
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05",
    "sum by (instance) (rate(http_requests_total{code=\"500\"}[5m])) > 1",
    "rate(http_requests_total{handler=\"/api/login\"}[5m]) > 100",
    "sum(rate(http_requests_total[1m])) < 10",
    "increase(http_requests_total{code=\"500\"}[10m]) > 50",
    "irate(http_requests_total{handler=\"/api/send\"}[2m]) > 500",
    "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5",
    "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket{handler=\"/api/send\"}[5m]))) > 0.25",
    "histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{instance=\"node-7\"}[5m])) > 0.1",
    "sum by (handler) (rate(http_request_duration_seconds_bucket{le=\"0.5\"}[5m])) / sum by (handler) (rate(http_request_duration_seconds_bucket{le=\"+Inf\"}[5m])) < 0.95",
    "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0",
    "predict_linear(node_filesystem_avail_bytes{mountpoint=\"/\"}[30m], 3600) < 1e9",
    "node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.1",
    "(node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.2) and predict_linear(node_filesystem_avail_bytes[6h], 24 * 3600) < 0",
    "deriv(node_filesystem_avail_bytes{mountpoint=\"/data\"}[15m]) < -1e6",
    "rate(process_cpu_seconds_total[5m]) > 0.9",
    "avg by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) > 0.8",
    "1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])) > 0.9",
    "process_resident_memory_bytes > 2e9",
    "nodejs_heap_size_used_bytes / nodejs_heap_size_total_bytes > 0.9",
    "max_over_time(nodejs_eventloop_lag_seconds[5m]) > 0.2",
    "avg_over_time(nodejs_eventloop_lag_seconds[10m]) > 0.1",
    "quantile_over_time(0.95, nodejs_eventloop_lag_seconds[10m]) > 0.15",
    "go_goroutines > 10000",
    "delta(go_goroutines[30m]) > 2000",
    "changes(process_start_time_seconds[1h]) > 2",
    "resets(http_requests_total{code=\"200\"}[1h]) > 0",
    "time() - process_start_time_seconds < 300",
    "avg_over_time(discord_shard_latency_seconds[5m]) > 0.5",
    "max by (instance) (discord_shard_latency_seconds) > 1",
    "max_over_time(discord_shard_status[10m]) != 0",
    "count by (instance) (discord_shard_status != 0) > 2",
    "min_over_time(discord_shard_guilds[15m]) < 100",
    "stddev_over_time(discord_shard_latency_seconds[10m]) > 0.2",
    "topk(5, avg_over_time(discord_shard_latency_seconds[5m]))",
    "sum by (instance) (discord_shard_guilds) / on(instance) group_left count by (instance) (discord_shard_guilds) > 2500",
    "last_over_time(discord_shard_status[5m]) == 5",
    "present_over_time(discord_shard_status{shard=\"0\"}[5m]) unless discord_shard_status{shard=\"0\"}",
    "hikaricp_connections_active / hikaricp_connections_max > 0.9",
    "hikaricp_connections_pending > 5",
    "sum by (pool) (hikaricp_connections_idle) == 0",
    "max_over_time(hikaricp_connections_pending[5m]) > 10 and on(instance, pool) hikaricp_connections_active >= hikaricp_connections_max",
    "queue_depth > 1000",
    "sum_over_time(queue_depth[5m]) / count_over_time(queue_depth[5m]) > 500",
    "stdvar_over_time(queue_depth[15m]) > 1e4",
    "absent_over_time(queue_depth{queue=\"q-3\"}[5m])",
    "count(up == 1) / count(up) < 0.9",
    "clamp_min(sum by (instance) (rate(http_requests_total[5m])), 1) > 200",
];

/// One series with its labels and how it moves over time.
struct SeriesSpec {
    labels: Labels,
    kind: Kind,
}

enum Kind {
    /// A counter growing by `rate` per second, with a little jitter.
    Counter { rate: f64 },
    /// A gauge around `base` with a slow wave.
    Gauge { base: f64, amplitude: f64 },
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// 10,000 series of an imagined 50-node sharded bot fleet.
fn fleet() -> Vec<SeriesSpec> {
    let mut specs = Vec::new();
    let counter = |rate: f64| Kind::Counter { rate };
    let gauge = |base: f64, amplitude: f64| Kind::Gauge { base, amplitude };
    let handlers = [
        "/api/send",
        "/api/login",
        "/api/guilds",
        "/api/users",
        "/health",
    ];
    let buckets = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    for i in 0..INSTANCES {
        let instance = format!("node-{i}");
        let inst = instance.as_str();
        let f = i as f64;
        for handler in handlers {
            for (code, share) in [("200", 0.9), ("400", 0.05), ("404", 0.03), ("500", 0.02)] {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", "http_requests_total"),
                        ("job", "bot"),
                        ("instance", inst),
                        ("handler", handler),
                        ("code", code),
                    ]),
                    kind: counter(20.0 * share + f * 0.1),
                });
            }
            for (b, le) in buckets.iter().enumerate() {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("job", "bot"),
                        ("instance", inst),
                        ("handler", handler),
                        ("le", le),
                    ]),
                    kind: counter(20.0 * (b + 1) as f64 / buckets.len() as f64),
                });
            }
        }
        let per_instance: [(&str, Kind); 10] = [
            ("up", gauge(1.0, 0.0)),
            ("process_cpu_seconds_total", counter(0.3 + f * 0.01)),
            ("process_resident_memory_bytes", gauge(5e8 + f * 1e7, 5e7)),
            ("process_start_time_seconds", gauge(1.69e9, 0.0)),
            ("go_goroutines", gauge(500.0 + f, 50.0)),
            ("nodejs_heap_size_used_bytes", gauge(2e8, 3e7)),
            ("nodejs_heap_size_total_bytes", gauge(3e8, 0.0)),
            ("nodejs_eventloop_lag_seconds", gauge(0.02, 0.01)),
            ("nodejs_external_memory_bytes", gauge(1e7, 1e6)),
            ("process_open_fds", gauge(200.0, 20.0)),
        ];
        for (name, kind) in per_instance {
            specs.push(SeriesSpec {
                labels: labels(&[("__name__", name), ("job", "bot"), ("instance", inst)]),
                kind,
            });
        }
        for m in 0..10 {
            let mountpoint = if m == 0 {
                "/".to_string()
            } else if m == 1 {
                "/data".to_string()
            } else {
                format!("/mnt/{m}")
            };
            for (name, kind) in [
                ("node_filesystem_avail_bytes", gauge(4e10 - f * 1e8, 1e9)),
                ("node_filesystem_size_bytes", gauge(1e11, 0.0)),
            ] {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", name),
                        ("job", "node"),
                        ("instance", inst),
                        ("mountpoint", &mountpoint),
                    ]),
                    kind,
                });
            }
        }
        for cpu in 0..4 {
            for mode in ["idle", "user"] {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", "node_cpu_seconds_total"),
                        ("job", "node"),
                        ("instance", inst),
                        ("cpu", &cpu.to_string()),
                        ("mode", mode),
                    ]),
                    kind: counter(if mode == "idle" { 0.7 } else { 0.3 }),
                });
            }
        }
        for shard in 0..20 {
            let shard = (i * 20 + shard).to_string();
            for (name, kind) in [
                ("discord_shard_latency_seconds", gauge(0.08, 0.03)),
                ("discord_shard_status", gauge(0.0, 0.0)),
                ("discord_shard_guilds", gauge(2500.0, 10.0)),
            ] {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", name),
                        ("job", "bot"),
                        ("instance", inst),
                        ("shard", &shard),
                    ]),
                    kind,
                });
            }
        }
        for pool in ["main", "replica", "analytics", "sessions", "audit"] {
            for (name, kind) in [
                ("hikaricp_connections_active", gauge(10.0, 5.0)),
                ("hikaricp_connections_idle", gauge(10.0, 5.0)),
                ("hikaricp_connections_pending", gauge(1.0, 1.0)),
                ("hikaricp_connections_max", gauge(20.0, 0.0)),
            ] {
                specs.push(SeriesSpec {
                    labels: labels(&[
                        ("__name__", name),
                        ("job", "bot"),
                        ("instance", inst),
                        ("pool", pool),
                    ]),
                    kind,
                });
            }
        }
        for q in 0..2 {
            specs.push(SeriesSpec {
                labels: labels(&[
                    ("__name__", "queue_depth"),
                    ("job", "bot"),
                    ("instance", inst),
                    ("queue", &format!("q-{q}")),
                ]),
                kind: gauge(100.0, 50.0),
            });
        }
    }
    specs
}

/// The fleet with 1 h of 15 s scrapes ending at `NOW`.
pub fn store() -> SeriesStore {
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        max_bytes: None,
    });
    let specs = fleet();
    let mut values: Vec<f64> = vec![0.0; specs.len()];
    let mut t = NOW - HOUR_MS;
    let mut scrape = 0u64;
    while t <= NOW {
        for (i, spec) in specs.iter().enumerate() {
            // A cheap deterministic jitter per series and scrape.
            let jitter = ((i as u64 * 7919 + scrape * 104_729) % 1000) as f64 / 1000.0;
            let v = match spec.kind {
                Kind::Counter { rate } => {
                    values[i] += rate * 15.0 * (0.5 + jitter);
                    values[i].round()
                }
                Kind::Gauge { base, amplitude } => {
                    base + amplitude * ((scrape as f64 / 20.0).sin() * 0.8 + (jitter - 0.5) * 0.4)
                }
            };
            store.append(&spec.labels, t, v).expect("append");
        }
        t += SCRAPE_MS;
        scrape += 1;
    }
    store
}
