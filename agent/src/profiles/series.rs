//! The node view written back into the store as `opsdeck_*` series on
//! every snapshot, so alert rules and queries see exactly the heap, pool
//! and shard numbers the snapshot and `/metrics` show: one
//! definition of each, the profiles'. Documented in `docs/agent.md`
//! ("Normalized series") and used by the default rule pack.
//!
//! Only fields the collectors do not already write are included: the
//! process collector owns `opsdeck_process_resident_memory_bytes`,
//! `opsdeck_process_open_fds` and `opsdeck_process_restarts_seen_total`,
//! the host collector every `opsdeck_host_*` series, and the agent's
//! source bookkeeping `opsdeck_source_up`.

use opsdeck_metrics::{Labels, METRIC_NAME};

use super::builtin;
use crate::api::{ShardState, Snapshot};

/// The store source the node view is ingested under: series the view no
/// longer produces (a pool that went away, a shard that vanished) get a
/// staleness marker at the next snapshot. The colon keeps it apart from
/// scrape target names, which are plain words.
pub(crate) const SOURCE: &str = "opsdeck:node-view";

/// Every state a shard's one-hot `opsdeck_shard_state` series covers.
const SHARD_STATES: [(ShardState, &str); 7] = [
    (ShardState::Starting, "starting"),
    (ShardState::Ready, "ready"),
    (ShardState::Draining, "draining"),
    (ShardState::Drained, "drained"),
    (ShardState::Disconnected, "disconnected"),
    (ShardState::Dead, "dead"),
    (ShardState::Unknown, "unknown"),
];

/// Collects samples, dropping absent and non-finite values.
#[derive(Default)]
struct Samples(Vec<(Labels, f64)>);

impl Samples {
    fn push(&mut self, name: &str, labels: &[(&str, &str)], value: Option<f64>) {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return;
        };
        let mut series = Labels::from_pairs(labels.iter().copied());
        series.set(METRIC_NAME, name);
        self.0.push((series, value));
    }
}

/// The samples of the normalized node view in `snapshot`.
pub(crate) fn node_view_samples(snapshot: &Snapshot) -> Vec<(Labels, f64)> {
    let mut out = Samples::default();
    if let Some(p) = &snapshot.process {
        out.push(
            "opsdeck_process_cpu_usage_cores",
            &[],
            p.cpu_percent.map(|v| v / 100.0),
        );
        // The runtime defines these, so rules can tell a V8 heap (no
        // exported limit, measured against its committed size) from a
        // Go heap without GOMEMLIMIT (no limit at all).
        let runtime: Vec<(&str, &str)> = runtime_in(snapshot)
            .map(|name| ("runtime", name))
            .into_iter()
            .collect();
        out.push(
            "opsdeck_process_heap_used_bytes",
            &runtime,
            p.heap_used_bytes,
        );
        out.push(
            "opsdeck_process_heap_total_bytes",
            &runtime,
            p.heap_total_bytes,
        );
        out.push(
            "opsdeck_process_heap_limit_bytes",
            &runtime,
            p.heap_limit_bytes,
        );
        out.push(
            "opsdeck_process_gc_time_ratio",
            &runtime,
            p.gc_seconds_per_second,
        );
        out.push(
            "opsdeck_process_event_loop_lag_seconds",
            &runtime,
            p.event_loop_lag_seconds,
        );
    }
    for pool in &snapshot.pools {
        let labels = [("pool", pool.name.as_str()), ("kind", pool.kind.as_str())];
        out.push("opsdeck_pool_size", &labels, pool.size);
        out.push("opsdeck_pool_active", &labels, pool.active);
        out.push("opsdeck_pool_idle", &labels, pool.idle);
        out.push("opsdeck_pool_waiting", &labels, pool.waiting);
        out.push("opsdeck_pool_max", &labels, pool.max);
        out.push("opsdeck_pool_utilization_ratio", &labels, pool.utilization);
        out.push(
            "opsdeck_pool_acquire_timeouts_total",
            &labels,
            pool.acquire_timeouts_total,
        );
    }
    let seconds = |ms: Option<i64>| ms.map(|t| t as f64 / 1000.0);
    for shard in &snapshot.shards {
        let id = [("shard", shard.id.as_str())];
        for (state, name) in SHARD_STATES {
            out.push(
                "opsdeck_shard_state",
                &[("shard", shard.id.as_str()), ("state", name)],
                Some(if shard.state == state { 1.0 } else { 0.0 }),
            );
        }
        out.push("opsdeck_shard_load", &id, shard.load);
        out.push("opsdeck_shard_latency_seconds", &id, shard.latency_seconds);
        out.push(
            "opsdeck_shard_last_heartbeat_timestamp_seconds",
            &id,
            seconds(shard.last_heartbeat_ms),
        );
        out.push(
            "opsdeck_shard_ready_timestamp_seconds",
            &id,
            seconds(shard.ready_since_ms),
        );
        out.push("opsdeck_shard_restarts_total", &id, shard.restarts);
    }
    out.0
}

/// The runtime profile among the applied ones (pool and shard profiles
/// have other names).
fn runtime_in(snapshot: &Snapshot) -> Option<&str> {
    snapshot
        .node
        .profiles
        .iter()
        .map(String::as_str)
        .find(|name| builtin::RUNTIMES.iter().any(|r| r.name == *name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{NodeIdentity, PoolStats, ProcessStats, ShardStats, API_VERSION};

    fn snapshot() -> Snapshot {
        Snapshot {
            api_version: API_VERSION.to_string(),
            seq: 1,
            taken_at_ms: 0,
            node: NodeIdentity {
                name: "n".into(),
                hostname: "h".into(),
                agent_version: "0".into(),
                started_at_ms: 0,
                interval_ms: 1000,
                profiles: vec!["app_pool".into(), "nodejs".into()],
            },
            host: None,
            process: Some(ProcessStats {
                pids: Vec::new(),
                cpu_percent: Some(50.0),
                rss_bytes: None,
                virtual_bytes: None,
                threads: None,
                open_fds: None,
                start_time_ms: None,
                restarts_seen: 0,
                heap_used_bytes: Some(9e8),
                heap_total_bytes: Some(1e9),
                heap_limit_bytes: None,
                gc_seconds_per_second: None,
                event_loop_lag_seconds: None,
            }),
            pools: vec![PoolStats {
                name: "main".into(),
                kind: "app_pool".into(),
                size: Some(20.0),
                active: Some(18.0),
                idle: Some(2.0),
                waiting: None,
                max: Some(20.0),
                utilization: Some(0.9),
                acquire_timeouts_total: Some(f64::NAN),
            }],
            shards: vec![ShardStats {
                id: "3".into(),
                state: ShardState::Disconnected,
                load: Some(1200.0),
                latency_seconds: None,
                last_heartbeat_ms: Some(1_500),
                ready_since_ms: None,
                restarts: Some(2.0),
            }],
            targets: Vec::new(),
            alerts: Vec::new(),
            actions: Vec::new(),
            receivers: Vec::new(),
        }
    }

    fn value(samples: &[(Labels, f64)], name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|(labels, _)| {
                labels.get(METRIC_NAME) == Some(name)
                    && pairs.iter().all(|(k, v)| labels.get(k) == Some(*v))
            })
            .map(|(_, v)| *v)
    }

    #[test]
    fn pools_and_shards_become_series() {
        let samples = node_view_samples(&snapshot());
        let pool = [("pool", "main"), ("kind", "app_pool")];
        assert_eq!(value(&samples, "opsdeck_pool_active", &pool), Some(18.0));
        assert_eq!(
            value(&samples, "opsdeck_pool_utilization_ratio", &pool),
            Some(0.9)
        );
        let shard = [("shard", "3")];
        assert_eq!(
            value(
                &samples,
                "opsdeck_shard_state",
                &[("shard", "3"), ("state", "disconnected")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "opsdeck_shard_state",
                &[("shard", "3"), ("state", "ready")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &samples,
                "opsdeck_shard_last_heartbeat_timestamp_seconds",
                &shard
            ),
            Some(1.5)
        );
    }

    #[test]
    fn runtime_fields_carry_the_runtime() {
        let samples = node_view_samples(&snapshot());
        let nodejs = [("runtime", "nodejs")];
        assert_eq!(
            value(&samples, "opsdeck_process_heap_used_bytes", &nodejs),
            Some(9e8)
        );
        assert_eq!(
            value(&samples, "opsdeck_process_cpu_usage_cores", &[]),
            Some(0.5)
        );
    }

    #[test]
    fn absent_and_non_finite_fields_write_nothing() {
        let samples = node_view_samples(&snapshot());
        for name in [
            "opsdeck_pool_waiting",
            "opsdeck_pool_acquire_timeouts_total",
            "opsdeck_shard_latency_seconds",
            "opsdeck_process_heap_limit_bytes",
        ] {
            assert_eq!(value(&samples, name, &[]), None, "{name}");
        }
    }
}
