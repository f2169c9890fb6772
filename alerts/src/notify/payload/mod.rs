//! Message bodies for each receiver kind, built from one [`Notification`]
//! and kept within each service's documented limits: a large group is
//! truncated with an "and N more" line, never rejected.

pub mod alertmanager;
pub mod discord;
pub mod slack;
mod text;
pub mod webhook;

use std::collections::BTreeMap;

use super::alert::{Alert, AlertStatus};

pub use text::{limit_utf16, utf16_len};

/// One message to one receiver about one group of alerts.
#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// Each alert's `status` is as of `now_ms` (an expired firing alert
    /// is already marked resolved). Firing alerts come first.
    pub alerts: Vec<Alert>,
    /// Unix milliseconds when the notification was decided.
    pub now_ms: i64,
    pub kind: MessageKind,
}

/// What a notification is about; the title and bodies say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A group of alerts, from routing.
    Alerts,
    /// A `notify test` message: every body says so plainly.
    Test,
    /// A one-off message, such as a runbook's `notify` step.
    Notice,
}

impl Notification {
    /// Firing when any alert fires.
    pub fn status(&self) -> AlertStatus {
        if self.alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    pub fn count(&self, status: AlertStatus) -> usize {
        self.alerts.iter().filter(|a| a.status == status).count()
    }

    /// Labels every alert shares.
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.annotations))
    }

    /// `[FIRING:2] HighHeap (node="bot-2")`, `[TEST]` in front for
    /// tests, `[NOTICE]` instead of the status for notices.
    pub fn title(&self) -> String {
        let status = self.status();
        let mut title = match self.kind {
            MessageKind::Notice => "[NOTICE]".to_string(),
            MessageKind::Alerts | MessageKind::Test => format!(
                "[{}:{}]",
                status.as_str().to_uppercase(),
                self.count(status)
            ),
        };
        if self.kind == MessageKind::Test {
            title.insert_str(0, "[TEST] ");
        }
        let common = self.common_labels();
        if let Some(name) = common.get("alertname") {
            title.push(' ');
            title.push_str(name);
        }
        let rest: Vec<String> = self
            .group_labels
            .iter()
            .filter(|(k, _)| *k != "alertname")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !rest.is_empty() {
            title.push_str(&format!(" ({})", rest.join(", ")));
        }
        title
    }

    /// The sample notification `opsdeck notify test` sends.
    pub fn test_message(receiver: &str, now_ms: i64) -> Notification {
        Notification::single(
            receiver,
            BTreeMap::from([("test".to_string(), "true".to_string())]),
            "OpsdeckTestNotification",
            "TEST: this is a test notification from `opsdeck notify test`. No action needed.",
            now_ms,
            MessageKind::Test,
        )
    }

    /// A one-off message to `receiver`, shown as a single entry named
    /// [`NOTICE_ALERTNAME`] with `labels` (which also name the title).
    pub fn notice(
        receiver: &str,
        labels: &BTreeMap<String, String>,
        message: &str,
        now_ms: i64,
    ) -> Notification {
        Notification::single(
            receiver,
            labels.clone(),
            NOTICE_ALERTNAME,
            message,
            now_ms,
            MessageKind::Notice,
        )
    }

    /// A message of one `info` entry named `alertname`, firing since
    /// `now_ms`, with `group_labels` as its group and labels.
    fn single(
        receiver: &str,
        group_labels: BTreeMap<String, String>,
        alertname: &str,
        summary: &str,
        now_ms: i64,
        kind: MessageKind,
    ) -> Notification {
        let mut labels = group_labels.clone();
        labels.insert("alertname".into(), alertname.into());
        labels.insert("severity".into(), "info".into());
        Notification {
            receiver: receiver.to_string(),
            group_key: format!("{{}}:{}", format_labels(&group_labels)),
            group_labels,
            alerts: vec![Alert {
                labels,
                annotations: [("summary".to_string(), summary.to_string())].into(),
                status: AlertStatus::Firing,
                starts_at_ms: now_ms,
                ends_at_ms: None,
                value: None,
                generator_url: None,
            }],
            now_ms,
            kind,
        }
    }
}

/// The alertname a notice's single entry carries.
pub const NOTICE_ALERTNAME: &str = "OpsdeckNotice";

fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

fn common<'a>(
    mut sets: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = sets.next() else {
        return BTreeMap::new();
    };
    let mut common = first.clone();
    for set in sets {
        common.retain(|k, v| set.get(k) == Some(v));
    }
    common
}

/// Severity, as the `severity` label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Warning,
    Info,
    Other,
}

impl Severity {
    pub fn of(alert: &Alert) -> Severity {
        match alert
            .labels
            .get("severity")
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            Some("critical" | "page" | "error") => Severity::Critical,
            Some("warning" | "warn") => Severity::Warning,
            Some("info" | "none") => Severity::Info,
            _ => Severity::Other,
        }
    }

    /// The colour of a message or embed: green once resolved, else by
    /// severity.
    pub fn colour(alert: &Alert) -> u32 {
        if alert.status == AlertStatus::Resolved {
            return 0x2EB67D;
        }
        match Severity::of(alert) {
            Severity::Critical => 0xE01E5A,
            Severity::Warning => 0xECB22E,
            Severity::Info => 0x36C5F0,
            Severity::Other => 0x8D8D8D,
        }
    }

    /// The most severe colour of a group, for a message with one colour.
    pub fn group_colour(alerts: &[Alert]) -> u32 {
        let rank = |a: &Alert| match (a.status, Severity::of(a)) {
            (AlertStatus::Resolved, _) => 0,
            (_, Severity::Critical) => 4,
            (_, Severity::Warning) => 3,
            (_, Severity::Info) => 2,
            (_, Severity::Other) => 1,
        };
        alerts
            .iter()
            .max_by_key(|a| rank(a))
            .map_or(0x8D8D8D, Severity::colour)
    }
}

/// What the message says about one alert, shared by Slack and Discord.
pub(crate) struct AlertFacts<'a> {
    pub alert: &'a Alert,
    pub summary: String,
    pub description: Option<&'a str>,
    pub runbook: Option<Runbook<'a>>,
    /// `firing for 5m 3s` or `resolved after 12m`.
    pub duration: String,
    pub value: Option<String>,
}

pub(crate) enum Runbook<'a> {
    Link(&'a str),
    Id(&'a str),
}

impl<'a> AlertFacts<'a> {
    pub fn of(alert: &'a Alert, notification: &Notification) -> AlertFacts<'a> {
        let now_ms = notification.now_ms;
        let summary = alert
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_else(|| alert.name().to_string());
        let description = alert.annotations.get("description").map(String::as_str);
        let runbook = alert
            .annotations
            .get("runbook_url")
            .map(|u| Runbook::Link(u))
            .or_else(|| {
                alert
                    .annotations
                    .get("runbook")
                    .or_else(|| alert.labels.get("runbook"))
                    .map(|id| Runbook::Id(id))
            });
        let duration = match alert.status {
            _ if notification.kind == MessageKind::Notice => format!(
                "notice at {}",
                chrono::DateTime::from_timestamp_millis(now_ms)
                    .unwrap_or_default()
                    .format("%Y-%m-%d %H:%M:%S UTC")
            ),
            AlertStatus::Firing => format!(
                "firing for {}",
                text::humanize_ms(now_ms - alert.starts_at_ms)
            ),
            AlertStatus::Resolved => {
                let end = alert.ends_at_ms.unwrap_or(now_ms);
                format!(
                    "resolved after {}",
                    text::humanize_ms(end - alert.starts_at_ms)
                )
            }
        };
        AlertFacts {
            alert,
            summary,
            description,
            runbook,
            duration,
            value: alert.value.map(text::format_value),
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A group of `n` firing alerts with long texts and many labels, to
    /// push every limit.
    pub fn big_group(n: usize, text_len: usize) -> Notification {
        let alerts = (0..n)
            .map(|i| {
                let mut labels: BTreeMap<String, String> = (0..30)
                    .map(|l| (format!("label_{l:02}"), "v".repeat(text_len.min(3000))))
                    .collect();
                labels.insert("alertname".into(), "HeapHigh".into());
                labels.insert(
                    "severity".into(),
                    if i % 2 == 0 { "critical" } else { "warning" }.into(),
                );
                labels.insert("instance".into(), format!("bot-{i}"));
                Alert {
                    labels,
                    annotations: [
                        (
                            "summary".to_string(),
                            format!("Heap is high on bot-{i} {}", "s".repeat(text_len)),
                        ),
                        ("description".to_string(), "d".repeat(text_len)),
                        (
                            "runbook_url".to_string(),
                            "https://runbooks.example/heap".to_string(),
                        ),
                    ]
                    .into(),
                    status: AlertStatus::Firing,
                    starts_at_ms: 1_000_000,
                    ends_at_ms: None,
                    value: Some(0.93),
                    generator_url: Some("http://127.0.0.1:9464/graph".into()),
                }
            })
            .collect();
        Notification {
            receiver: "r".into(),
            group_key: "{}:{alertname=\"HeapHigh\"}".into(),
            group_labels: [("alertname".to_string(), "HeapHigh".to_string())].into(),
            alerts,
            now_ms: 1_303_000,
            kind: MessageKind::Alerts,
        }
    }
}
