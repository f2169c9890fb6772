//! Per-receiver delivery counters and the last error: what the agent
//! shows in its snapshot, the TUI and `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;
use serde::Serialize;

use super::config::ReceiverKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceiverStatus {
    pub name: String,
    pub kind: ReceiverKind,
    /// Notifications in the outbox, not yet acknowledged.
    pub pending: usize,
    pub delivered_total: u64,
    /// Attempts that failed in a way worth retrying.
    pub retries_total: u64,
    pub rate_limited_total: u64,
    /// Notifications given up on (any 4xx but 429).
    pub failed_total: u64,
    pub last_delivered_ms: Option<i64>,
    pub last_error: Option<DeliveryError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryError {
    pub at_ms: i64,
    /// True when the notification was dropped, false when it is retried.
    pub permanent: bool,
    pub status: Option<u16>,
    pub message: String,
    /// The notification's title.
    pub notification: String,
}

#[derive(Default)]
pub(crate) struct StatusBoard {
    receivers: Mutex<BTreeMap<String, ReceiverStatus>>,
}

impl StatusBoard {
    pub fn register(&self, name: &str, kind: ReceiverKind) {
        self.receivers.lock().insert(
            name.to_string(),
            ReceiverStatus {
                name: name.to_string(),
                kind,
                pending: 0,
                delivered_total: 0,
                retries_total: 0,
                rate_limited_total: 0,
                failed_total: 0,
                last_delivered_ms: None,
                last_error: None,
            },
        );
    }

    pub fn update(&self, name: &str, change: impl FnOnce(&mut ReceiverStatus)) {
        if let Some(status) = self.receivers.lock().get_mut(name) {
            change(status);
        }
    }

    pub fn snapshot(&self) -> Vec<ReceiverStatus> {
        self.receivers.lock().values().cloned().collect()
    }
}

/// The statuses in the Prometheus text format, for the agent's `/metrics`.
pub fn render_metrics(statuses: &[ReceiverStatus]) -> String {
    type Read = fn(&ReceiverStatus) -> f64;
    let families: [(&str, &str, &str, Read); 5] = [
        (
            "opsdeck_notifications_delivered_total",
            "counter",
            "Notifications a receiver acknowledged with a 2xx.",
            |s| s.delivered_total as f64,
        ),
        (
            "opsdeck_notifications_failed_total",
            "counter",
            "Notifications dropped after a permanent failure (4xx other than 429).",
            |s| s.failed_total as f64,
        ),
        (
            "opsdeck_notification_retries_total",
            "counter",
            "Delivery attempts that failed and will be retried (5xx, timeout, connection error).",
            |s| s.retries_total as f64,
        ),
        (
            "opsdeck_notification_rate_limited_total",
            "counter",
            "Delivery attempts answered with HTTP 429.",
            |s| s.rate_limited_total as f64,
        ),
        (
            "opsdeck_notifications_pending",
            "gauge",
            "Notifications in the outbox waiting for delivery.",
            |s| s.pending as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for status in statuses {
            let _ = writeln!(
                out,
                "{name}{{receiver=\"{}\",kind=\"{}\"}} {}",
                escape_label(&status.name),
                status.kind.as_str(),
                value(status)
            );
        }
    }
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_per_receiver() {
        let board = StatusBoard::default();
        board.register("on\"call", ReceiverKind::Slack);
        board.update("on\"call", |s| s.failed_total += 2);
        let text = render_metrics(&board.snapshot());
        assert!(
            text.contains(
                "opsdeck_notifications_failed_total{receiver=\"on\\\"call\",kind=\"slack\"} 2\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE").count(), 5);
    }

    #[test]
    fn promtool_accepts_the_metrics() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let board = StatusBoard::default();
        board.register("oncall", ReceiverKind::Slack);
        board.register("ops", ReceiverKind::Discord);
        let text = render_metrics(&board.snapshot());
        let Ok(mut promtool) = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        else {
            println!("skipped: promtool is not installed");
            return;
        };
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = promtool.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
