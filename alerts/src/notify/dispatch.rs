//! The dispatcher: routes incoming alerts into aggregation groups, and
//! when a group's timer fires (group_wait, then every group_interval)
//! drops silenced and inhibited alerts, asks the notification log whether
//! the receiver must hear about the rest, and if so writes the message to
//! the outbox.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Instant};

use super::alert::{Alert, AlertStatus, Fingerprint, Fnv};
use super::config::{ReceiverConfig, ReceiverKind};
use super::inhibit::Inhibitor;
use super::nflog::{self, NflogEntry};
use super::now_ms;
use super::outbox::{Outbox, OutboxEntry};
use super::payload::{self, MessageKind, Notification};
use super::route::Route;
use super::silence::SilenceStore;

/// How each receiver wants its messages.
pub(crate) struct ReceiverPlan {
    pub rendering: Rendering,
    pub send_resolved: bool,
    pub wake: Arc<Notify>,
}

impl ReceiverPlan {
    pub fn new(config: &ReceiverConfig, kind: ReceiverKind, wake: Arc<Notify>) -> ReceiverPlan {
        ReceiverPlan {
            rendering: Rendering::new(config, kind),
            send_resolved: config.send_resolved(),
            wake,
        }
    }
}

/// What decides a receiver's message body.
pub(crate) struct Rendering {
    pub kind: ReceiverKind,
    pub max_alerts: usize,
    /// Alertmanager receivers: how often firing alerts are re-sent.
    pub resend_delay: Option<Duration>,
}

impl Rendering {
    pub fn new(config: &ReceiverConfig, kind: ReceiverKind) -> Rendering {
        Rendering {
            kind,
            max_alerts: config.webhook.as_ref().map_or(0, |w| w.max_alerts),
            resend_delay: config.alertmanager.as_ref().map(|a| {
                Duration::from_millis(u64::try_from(a.resend_delay.millis()).unwrap_or(0))
            }),
        }
    }

    /// The body for this receiver.
    pub fn render(&self, notification: &Notification) -> serde_json::Value {
        match self.kind {
            ReceiverKind::Slack => payload::slack::build(notification),
            ReceiverKind::Discord => payload::discord::build(notification),
            ReceiverKind::Webhook => payload::webhook::build(notification, self.max_alerts),
            ReceiverKind::Alertmanager => {
                // Prometheus: endsAt = 4 × the resend period ahead.
                let ahead = self.resend_delay.unwrap_or(Duration::from_secs(60)) * 4;
                payload::alertmanager::build(
                    notification,
                    i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
                )
            }
        }
    }
}

struct Placement {
    receiver: String,
    key: String,
    labels: BTreeMap<String, String>,
    wait: Duration,
    interval: Duration,
    repeat: Duration,
}

struct Group {
    receiver: String,
    key: String,
    labels: BTreeMap<String, String>,
    interval: Duration,
    repeat: Duration,
    alerts: BTreeMap<Fingerprint, Alert>,
    next_flush: Instant,
}

/// What the dispatcher is handed.
pub(crate) enum Input {
    /// The alerts of one rule evaluation.
    Alerts(Vec<Alert>),
    /// A one-off message, routed by its labels; not grouped, silenced or
    /// repeated.
    Notice {
        labels: BTreeMap<String, String>,
        message: String,
    },
}

pub(crate) struct Dispatcher {
    route: Route,
    inhibitor: Inhibitor,
    silences: SilenceStore,
    outbox: Arc<Outbox>,
    receivers: HashMap<String, ReceiverPlan>,
    /// Every alert firing now, for inhibition.
    firing: HashMap<Fingerprint, Alert>,
    groups: HashMap<String, Group>,
    /// Resolved alerts already flushed out of a group, by group id, so
    /// that the engine re-reporting them (Prometheus keeps resolved
    /// alerts for 15 minutes) does not churn groups.
    settled: HashMap<(String, Fingerprint), Option<i64>>,
    dedup_window: Duration,
}

impl Dispatcher {
    pub fn new(
        route: Route,
        inhibitor: Inhibitor,
        silences: SilenceStore,
        outbox: Arc<Outbox>,
        receivers: HashMap<String, ReceiverPlan>,
        dedup_window: Duration,
    ) -> Dispatcher {
        Dispatcher {
            route,
            inhibitor,
            silences,
            outbox,
            receivers,
            firing: HashMap::new(),
            groups: HashMap::new(),
            settled: HashMap::new(),
            dedup_window,
        }
    }

    pub async fn run(mut self, mut incoming: mpsc::UnboundedReceiver<Input>) {
        let mut next_prune = Instant::now();
        loop {
            let deadline = self.groups.values().map(|g| g.next_flush).min();
            tokio::select! {
                input = incoming.recv() => match input {
                    Some(Input::Alerts(alerts)) => self.ingest(alerts, Instant::now()),
                    Some(Input::Notice { labels, message }) => self.announce(&labels, &message),
                    None => return,
                },
                _ = sleep_until(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {}
            }
            let now = Instant::now();
            self.flush_due(now);
            if now >= next_prune {
                self.prune();
                next_prune = now + Duration::from_secs(600);
            }
        }
    }

    fn ingest(&mut self, alerts: Vec<Alert>, now: Instant) {
        let wall = now_ms();
        for alert in alerts {
            let fp = alert.fingerprint();
            if alert.is_resolved_at(wall) {
                self.firing.remove(&fp);
            } else {
                self.firing.insert(fp, alert.clone());
            }
            let placements: Vec<Placement> = self
                .route
                .matching(&alert.labels)
                .into_iter()
                .map(|route| self.placement(route, &alert, fp))
                .collect();
            for placement in placements {
                self.place(placement, &alert, fp, wall, now);
            }
        }
    }

    /// Writes a notice to the outbox of each chat or webhook receiver its
    /// labels route to (Alertmanager takes alerts, not messages).
    fn announce(&self, labels: &BTreeMap<String, String>, message: &str) {
        let wall = now_ms();
        for receiver in notice_receivers(&self.route, labels, |name| {
            self.receivers.get(name).map(|p| p.rendering.kind)
        }) {
            let Some(plan) = self.receivers.get(&receiver) else {
                continue;
            };
            let notification = Notification::notice(&receiver, labels, message, wall);
            let entry = OutboxEntry {
                receiver: receiver.clone(),
                notification_key: notification_key(&notification),
                title: notification.title(),
                body: plan.rendering.render(&notification).to_string(),
                created_at_ms: wall,
                attempts: 0,
            };
            match self.outbox.push(&entry) {
                Ok(()) => plan.wake.notify_one(),
                Err(err) => {
                    tracing::error!(receiver = %receiver, error = %err, "cannot write a notice to the outbox");
                }
            }
        }
    }

    /// Which group of a matching route an alert joins, and its timers.
    fn placement(&self, route: &Route, alert: &Alert, fp: Fingerprint) -> Placement {
        let labels = route.group_labels(&alert.labels);
        let key = format!("{}:{}", route.key, format_labels(&labels));
        match self
            .receivers
            .get(&route.receiver)
            .and_then(|p| p.rendering.resend_delay)
        {
            // Alertmanager receivers get every alert on its own, as soon
            // as it changes, and firing ones again every resend_delay.
            Some(resend) => Placement {
                receiver: route.receiver.clone(),
                key: format!("{key}/{fp}"),
                labels: alert.labels.clone(),
                wait: Duration::ZERO,
                interval: Duration::from_secs(1).min(resend),
                repeat: resend,
            },
            None => Placement {
                receiver: route.receiver.clone(),
                key,
                labels,
                wait: route.group_wait,
                interval: route.group_interval,
                repeat: route.repeat_interval,
            },
        }
    }

    fn place(
        &mut self,
        placement: Placement,
        alert: &Alert,
        fp: Fingerprint,
        wall: i64,
        now: Instant,
    ) {
        let group_id = format!("{}\0{}", placement.receiver, placement.key);
        let settled_key = (group_id.clone(), fp);
        let in_group = self
            .groups
            .get(&group_id)
            .is_some_and(|g| g.alerts.contains_key(&fp));
        if alert.is_resolved_at(wall) {
            if !in_group && self.settled.get(&settled_key) == Some(&alert.ends_at_ms) {
                return;
            }
        } else {
            self.settled.remove(&settled_key);
        }
        let group = self.groups.entry(group_id).or_insert_with(|| Group {
            receiver: placement.receiver,
            key: placement.key,
            labels: placement.labels,
            interval: placement.interval,
            repeat: placement.repeat,
            alerts: BTreeMap::new(),
            next_flush: now + placement.wait,
        });
        group.alerts.insert(fp, alert.clone());
    }

    fn flush_due(&mut self, now: Instant) {
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(mut group) = self.groups.remove(&id) else {
                continue;
            };
            // Nothing can change the group between its flush and this
            // (the dispatcher is one task), so every alert the flush saw
            // resolved has been dealt with and leaves the group.
            for (fp, ends_at) in self.flush(&group) {
                group.alerts.remove(&fp);
                self.settled.insert((id.clone(), fp), ends_at);
            }
            if !group.alerts.is_empty() {
                group.next_flush = now + group.interval;
                self.groups.insert(id, group);
            }
        }
    }

    /// Notifies if the log says so; returns the resolved alerts it saw.
    fn flush(&self, group: &Group) -> Vec<(Fingerprint, Option<i64>)> {
        let wall = now_ms();
        let mut alerts: Vec<Alert> = group
            .alerts
            .values()
            .map(|a| {
                let mut a = a.clone();
                if a.is_resolved_at(wall) && a.status == AlertStatus::Firing {
                    a.status = AlertStatus::Resolved;
                }
                a
            })
            .collect();
        let resolved_seen: Vec<(Fingerprint, Option<i64>)> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(|a| (a.fingerprint(), a.ends_at_ms))
            .collect();
        alerts.retain(|a| !self.is_muted(a, wall));
        let Some(plan) = self.receivers.get(&group.receiver) else {
            return resolved_seen;
        };
        let firing: BTreeSet<Fingerprint> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .map(Alert::fingerprint)
            .collect();
        let resolved: BTreeSet<Fingerprint> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(Alert::fingerprint)
            .collect();
        let log_key = nflog::key(&group.receiver, &group.key);
        let last = match self.outbox.log_entry(&log_key) {
            Ok(last) => last,
            Err(err) => {
                tracing::error!(receiver = %group.receiver, error = %err, "cannot read the notification log; skipping this flush");
                return Vec::new();
            }
        };
        if !nflog::needs_update(
            last.as_ref(),
            &firing,
            &resolved,
            plan.send_resolved,
            group.repeat,
            wall,
        ) {
            return resolved_seen;
        }
        let entry = NflogEntry {
            firing,
            resolved,
            at_ms: wall,
        };
        if !plan.send_resolved {
            alerts.retain(|a| a.status == AlertStatus::Firing);
        }
        let result = if alerts.is_empty() {
            self.outbox.log_only((&log_key, &entry)).map(|_| false)
        } else {
            alerts.sort_by(|a, b| {
                (a.status != AlertStatus::Firing, &a.labels)
                    .cmp(&(b.status != AlertStatus::Firing, &b.labels))
            });
            let notification = Notification {
                receiver: group.receiver.clone(),
                group_key: group.key.clone(),
                group_labels: group.labels.clone(),
                alerts,
                now_ms: wall,
                kind: MessageKind::Alerts,
            };
            let outbox_entry = OutboxEntry {
                receiver: group.receiver.clone(),
                notification_key: notification_key(&notification),
                title: notification.title(),
                body: plan.rendering.render(&notification).to_string(),
                created_at_ms: wall,
                attempts: 0,
            };
            self.outbox.enqueue(&outbox_entry, (&log_key, &entry))
        };
        match result {
            Ok(true) => plan.wake.notify_one(),
            Ok(false) => {}
            Err(err) => {
                // Not logged as sent either, so the next flush tries again.
                tracing::error!(receiver = %group.receiver, error = %err, "cannot write a notification to the outbox");
                return Vec::new();
            }
        }
        resolved_seen
    }

    fn is_muted(&self, alert: &Alert, wall: i64) -> bool {
        self.silences.muting(&alert.labels, wall).is_some()
            || (alert.status == AlertStatus::Firing
                && self.inhibitor.is_inhibited(
                    &alert.labels,
                    self.firing
                        .values()
                        .filter(|a| !a.is_resolved_at(wall))
                        .map(|a| &a.labels),
                ))
    }

    fn prune(&mut self) {
        let wall = now_ms();
        self.firing.retain(|_, a| !a.is_resolved_at(wall));
        let window = i64::try_from(self.dedup_window.as_millis()).unwrap_or(i64::MAX);
        self.settled
            .retain(|_, ends_at| ends_at.is_some_and(|e| e > wall.saturating_sub(3_600_000)));
        if let Err(err) = self.outbox.prune_log(wall.saturating_sub(window)) {
            tracing::warn!(error = %err, "cannot prune the notification log");
        }
    }
}

/// Receiver, group and each alert's fingerprint and state, hashed: what
/// makes two notifications say the same thing.
/// The receivers a notice with `labels` goes to: those of the routes
/// its labels match, once each, without Alertmanager receivers.
pub(crate) fn notice_receivers(
    route: &Route,
    labels: &BTreeMap<String, String>,
    kind_of: impl Fn(&str) -> Option<ReceiverKind>,
) -> Vec<String> {
    let mut receivers: Vec<String> = Vec::new();
    for matched in route.matching(labels) {
        let wanted =
            kind_of(&matched.receiver).is_some_and(|kind| kind != ReceiverKind::Alertmanager);
        if wanted && !receivers.contains(&matched.receiver) {
            receivers.push(matched.receiver.clone());
        }
    }
    receivers
}

fn notification_key(notification: &Notification) -> String {
    let mut hash = Fnv::new();
    hash.write(notification.receiver.as_bytes());
    hash.write(&[0]);
    hash.write(notification.group_key.as_bytes());
    let states: HashSet<(Fingerprint, AlertStatus)> = notification
        .alerts
        .iter()
        .map(|a| (a.fingerprint(), a.status))
        .collect();
    let mut states: Vec<_> = states.into_iter().collect();
    states.sort_by_key(|(fp, status)| (*fp, *status == AlertStatus::Resolved));
    for (fp, status) in states {
        hash.write(&fp.0.to_be_bytes());
        hash.write(status.as_str().as_bytes());
    }
    format!("{:016x}", hash.finish())
}

fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(","))
}
