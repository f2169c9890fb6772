//! One task per receiver: takes the oldest waiting notification, paces
//! and sends it, and acts on the outcome. Order is kept (a "resolved"
//! never overtakes its "firing"), so a failing webhook holds back the
//! ones behind it rather than being skipped.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::Client;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use super::config::{DeliveryConfig, ReceiverKind};
use super::delivery::{self, Outcome};
use super::now_ms;
use super::outbox::Outbox;
use super::secret::Secret;
use super::status::{DeliveryError, StatusBoard};

/// A receiver as the sender needs it.
pub(crate) struct Destination {
    pub name: String,
    pub kind: ReceiverKind,
    pub url: Secret,
}

pub(crate) struct Sender {
    pub destination: Arc<Destination>,
    pub client: Client,
    pub outbox: Arc<Outbox>,
    pub status: Arc<StatusBoard>,
    pub wake: Arc<Notify>,
    pub delivery: DeliveryConfig,
}

impl Sender {
    pub async fn run(self) {
        let name = self.destination.name.as_str();
        // Nothing is sent to this webhook before this instant.
        let mut not_before = Instant::now();
        let mut failures: u32 = 0;
        loop {
            let next = match self.outbox.oldest(name) {
                Ok(next) => next,
                Err(err) => {
                    tracing::error!(receiver = name, error = %err, "cannot read the notification outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Some((key, mut entry)) = next else {
                self.wake.notified().await;
                continue;
            };
            sleep_until(not_before).await;
            let attempt = delivery::attempt(
                &self.client,
                self.destination.kind,
                &self.destination.url,
                entry.body.as_bytes(),
            )
            .await;
            let now = Instant::now();
            not_before = now + self.min_gap();
            if let Some(pause) = attempt.pause {
                not_before = not_before.max(now + pause);
            }
            entry.attempts += 1;
            let at_ms = now_ms();
            match attempt.outcome {
                Outcome::Delivered { status } => {
                    failures = 0;
                    self.finish(&key);
                    tracing::info!(receiver = name, status, attempts = entry.attempts, notification = %entry.title, "notification delivered");
                    self.status.update(name, |s| {
                        s.delivered_total += 1;
                        s.last_delivered_ms = Some(at_ms);
                    });
                }
                Outcome::RateLimited { status, wait } => {
                    // Exactly the wait asked for, no backoff on top.
                    not_before = now + wait;
                    self.keep(&key, &entry);
                    tracing::warn!(
                        receiver = name,
                        wait_ms = wait.as_millis() as u64,
                        "receiver rate limited us (HTTP 429); waiting as told"
                    );
                    self.status.update(name, |s| {
                        s.rate_limited_total += 1;
                        s.last_error = Some(DeliveryError {
                            at_ms,
                            permanent: false,
                            status: Some(status),
                            message: format!("rate limited; retrying in {} ms", wait.as_millis()),
                            notification: entry.title.clone(),
                        });
                    });
                }
                Outcome::Transient { reason } => {
                    failures = failures.saturating_add(1);
                    let backoff = self.backoff(failures);
                    not_before = now + backoff;
                    self.keep(&key, &entry);
                    tracing::warn!(receiver = name, attempts = entry.attempts, retry_in_ms = backoff.as_millis() as u64, error = %reason, "notification delivery failed; will retry");
                    self.status.update(name, |s| {
                        s.retries_total += 1;
                        s.last_error = Some(DeliveryError {
                            at_ms,
                            permanent: false,
                            status: None,
                            message: reason,
                            notification: entry.title.clone(),
                        });
                    });
                }
                Outcome::Permanent { status, reason } => {
                    self.finish(&key);
                    tracing::error!(receiver = name, status, notification = %entry.title, error = %reason, "notification rejected permanently; dropped");
                    self.status.update(name, |s| {
                        s.failed_total += 1;
                        s.last_error = Some(DeliveryError {
                            at_ms,
                            permanent: true,
                            status,
                            message: reason,
                            notification: entry.title.clone(),
                        });
                    });
                }
            }
        }
    }

    fn min_gap(&self) -> Duration {
        match self.destination.kind {
            ReceiverKind::Slack => to_duration(self.delivery.slack_min_interval.millis()),
            _ => Duration::ZERO,
        }
    }

    /// Exponential, capped, with "equal jitter": between half and all of
    /// the exponential delay, so retries from many agents spread out.
    fn backoff(&self, failures: u32) -> Duration {
        let base = to_duration(self.delivery.initial_backoff.millis());
        let cap = to_duration(self.delivery.max_backoff.millis());
        let exp = base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(cap);
        exp.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    fn finish(&self, key: &str) {
        if let Err(err) = self.outbox.remove(key) {
            tracing::error!(receiver = %self.destination.name, error = %err, "cannot remove a sent notification from the outbox; it may be sent again");
        }
    }

    fn keep(&self, key: &str, entry: &super::outbox::OutboxEntry) {
        if let Err(err) = self.outbox.count_attempt(key, entry) {
            tracing::error!(receiver = %self.destination.name, error = %err, "cannot update the notification outbox");
        }
    }
}

fn to_duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
