//! The notification pipeline as one handle: the agent starts it with its
//! config and database, feeds it alerts after each rule evaluation, and
//! reads silences and delivery status from it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::alert::Alert;
use super::config::ReceiverKind;
use super::config::{ConfigError, NotificationsConfig};
use super::dispatch::{notice_receivers, Dispatcher, Input, ReceiverPlan};
use super::inhibit::Inhibitor;
use super::now_ms;
use super::outbox::Outbox;
use super::route::Route;
use super::sender::{Destination, Sender};
use super::silence::SilenceStore;
use super::status::{render_metrics, ReceiverStatus, StatusBoard};
use super::store::{SharedDatabase, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

pub struct Notifier {
    input: mpsc::UnboundedSender<Input>,
    /// The route tree and receiver kinds, to tell a notice's sender where
    /// it goes; `None` without a route (nothing is sent).
    route: Option<Route>,
    kinds: HashMap<String, ReceiverKind>,
    silences: SilenceStore,
    status: Arc<StatusBoard>,
    outbox: Arc<Outbox>,
    tasks: Vec<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the dispatcher and one sender per receiver on the current
    /// tokio runtime. `config` must have its secrets loaded
    /// ([`NotificationsConfig::load_secrets`]). `db` is the agent's
    /// database (an `Arc<redb::Database>`, or anything implementing
    /// [`DatabaseHandle`](super::DatabaseHandle)). Notifications left in
    /// the outbox by a previous run are sent first.
    pub fn start(
        config: &NotificationsConfig,
        db: SharedDatabase,
    ) -> Result<Notifier, NotifyError> {
        config.validate()?;
        let now = now_ms();
        let outbox = Arc::new(Outbox::open(db.clone(), now)?);
        let silences = SilenceStore::open(db, now)?;
        let known: Vec<&str> = config.receivers.iter().map(|r| r.name.as_str()).collect();
        for (receiver, count) in outbox.drop_unknown_receivers(&known)? {
            tracing::warn!(receiver = %receiver, count, "dropped undelivered notifications for a receiver no longer in the config");
        }
        let status = Arc::new(StatusBoard::default());
        let timeout =
            Duration::from_millis(u64::try_from(config.delivery.timeout.millis()).unwrap_or(0));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Client(e.to_string()))?;

        let mut tasks = Vec::new();
        let mut plans = HashMap::new();
        for (i, receiver) in config.receivers.iter().enumerate() {
            // `validate` made sure there is exactly one kind.
            let (Some(kind), Some(url)) = (receiver.kind(), receiver.url()) else {
                return Err(ConfigError {
                    key: format!("receivers[{i}].url"),
                    message: "missing (were the secrets loaded?)".into(),
                }
                .into());
            };
            let wake = Arc::new(Notify::new());
            // Anything left from the last run goes out without waiting.
            wake.notify_one();
            status.register(&receiver.name, kind);
            plans.insert(
                receiver.name.clone(),
                ReceiverPlan::new(receiver, kind, wake.clone()),
            );
            let sender = Sender {
                destination: Arc::new(Destination {
                    name: receiver.name.clone(),
                    kind,
                    url: url.clone(),
                }),
                client: client.clone(),
                outbox: outbox.clone(),
                status: status.clone(),
                wake,
                delivery: config.delivery.clone(),
            };
            tasks.push(tokio::spawn(sender.run()));
        }

        let (input, incoming) = mpsc::unbounded_channel();
        if let Some(route) = &config.route {
            let dispatcher = Dispatcher::new(
                Route::from_config(route),
                Inhibitor::new(config.inhibit_rules.clone()),
                silences.clone(),
                outbox.clone(),
                plans,
                Duration::from_millis(
                    u64::try_from(config.delivery.dedup_window.millis()).unwrap_or(0),
                ),
            );
            tasks.push(tokio::spawn(dispatcher.run(incoming)));
        }
        Ok(Notifier {
            input,
            route: config.route.as_ref().map(Route::from_config),
            kinds: config
                .receivers
                .iter()
                .filter_map(|r| Some((r.name.clone(), r.kind()?)))
                .collect(),
            silences,
            status,
            outbox,
            tasks,
        })
    }

    /// Hands over the alerts of one evaluation: firing ones and recently
    /// resolved ones (alerts from other rule groups are unaffected; an
    /// alert not mentioned again resolves at its `ends_at_ms`).
    pub fn ingest(&self, alerts: Vec<Alert>) {
        // Fails only once the dispatcher is gone, i.e. during shutdown.
        let _ = self.input.send(Input::Alerts(alerts));
    }

    /// Sends a one-off message (a runbook's `notify` step) to the chat
    /// and webhook receivers its labels route to, through the outbox:
    /// durable, retried and paced like any notification. Returns those
    /// receivers' names; empty when none is routed.
    pub fn announce(&self, labels: BTreeMap<String, String>, message: String) -> Vec<String> {
        let Some(route) = &self.route else {
            return Vec::new();
        };
        let receivers = notice_receivers(route, &labels, |name| self.kinds.get(name).copied());
        if !receivers.is_empty() {
            let _ = self.input.send(Input::Notice { labels, message });
        }
        receivers
    }

    /// Create, expire and list silences (the agent's `/api/v1/silences`).
    pub fn silences(&self) -> &SilenceStore {
        &self.silences
    }

    /// Per-receiver delivery status, for the snapshot and the TUI.
    pub fn status(&self) -> Vec<ReceiverStatus> {
        let mut statuses = self.status.snapshot();
        if statuses.is_empty() {
            return statuses;
        }
        match self.outbox.pending() {
            Ok(pending) => {
                for status in &mut statuses {
                    status.pending = pending
                        .iter()
                        .find(|(r, _)| *r == status.name)
                        .map_or(0, |(_, n)| *n);
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot count pending notifications"),
        }
        statuses
    }

    /// The delivery counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        render_metrics(&self.status())
    }

    /// Stops every task and waits until they are gone (and with them
    /// their hold on the database). Unacknowledged notifications stay in
    /// the outbox for the next start.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
