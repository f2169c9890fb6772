//! Per-node figures derived from a snapshot: what the fleet view shows
//! and sorts by. One definition, used by the fleet and node views alike.

use opsdeck_agent::api::{AlertState, ShardState, Snapshot};

use super::{AgentEntry, Health};

/// Firing alert counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertCounts {
    pub critical: usize,
    pub warning: usize,
    pub other: usize,
}

/// One fleet row's numbers; `None` where the agent does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    pub health: Health,
    pub cpu_percent: Option<f64>,
    pub heap_used_bytes: Option<f64>,
    pub heap_limit_bytes: Option<f64>,
    pub rss_bytes: Option<u64>,
    /// Worst pool utilization, 0–1.
    pub pool_utilization: Option<f64>,
    /// Clients waiting across all pools.
    pub pool_waiting: Option<f64>,
    pub shards_ready: usize,
    pub shards_total: usize,
    pub alerts: AlertCounts,
    pub age_seconds: Option<i64>,
}

impl NodeSummary {
    pub fn of(agent: &AgentEntry, now_ms: i64) -> Self {
        let snapshot = agent.snapshot.as_ref();
        let process = snapshot.and_then(|s| s.process.as_ref());
        NodeSummary {
            health: agent.health(now_ms),
            cpu_percent: snapshot.and_then(super::history::cpu_percent),
            heap_used_bytes: process.and_then(|p| p.heap_used_bytes),
            heap_limit_bytes: process.and_then(|p| p.heap_limit_bytes.or(p.heap_total_bytes)),
            rss_bytes: process.and_then(|p| p.rss_bytes),
            pool_utilization: snapshot.and_then(worst_pool_utilization),
            pool_waiting: snapshot.and_then(pool_waiting),
            shards_ready: snapshot.map_or(0, |s| {
                s.shards
                    .iter()
                    .filter(|sh| sh.state == ShardState::Ready)
                    .count()
            }),
            shards_total: snapshot.map_or(0, |s| s.shards.len()),
            alerts: snapshot.map(firing_counts).unwrap_or_default(),
            age_seconds: agent.age_seconds(now_ms),
        }
    }
}

fn worst_pool_utilization(snapshot: &Snapshot) -> Option<f64> {
    snapshot
        .pools
        .iter()
        .filter_map(|p| {
            p.utilization.or_else(|| match (p.active, p.max) {
                (Some(active), Some(max)) if max > 0.0 => Some(active / max),
                _ => None,
            })
        })
        .reduce(f64::max)
}

fn pool_waiting(snapshot: &Snapshot) -> Option<f64> {
    snapshot
        .pools
        .iter()
        .filter_map(|p| p.waiting)
        .reduce(|a, b| a + b)
}

/// Firing, unsilenced alerts by severity.
pub fn firing_counts(snapshot: &Snapshot) -> AlertCounts {
    let mut counts = AlertCounts::default();
    for alert in &snapshot.alerts {
        if alert.state != AlertState::Firing || alert.silenced {
            continue;
        }
        match alert.severity.as_deref() {
            Some("critical") | Some("page") => counts.critical += 1,
            Some("warning") => counts.warning += 1,
            _ => counts.other += 1,
        }
    }
    counts
}
