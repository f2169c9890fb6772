//! Alertmanager API v2 `POST /api/v2/alerts` bodies: a list of postable
//! alerts, firing ones with an `endsAt` in the future as Prometheus sends
//! them, so that Alertmanager resolves them if we stop re-sending.

use serde_json::{json, Value};

use super::webhook::rfc3339;
use super::{MessageKind, Notification};
use crate::notify::alert::AlertStatus;

/// `firing_ends_in_ms`: how far ahead a firing alert's `endsAt` lies
/// (Prometheus uses four resend periods).
pub fn build(notification: &Notification, firing_ends_in_ms: i64) -> Value {
    let alerts: Vec<Value> = notification
        .alerts
        .iter()
        .map(|alert| {
            let ends_at = match alert.status {
                AlertStatus::Resolved => alert.ends_at_ms.unwrap_or(notification.now_ms),
                AlertStatus::Firing => notification.now_ms + firing_ends_in_ms,
            };
            let mut labels = alert.labels.clone();
            if notification.kind == MessageKind::Test {
                labels.insert("opsdeck_test".into(), "true".into());
            }
            let mut posted = json!({
                "labels": labels,
                "annotations": alert.annotations,
                "startsAt": rfc3339(alert.starts_at_ms),
                "endsAt": rfc3339(ends_at),
            });
            if let Some(url) = alert.generator_url.as_deref().filter(|u| !u.is_empty()) {
                posted["generatorURL"] = json!(url);
            }
            posted
        })
        .collect();
    Value::Array(alerts)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::big_group;
    use super::*;

    #[test]
    fn firing_alerts_end_in_the_future_resolved_ones_when_they_ended() {
        let mut group = big_group(2, 10);
        group.alerts[1].status = AlertStatus::Resolved;
        group.alerts[1].ends_at_ms = Some(1_200_000);
        let body = build(&group, 240_000);
        assert_eq!(body[0]["endsAt"], rfc3339(1_303_000 + 240_000));
        assert_eq!(body[1]["endsAt"], rfc3339(1_200_000));
        assert_eq!(body[0]["generatorURL"], "http://127.0.0.1:9464/graph");
        assert!(body[0].get("status").is_none());
    }
}
