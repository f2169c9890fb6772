//! Wire types of the agent's HTTP API, shared with the TUI and the CLI.
//!
//! Versioned: every top-level document carries `api_version`. Additive
//! changes (new optional fields) keep the version; anything else bumps it.
//! Documented in `docs/api.md`.

use serde::{Deserialize, Serialize};

pub mod prom;

pub const API_VERSION: &str = "opsdeck.v1";

/// `GET /api/v1/snapshot`: the node's normalized state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub api_version: String,
    /// Monotonic per agent process; the SSE stream uses it as the event id.
    pub seq: u64,
    /// Unix milliseconds when the snapshot was taken.
    pub taken_at_ms: i64,
    pub node: NodeIdentity,
    pub host: Option<HostStats>,
    pub process: Option<ProcessStats>,
    pub pools: Vec<PoolStats>,
    pub shards: Vec<ShardStats>,
    pub targets: Vec<TargetStatus>,
    pub alerts: Vec<AlertSummary>,
    pub actions: Vec<ActionSummary>,
    /// Notification receivers and how delivery to them goes (added in
    /// 0.1 without a version bump: older agents send none).
    #[serde(default)]
    pub receivers: Vec<ReceiverSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeIdentity {
    pub name: String,
    pub hostname: String,
    pub agent_version: String,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    /// Evaluation / snapshot interval, so a client can judge staleness.
    pub interval_ms: u64,
    /// Detected or configured profiles, e.g. `nodejs`, `app_pool`.
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStats {
    /// 0–100, across all cores.
    pub cpu_percent: f64,
    pub cpu_per_core: Vec<f64>,
    pub load: [f64; 3],
    pub memory_total_bytes: u64,
    pub memory_used_bytes: u64,
    pub memory_available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub disk_read_bytes_per_sec: f64,
    pub disk_write_bytes_per_sec: f64,
    pub net_rx_bytes_per_sec: f64,
    pub net_tx_bytes_per_sec: f64,
    /// True when totals come from cgroup limits rather than the host.
    pub cgroup_limited: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    pub pids: Vec<u32>,
    /// Percent of one core; can exceed 100.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub open_fds: Option<u64>,
    pub start_time_ms: Option<i64>,
    pub restarts_seen: u64,
    pub heap_used_bytes: Option<f64>,
    pub heap_total_bytes: Option<f64>,
    pub heap_limit_bytes: Option<f64>,
    /// Seconds spent in GC per second over the last minute.
    pub gc_seconds_per_second: Option<f64>,
    pub event_loop_lag_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStats {
    pub name: String,
    /// Profile that produced it: `hikaricp`, `pgbouncer`, `go_sql`, `app_pool`.
    pub kind: String,
    pub size: Option<f64>,
    pub active: Option<f64>,
    pub idle: Option<f64>,
    pub waiting: Option<f64>,
    pub max: Option<f64>,
    /// active / max, 0–1.
    pub utilization: Option<f64>,
    pub acquire_timeouts_total: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardState {
    Starting,
    Ready,
    Draining,
    Drained,
    Disconnected,
    Dead,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardStats {
    pub id: String,
    pub state: ShardState,
    /// e.g. guilds.
    pub load: Option<f64>,
    pub latency_seconds: Option<f64>,
    /// Unix milliseconds.
    pub last_heartbeat_ms: Option<i64>,
    pub ready_since_ms: Option<i64>,
    pub restarts: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub name: String,
    /// URL with credentials removed.
    pub url: String,
    pub up: bool,
    pub last_scrape_ms: Option<i64>,
    pub last_duration_seconds: Option<f64>,
    pub samples: Option<u64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    pub name: String,
    pub state: AlertState,
    pub severity: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub value: f64,
    /// Unix milliseconds when it became active (pending).
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub silenced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    pub id: String,
    pub runbook: String,
    pub status: String,
    pub started_at_ms: i64,
    pub step: Option<String>,
    pub requested_by: String,
}

/// One notification receiver's delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiverSummary {
    pub name: String,
    /// `slack`, `discord`, `webhook` or `alertmanager`.
    pub kind: String,
    /// Notifications in the outbox, not yet acknowledged.
    pub pending: usize,
    pub delivered_total: u64,
    /// Notifications given up on: the receiver answered a 4xx (not 429).
    pub failed_total: u64,
    pub rate_limited_total: u64,
    /// Unix milliseconds.
    pub last_delivered_ms: Option<i64>,
    pub last_error: Option<ReceiverError>,
}

/// The last failed delivery attempt to a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiverError {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// True when the notification was dropped (a 4xx), false while it is
    /// retried.
    pub permanent: bool,
    pub status: Option<u16>,
    pub message: String,
    /// The notification's title.
    pub notification: String,
}

/// One event on `GET /api/v1/stream` (server-sent events). The SSE `event:`
/// field carries the variant name; `data:` the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    Snapshot(Box<Snapshot>),
    Heartbeat { seq: u64, at_ms: i64 },
}

/// `POST /api/v1/silences`: mute notifications for alerts whose labels all
/// match, from `starts_at_ms` until `ends_at_ms` (Alertmanager's silence
/// model, with millisecond timestamps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRequest {
    pub matchers: Vec<SilenceMatcher>,
    /// Unix milliseconds.
    pub starts_at_ms: i64,
    /// Unix milliseconds.
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

/// One label matcher of a silence, as in Alertmanager's API v2:
/// `name="value"`, `=~` when `is_regex`, `!=` / `!~` when not `is_equal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default = "matcher_is_equal_default")]
    pub is_equal: bool,
}

fn matcher_is_equal_default() -> bool {
    true
}

/// The answer to `POST /api/v1/silences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceCreated {
    pub id: String,
}
