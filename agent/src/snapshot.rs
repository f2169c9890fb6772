//! Builds the node snapshot on the configured interval from the profiles,
//! the host and process collectors and the sources' health, serializes it
//! once and publishes it to the API and the SSE stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::api::{
    NodeIdentity, ProcessStats, ReceiverError, ReceiverSummary, Snapshot, API_VERSION,
};
use crate::collect::{every, now_ms};
use crate::config::ProcessField;
use crate::profiles::{node_view_samples, NodeView, Profiles, NODE_VIEW_SOURCE};
use crate::state::{AgentState, Published};

pub(crate) struct SnapshotBuilder {
    state: Arc<AgentState>,
    profiles: Profiles,
    node: NodeIdentity,
    interval: Duration,
    seq: std::sync::atomic::AtomicU64,
}

impl SnapshotBuilder {
    pub(crate) fn new(
        state: Arc<AgentState>,
        profiles: Profiles,
        node: NodeIdentity,
        interval: Duration,
    ) -> Self {
        SnapshotBuilder {
            state,
            profiles,
            node,
            interval,
            seq: 0.into(),
        }
    }

    pub(crate) async fn run(self, cancel: CancellationToken) {
        every(self.interval, &cancel, || async {
            self.build_and_publish()
        })
        .await;
    }

    /// Builds the snapshot, writes its normalized series into the store
    /// for the rules, and publishes it.
    pub(crate) fn build_and_publish(&self) {
        let snapshot = self.build(now_ms());
        self.state.store.ingest_scrape(
            NODE_VIEW_SOURCE,
            snapshot.taken_at_ms,
            node_view_samples(&snapshot),
        );
        match serde_json::to_vec(&snapshot) {
            Ok(json) => self.state.publish(Arc::new(Published {
                snapshot,
                json: Bytes::from(json),
            })),
            Err(err) => tracing::error!(%err, "snapshot does not serialize"),
        }
    }

    fn build(&self, now: i64) -> Snapshot {
        let view = self.profiles.evaluate(self.state.store.as_ref(), now);
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mut node = self.node.clone();
        node.profiles = view.profiles.clone();
        let process = merge_process(self.state.process.read().clone(), &view);
        Snapshot {
            api_version: API_VERSION.to_string(),
            seq,
            taken_at_ms: now,
            node,
            host: self.state.host.read().clone(),
            process,
            pools: view.pools,
            shards: view.shards,
            targets: self
                .state
                .sources
                .read()
                .values()
                .map(|h| h.status.clone())
                .collect(),
            alerts: crate::rules::active_alerts(
                &self.state.rules,
                self.state.silences().as_ref(),
                now,
            ),
            actions: self.state.actions.read().clone(),
            receivers: self.receivers(),
        }
    }

    fn receivers(&self) -> Vec<ReceiverSummary> {
        let statuses = match self.state.notifier.lock().as_ref() {
            Some(notifier) => notifier.status(),
            None => return Vec::new(),
        };
        statuses
            .into_iter()
            .map(|status| ReceiverSummary {
                name: status.name,
                kind: status.kind.as_str().to_string(),
                pending: status.pending,
                delivered_total: status.delivered_total,
                failed_total: status.failed_total,
                rate_limited_total: status.rate_limited_total,
                last_delivered_ms: status.last_delivered_ms,
                last_error: status.last_error.map(|e| ReceiverError {
                    at_ms: e.at_ms,
                    permanent: e.permanent,
                    status: e.status,
                    message: e.message,
                    notification: e.notification,
                }),
            })
            .collect()
    }
}

/// The process collector's reading, completed by the runtime profile
/// (heap, GC, event loop) and, without a collector, the app's own
/// `process_*` series.
fn merge_process(collected: Option<ProcessStats>, view: &NodeView) -> Option<ProcessStats> {
    let field = |f: ProcessField| view.process.get(&f).copied();
    if collected.is_none() && view.process.is_empty() {
        return None;
    }
    let mut stats = collected.unwrap_or(ProcessStats {
        pids: Vec::new(),
        cpu_percent: None,
        rss_bytes: None,
        virtual_bytes: None,
        threads: None,
        open_fds: None,
        start_time_ms: None,
        restarts_seen: 0,
        heap_used_bytes: None,
        heap_total_bytes: None,
        heap_limit_bytes: None,
        gc_seconds_per_second: None,
        event_loop_lag_seconds: None,
    });
    stats.cpu_percent = field(ProcessField::CpuPercent).or(stats.cpu_percent);
    stats.rss_bytes = stats
        .rss_bytes
        .or(field(ProcessField::RssBytes).map(|v| v as u64));
    stats.heap_used_bytes = field(ProcessField::HeapUsedBytes);
    stats.heap_total_bytes = field(ProcessField::HeapTotalBytes);
    stats.heap_limit_bytes = field(ProcessField::HeapLimitBytes);
    stats.gc_seconds_per_second = field(ProcessField::GcSecondsPerSecond);
    stats.event_loop_lag_seconds = field(ProcessField::EventLoopLagSeconds);
    Some(stats)
}
