//! `GET /metrics`: the agent's own health and the normalized node view as
//! `opsdeck_*` series, in the Prometheus text format (0.0.4). Every family
//! has HELP and TYPE, counters end in `_total`, units are base units, so
//! `promtool check metrics` passes.

use std::fmt::Write;

use opsdeck_metrics::store::StoreStats;

use crate::api::{ShardState, Snapshot};
use crate::state::SourceHealth;

pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const SHARD_STATES: [(ShardState, &str); 7] = [
    (ShardState::Starting, "starting"),
    (ShardState::Ready, "ready"),
    (ShardState::Draining, "draining"),
    (ShardState::Drained, "drained"),
    (ShardState::Disconnected, "disconnected"),
    (ShardState::Dead, "dead"),
    (ShardState::Unknown, "unknown"),
];

/// Writes families one at a time: HELP and TYPE, then its samples.
struct Writer {
    out: String,
}

impl Writer {
    fn family<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, f64)>,
    ) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.out.push_str(name);
            if !labels.is_empty() {
                self.out.push('{');
                for (i, (label, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{label}=\"{}\"", escape(v));
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {}", format_value(value));
        }
    }

    fn gauge(&mut self, name: &str, help: &str, value: Option<f64>) {
        self.family(name, "gauge", help, value.map(|v| (Vec::new(), v)));
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

pub(crate) struct AgentFacts<'a> {
    pub version: &'a str,
    pub started_at_ms: i64,
    pub store: StoreStats,
    pub sources: Vec<SourceHealth>,
    pub snapshot: Option<&'a Snapshot>,
}

pub(crate) fn render(facts: &AgentFacts<'_>) -> String {
    let mut w = Writer { out: String::new() };
    w.family(
        "opsdeck_agent_build_info",
        "gauge",
        "Agent version, always 1.",
        [(vec![("version", facts.version)], 1.0)],
    );
    w.gauge(
        "opsdeck_agent_start_time_seconds",
        "When the agent started, since unix epoch.",
        Some(facts.started_at_ms as f64 / 1000.0),
    );
    w.gauge(
        "opsdeck_agent_store_series",
        "Series held in the agent's store.",
        Some(facts.store.series as f64),
    );
    w.gauge(
        "opsdeck_agent_store_bytes",
        "Memory held by the agent's store.",
        Some(facts.store.bytes_used as f64),
    );
    w.gauge(
        "opsdeck_agent_store_disk_bytes",
        "Bytes of the store's chunk files in the data directory.",
        Some(facts.store.disk_bytes as f64),
    );
    w.family(
        "opsdeck_agent_store_disk_errors_total",
        "counter",
        "Chunk file writes and reads that failed; unwritten chunks stay in memory.",
        [(vec![], facts.store.disk_errors as f64)],
    );
    render_sources(&mut w, &facts.sources);
    if let Some(snapshot) = facts.snapshot {
        render_snapshot(&mut w, snapshot);
    }
    w.out
}

fn render_sources(w: &mut Writer, sources: &[SourceHealth]) {
    let per_source = |value: fn(&SourceHealth) -> Option<f64>| {
        sources
            .iter()
            .filter_map(move |s| value(s).map(|v| (vec![("source", s.status.name.as_str())], v)))
            .collect::<Vec<_>>()
    };
    w.family(
        "opsdeck_source_up",
        "gauge",
        "1 if the last collection from the source succeeded.",
        per_source(|s| Some(if s.status.up { 1.0 } else { 0.0 })),
    );
    w.family(
        "opsdeck_source_collections_total",
        "counter",
        "Collections attempted from the source.",
        per_source(|s| Some(s.scrapes_total as f64)),
    );
    w.family(
        "opsdeck_source_collection_failures_total",
        "counter",
        "Collections from the source that failed.",
        per_source(|s| Some(s.failures_total as f64)),
    );
    w.family(
        "opsdeck_source_collection_duration_seconds",
        "gauge",
        "Duration of the last collection from the source.",
        per_source(|s| s.status.last_duration_seconds),
    );
}

fn render_snapshot(w: &mut Writer, s: &Snapshot) {
    if let Some(host) = &s.host {
        w.gauge(
            "opsdeck_host_cpu_usage_ratio",
            "CPU busy share of the host (or cgroup limit), 0-1.",
            Some(host.cpu_percent / 100.0),
        );
        w.gauge(
            "opsdeck_host_memory_total_bytes",
            "Memory of the host or the cgroup limit.",
            Some(host.memory_total_bytes as f64),
        );
        w.gauge(
            "opsdeck_host_memory_used_bytes",
            "Memory in use.",
            Some(host.memory_used_bytes as f64),
        );
        w.gauge(
            "opsdeck_host_memory_available_bytes",
            "Memory available for new allocations.",
            Some(host.memory_available_bytes as f64),
        );
        w.family(
            "opsdeck_host_load",
            "gauge",
            "Load average by window.",
            [
                ("1m", host.load[0]),
                ("5m", host.load[1]),
                ("15m", host.load[2]),
            ]
            .into_iter()
            .map(|(window, v)| (vec![("window", window)], v)),
        );
    }
    if let Some(p) = &s.process {
        let gauges: [(&str, &str, Option<f64>); 8] = [
            (
                "opsdeck_process_cpu_usage_cores",
                "CPU the application uses, in cores.",
                p.cpu_percent.map(|v| v / 100.0),
            ),
            (
                "opsdeck_process_resident_memory_bytes",
                "Resident memory of the application.",
                p.rss_bytes.map(|v| v as f64),
            ),
            (
                "opsdeck_process_open_fds",
                "Open file descriptors of the application.",
                p.open_fds.map(|v| v as f64),
            ),
            (
                "opsdeck_process_heap_used_bytes",
                "Runtime heap in use.",
                p.heap_used_bytes,
            ),
            (
                "opsdeck_process_heap_total_bytes",
                "Runtime heap reserved.",
                p.heap_total_bytes,
            ),
            (
                "opsdeck_process_heap_limit_bytes",
                "Runtime heap limit.",
                p.heap_limit_bytes,
            ),
            (
                "opsdeck_process_gc_time_ratio",
                "Share of time spent in garbage collection over the last minute.",
                p.gc_seconds_per_second,
            ),
            (
                "opsdeck_process_event_loop_lag_seconds",
                "Event loop lag.",
                p.event_loop_lag_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            w.gauge(name, help, value);
        }
        w.family(
            "opsdeck_process_restarts_seen_total",
            "counter",
            "Application restarts the agent has seen.",
            [(Vec::new(), p.restarts_seen as f64)],
        );
    }
    render_pools(w, s);
    render_shards(w, s);
}

fn render_pools(w: &mut Writer, s: &Snapshot) {
    type Field = fn(&crate::api::PoolStats) -> Option<f64>;
    let fields: [(&str, &str, &str, Field); 7] = [
        ("opsdeck_pool_size", "gauge", "Open connections.", |p| {
            p.size
        }),
        ("opsdeck_pool_active", "gauge", "Connections in use.", |p| {
            p.active
        }),
        ("opsdeck_pool_idle", "gauge", "Idle connections.", |p| {
            p.idle
        }),
        (
            "opsdeck_pool_waiting",
            "gauge",
            "Clients waiting for a connection.",
            |p| p.waiting,
        ),
        (
            "opsdeck_pool_max",
            "gauge",
            "Most connections the pool may open.",
            |p| p.max,
        ),
        (
            "opsdeck_pool_utilization_ratio",
            "gauge",
            "Active over max, 0-1.",
            |p| p.utilization,
        ),
        (
            "opsdeck_pool_acquire_timeouts_total",
            "counter",
            "Acquires that timed out.",
            |p| p.acquire_timeouts_total,
        ),
    ];
    for (name, kind, help, value) in fields {
        w.family(
            name,
            kind,
            help,
            s.pools.iter().filter_map(|p| {
                value(p).map(|v| {
                    (
                        vec![("pool", p.name.as_str()), ("kind", p.kind.as_str())],
                        v,
                    )
                })
            }),
        );
    }
}

fn render_shards(w: &mut Writer, s: &Snapshot) {
    w.family(
        "opsdeck_shard_state",
        "gauge",
        "Shard state, one-hot: 1 for the current state.",
        s.shards.iter().flat_map(|shard| {
            SHARD_STATES.iter().map(move |(state, name)| {
                (
                    vec![("shard", shard.id.as_str()), ("state", *name)],
                    if shard.state == *state { 1.0 } else { 0.0 },
                )
            })
        }),
    );
    type Field = fn(&crate::api::ShardStats) -> Option<f64>;
    let fields: [(&str, &str, &str, Field); 5] = [
        (
            "opsdeck_shard_load",
            "gauge",
            "Load the shard carries (e.g. guilds).",
            |s| s.load,
        ),
        (
            "opsdeck_shard_latency_seconds",
            "gauge",
            "Gateway latency of the shard.",
            |s| s.latency_seconds,
        ),
        (
            "opsdeck_shard_last_heartbeat_timestamp_seconds",
            "gauge",
            "Last heartbeat, since unix epoch.",
            |s| s.last_heartbeat_ms.map(|t| t as f64 / 1000.0),
        ),
        (
            "opsdeck_shard_ready_timestamp_seconds",
            "gauge",
            "When the shard became ready, since unix epoch.",
            |s| s.ready_since_ms.map(|t| t as f64 / 1000.0),
        ),
        (
            "opsdeck_shard_restarts_total",
            "counter",
            "Shard restarts.",
            |s| s.restarts,
        ),
    ];
    for (name, kind, help, value) in fields {
        w.family(
            name,
            kind,
            help,
            s.shards
                .iter()
                .filter_map(|shard| value(shard).map(|v| (vec![("shard", shard.id.as_str())], v))),
        );
    }
}
