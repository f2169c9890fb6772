//! `opsdeck notify test`: one clearly marked test message to each
//! receiver, sent directly (no outbox, no retries), with the outcome.

use std::time::{Duration, Instant};

use super::config::{NotificationsConfig, ReceiverKind};
use super::delivery::{self, Outcome};
use super::dispatch::Rendering;
use super::now_ms;
use super::payload::Notification;

#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub receiver: String,
    pub kind: ReceiverKind,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no receiver named {name:?}; the config has: {known}")]
    UnknownReceiver { name: String, known: String },
    #[error("the config has no receivers")]
    NoReceivers,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Sends the test message to every receiver, or only to `only`, one
/// after another. `config` must have its secrets loaded.
pub async fn send_test_messages(
    config: &NotificationsConfig,
    only: Option<&str>,
    timeout: Duration,
) -> Result<Vec<ProbeResult>, ProbeError> {
    if config.receivers.is_empty() {
        return Err(ProbeError::NoReceivers);
    }
    if let Some(name) = only {
        if !config.receivers.iter().any(|r| r.name == name) {
            let known: Vec<&str> = config.receivers.iter().map(|r| r.name.as_str()).collect();
            return Err(ProbeError::UnknownReceiver {
                name: name.to_string(),
                known: known.join(", "),
            });
        }
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| ProbeError::Client(e.to_string()))?;
    let mut results = Vec::new();
    for receiver in config
        .receivers
        .iter()
        .filter(|r| only.is_none_or(|n| r.name == n))
    {
        let (Some(kind), Some(url)) = (receiver.kind(), receiver.url()) else {
            continue;
        };
        let notification = Notification::test_message(&receiver.name, now_ms());
        let body = Rendering::new(receiver, kind)
            .render(&notification)
            .to_string();
        let started = Instant::now();
        let attempt = delivery::attempt(&client, kind, url, body.as_bytes()).await;
        results.push(ProbeResult {
            receiver: receiver.name.clone(),
            kind,
            outcome: attempt.outcome,
            elapsed: started.elapsed(),
        });
    }
    Ok(results)
}
