//! The dispatcher end to end over real HTTP: grouping, routing with
//! `continue`, resolved notifications, silences and inhibition.

mod notify_receiver;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use notify_receiver::Receiver;
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, Matcher, NewSilence, Notifier};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn alert(pairs: &[(&str, &str)]) -> Alert {
    Alert {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        annotations: BTreeMap::new(),
        status: AlertStatus::Firing,
        starts_at_ms: now_ms() - 1_000,
        ends_at_ms: None,
        value: None,
        generator_url: None,
    }
}

/// Two webhook receivers, `team` and `pager`; critical alerts go to
/// both (`continue` on to the catch-all route), grouped by alertname
/// after 300 ms.
fn start(receiver: &Receiver, dir: &tempfile::TempDir, inhibit: &str) -> Notifier {
    let team = format!("{}/webhook/team", receiver.base);
    let pager = format!("{}/webhook/pager", receiver.base);
    let yaml = format!(
        r#"
notifications:
  receivers:
    - name: team
      webhook: {{url: '{team}'}}
    - name: pager
      webhook: {{url: '{pager}', send_resolved: false}}
  route:
    receiver: team
    group_by: [alertname]
    group_wait: 300ms
    group_interval: 300ms
    routes:
      - matchers: ['severity="critical"']
        receiver: pager
        continue: true
      - receiver: team
  inhibit_rules: {inhibit}
"#,
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
    Notifier::start(&config, db).unwrap()
}

fn to<'a>(
    requests: &'a [notify_receiver::Request],
    receiver: &str,
) -> Vec<&'a notify_receiver::Request> {
    requests
        .iter()
        .filter(|r| r.body["receiver"] == receiver)
        .collect()
}

fn alert_names(request: &notify_receiver::Request) -> Vec<String> {
    request.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["labels"]["alertname"].as_str().unwrap(),
                a["labels"]["node"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn groups_by_alertname_and_routes_with_continue() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = start(&receiver, &dir, "[]");
    notifier.ingest(vec![
        alert(&[("alertname", "HeapHigh"), ("node", "a")]),
        alert(&[("alertname", "HeapHigh"), ("node", "b")]),
        alert(&[
            ("alertname", "ShardDown"),
            ("node", "a"),
            ("severity", "critical"),
        ]),
    ]);
    let requests = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let requests_now = receiver.requests();
    assert_eq!(requests_now.len(), 3, "{requests:#?}");
    let team = to(&requests_now, "team");
    let heap = team
        .iter()
        .find(|r| r.body["groupLabels"]["alertname"] == "HeapHigh")
        .unwrap();
    assert_eq!(alert_names(heap), ["HeapHigh/a", "HeapHigh/b"]);
    assert!(team
        .iter()
        .any(|r| r.body["groupLabels"]["alertname"] == "ShardDown"));
    let pager = to(&requests_now, "pager");
    assert_eq!(pager.len(), 1);
    assert_eq!(alert_names(pager[0]), ["ShardDown/a"]);
}

#[tokio::test]
async fn resolved_goes_to_receivers_that_want_it() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = start(&receiver, &dir, "[]");
    let firing = alert(&[("alertname", "ShardDown"), ("severity", "critical")]);
    notifier.ingest(vec![firing.clone()]);
    receiver.wait_for(2).await;
    let mut resolved = firing;
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at_ms = Some(now_ms());
    // The engine keeps reporting a resolved alert for a while: no churn.
    for _ in 0..3 {
        notifier.ingest(vec![resolved.clone()]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = receiver.requests();
    let team = to(&requests, "team");
    assert_eq!(team.len(), 2, "{requests:#?}");
    assert_eq!(team[1].body["status"], "resolved");
    assert_eq!(team[1].body["alerts"][0]["status"], "resolved");
    // send_resolved: false
    assert_eq!(to(&requests, "pager").len(), 1);
}

#[tokio::test]
async fn silences_mute_matching_alerts_until_expired() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = start(&receiver, &dir, "[]");
    let silence = notifier
        .silences()
        .create(
            NewSilence {
                matchers: vec![Matcher::parse(r#"node="b""#).unwrap()],
                starts_at_ms: None,
                ends_at_ms: now_ms() + 60_000,
                created_by: "alice".into(),
                comment: "maintenance".into(),
            },
            now_ms(),
        )
        .unwrap();
    notifier.ingest(vec![
        alert(&[("alertname", "HeapHigh"), ("node", "a")]),
        alert(&[("alertname", "HeapHigh"), ("node", "b")]),
    ]);
    let requests = receiver.wait_for(1).await;
    assert_eq!(alert_names(&requests[0]), ["HeapHigh/a"]);
    // Expired: the next group flush tells about node b.
    notifier.silences().expire(&silence.id, now_ms()).unwrap();
    let requests = receiver.wait_for(2).await;
    assert_eq!(alert_names(&requests[1]), ["HeapHigh/a", "HeapHigh/b"]);
}

#[tokio::test]
async fn a_firing_critical_alert_inhibits_warnings_on_the_same_node() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let inhibit = r#"[{source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [node]}]"#;
    let notifier = start(&receiver, &dir, inhibit);
    notifier.ingest(vec![
        alert(&[
            ("alertname", "NodeDown"),
            ("node", "a"),
            ("severity", "critical"),
        ]),
        alert(&[
            ("alertname", "HeapHigh"),
            ("node", "a"),
            ("severity", "warning"),
        ]),
        alert(&[
            ("alertname", "HeapHigh"),
            ("node", "b"),
            ("severity", "warning"),
        ]),
    ]);
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let requests = receiver.requests();
    let team = to(&requests, "team");
    let heap = team
        .iter()
        .find(|r| r.body["groupLabels"]["alertname"] == "HeapHigh")
        .unwrap();
    assert_eq!(alert_names(heap), ["HeapHigh/b"]);
    assert_eq!(
        requests.len(),
        3,
        "NodeDown to team and pager, HeapHigh/b to team"
    );
}

#[tokio::test]
async fn a_notice_goes_to_the_receivers_its_labels_route_to_once_each() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = start(&receiver, &dir, "[]");
    let labels: BTreeMap<String, String> = [
        ("runbook".to_string(), "restart-shard".to_string()),
        ("severity".to_string(), "critical".to_string()),
    ]
    .into();
    let receivers = notifier.announce(labels, "draining shard 3".into());
    // critical: `pager`, then `continue` on to the catch-all `team`.
    assert_eq!(receivers, ["pager", "team"]);
    let requests = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().len(), 2, "{requests:#?}");
    for request in &requests {
        let alert = &request.body["alerts"][0];
        assert_eq!(alert["labels"]["alertname"], "OpsdeckNotice");
        assert_eq!(alert["labels"]["runbook"], "restart-shard");
        assert_eq!(alert["annotations"]["summary"], "draining shard 3");
    }
    // A notice is not an alert: nothing is grouped, repeated or resolved.
    notifier.ingest(Vec::new());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.requests().len(), 2);
}
