//! Alertmanager's webhook JSON, version 4, for generic receivers.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use super::Notification;
use crate::notify::alert::AlertStatus;

/// `max_alerts` 0 sends every alert; otherwise the rest are counted in
/// `truncatedAlerts`, as Alertmanager does.
pub fn build(notification: &Notification, max_alerts: usize) -> Value {
    let shown = if max_alerts == 0 {
        notification.alerts.len()
    } else {
        max_alerts.min(notification.alerts.len())
    };
    let alerts: Vec<Value> = notification.alerts[..shown]
        .iter()
        .map(|alert| {
            let ends_at = match alert.status {
                AlertStatus::Resolved => rfc3339(alert.ends_at_ms.unwrap_or(notification.now_ms)),
                // Alertmanager's zero time for "still firing".
                AlertStatus::Firing => "0001-01-01T00:00:00Z".to_string(),
            };
            json!({
                "status": alert.status.as_str(),
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": rfc3339(alert.starts_at_ms),
                "endsAt": ends_at,
                "generatorURL": alert.generator_url.clone().unwrap_or_default(),
                "fingerprint": alert.fingerprint().to_string(),
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": notification.alerts.len() - shown,
        "status": notification.status().as_str(),
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels(),
        "commonAnnotations": notification.common_annotations(),
        "externalURL": "",
        "alerts": alerts,
    })
}

pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::big_group;
    use super::*;

    #[test]
    fn has_the_version_4_shape_and_truncates_by_count() {
        let body = build(&big_group(5, 10), 2);
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["truncatedAlerts"], 3);
        assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(body["groupLabels"]["alertname"], "HeapHigh");
        assert_eq!(body["commonLabels"]["alertname"], "HeapHigh");
        assert!(body["commonLabels"].get("instance").is_none());
        let alert = &body["alerts"][0];
        assert_eq!(alert["startsAt"], "1970-01-01T00:16:40.000Z");
        assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 16);
        assert_eq!(build(&big_group(5, 10), 0)["truncatedAlerts"], 0);
    }
}
