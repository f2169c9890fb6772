//! What the collectors, the snapshot builder and the HTTP API share.
//! Collectors write; the builder and the API read. Nothing here does I/O.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use opsdeck_alerts::notify::{Notifier, SilenceStore};
use opsdeck_alerts::Evaluator;
use opsdeck_metrics::{Labels, SeriesStore, METRIC_NAME};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;

use crate::api::{ActionSummary, HostStats, ProcessStats, Snapshot, TargetStatus};

/// How a source of series is doing, plus counters for `/metrics`.
#[derive(Debug, Clone)]
pub(crate) struct SourceHealth {
    pub status: TargetStatus,
    pub scrapes_total: u64,
    pub failures_total: u64,
}

/// The latest snapshot and its JSON, serialized once for every reader.
pub(crate) struct Published {
    pub snapshot: Snapshot,
    pub json: Bytes,
}

pub(crate) struct AgentState {
    pub store: Arc<SeriesStore>,
    /// By source name, in name order.
    pub sources: RwLock<BTreeMap<String, SourceHealth>>,
    pub host: RwLock<Option<HostStats>>,
    /// From the process collector, when one is configured.
    pub process: RwLock<Option<ProcessStats>>,
    /// Alert and recording rules, evaluated by `rules::run`.
    pub rules: Mutex<Evaluator>,
    /// Routes, silences and delivers alerts; taken out at shutdown.
    pub notifier: Mutex<Option<Notifier>>,
    pub published: ArcSwapOption<Published>,
    /// Every new snapshot, for the SSE stream.
    pub updates: broadcast::Sender<Arc<Published>>,
    /// Runbook actions for the snapshot, kept by `actions::ActionService`.
    pub actions: RwLock<Vec<ActionSummary>>,
    /// Woken after every collection, so rules run on fresh samples.
    pub fresh_samples: tokio::sync::Notify,
    ready: AtomicBool,
}

impl AgentState {
    pub(crate) fn new(store: Arc<SeriesStore>, rules: Evaluator, notifier: Notifier) -> Self {
        let (updates, _) = broadcast::channel(16);
        AgentState {
            store,
            sources: RwLock::default(),
            host: RwLock::default(),
            process: RwLock::default(),
            rules: Mutex::new(rules),
            notifier: Mutex::new(Some(notifier)),
            published: ArcSwapOption::empty(),
            updates,
            actions: RwLock::default(),
            fresh_samples: tokio::sync::Notify::new(),
            ready: AtomicBool::new(false),
        }
    }

    /// Registers a source before its first scrape, so it shows as down
    /// rather than missing until then.
    pub(crate) fn register_source(&self, name: &str, url: &str) {
        self.sources.write().insert(
            name.to_string(),
            SourceHealth {
                status: TargetStatus {
                    name: name.to_string(),
                    url: url.to_string(),
                    up: false,
                    last_scrape_ms: None,
                    last_duration_seconds: None,
                    samples: None,
                    last_error: None,
                },
                scrapes_total: 0,
                failures_total: 0,
            },
        );
    }

    /// The silences, while the notifier runs.
    pub(crate) fn silences(&self) -> Option<SilenceStore> {
        self.notifier.lock().as_ref().map(|n| n.silences().clone())
    }

    /// Whether every source has been collected at least once.
    pub(crate) fn all_sources_collected(&self) -> bool {
        self.sources
            .read()
            .values()
            .all(|h| h.status.last_scrape_ms.is_some())
    }

    /// Records the outcome of one collection from `name`, also as the
    /// series `opsdeck_source_up{source}` (which the default rules watch).
    pub(crate) fn record_scrape(
        &self,
        name: &str,
        at_ms: i64,
        duration_seconds: f64,
        result: Result<u64, String>,
    ) {
        let up = if result.is_ok() { 1.0 } else { 0.0 };
        let labels = Labels::from_pairs([(METRIC_NAME, "opsdeck_source_up"), ("source", name)]);
        if let Err(err) = self.store.append(&labels, at_ms, up) {
            tracing::debug!(%err, "opsdeck_source_up not stored");
        }
        // The collection's samples are in the store by now.
        self.fresh_samples.notify_one();
        let mut sources = self.sources.write();
        let Some(health) = sources.get_mut(name) else {
            return;
        };
        health.scrapes_total += 1;
        let status = &mut health.status;
        status.last_scrape_ms = Some(at_ms);
        status.last_duration_seconds = Some(duration_seconds);
        match result {
            Ok(samples) => {
                status.up = true;
                status.samples = Some(samples);
                status.last_error = None;
            }
            Err(error) => {
                health.failures_total += 1;
                status.up = false;
                status.samples = None;
                status.last_error = Some(error);
            }
        }
    }

    /// Makes `published` current; streams it only when its content differs
    /// from the previous snapshot's.
    pub(crate) fn publish(&self, published: Arc<Published>) {
        let previous = self.published.swap(Some(published.clone()));
        self.ready.store(true, Ordering::Release);
        let changed = previous.is_none_or(|p| !same_content(&p.snapshot, &published.snapshot));
        if changed {
            // No subscribers is fine: nobody is streaming.
            let _ = self.updates.send(published);
        }
    }

    /// Ready once the first snapshot is built.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Equal apart from the sequence number and the time taken.
fn same_content(a: &Snapshot, b: &Snapshot) -> bool {
    a.node == b.node
        && a.host == b.host
        && a.process == b.process
        && a.pools == b.pools
        && a.shards == b.shards
        && a.targets == b.targets
        && a.alerts == b.alerts
        && a.actions == b.actions
}
