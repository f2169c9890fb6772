//! Delivery over real HTTP to a local receiver that acts like Slack,
//! Discord and a generic webhook: rate limits honoured exactly, retries
//! on 5xx and hangs, permanent failure on 400, limits respected,
//! exactly-once across a crash.

mod notify_receiver;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_receiver::{Answer, Receiver};
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, NotificationsConfig, Notifier};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn alert(name: &str, pairs: &[(&str, &str)]) -> Alert {
    let mut labels: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.insert("alertname".into(), name.into());
    Alert {
        labels,
        annotations: [("summary".to_string(), format!("{name} is firing"))].into(),
        status: AlertStatus::Firing,
        starts_at_ms: now_ms() - 60_000,
        ends_at_ms: None,
        value: Some(1.0),
        generator_url: None,
    }
}

fn resolved(mut alert: Alert) -> Alert {
    alert.status = AlertStatus::Resolved;
    alert.ends_at_ms = Some(now_ms());
    alert
}

/// A config with one receiver of `kind` at `url`, grouped by alertname
/// and flushed at once. Retries are quick; a request times out after
/// `timeout`.
fn config(kind: &str, url: &str, timeout: &str) -> NotificationsConfig {
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: r\n      {kind}: {{url: '{url}'}}\n  route:\n    receiver: r\n    group_by: [alertname]\n    group_wait: 0s\n    group_interval: 200ms\n  delivery: {{timeout: {timeout}, initial_backoff: 100ms, max_backoff: 400ms, slack_min_interval: 300ms}}\n"
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    config
}

fn database(path: &Path) -> Arc<redb::Database> {
    Arc::new(redb::Database::create(path).unwrap())
}

/// Polls `done` for up to 5 s; the deliveries run on their own tasks.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met within 5 s");
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn slack_429_waits_exactly_retry_after_then_delivers_once() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::SlackRateLimited {
        retry_after_secs: 1,
    }]);
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("slack", &receiver.url("slack"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("HeapHigh", &[("severity", "critical")])]);
    let requests = receiver.wait_for(2).await;
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "retried after {gap:?}, before Retry-After"
    );
    assert!(
        gap < Duration::from_millis(1_500),
        "waited {gap:?}, far more than Retry-After"
    );
    assert_eq!(requests[0].body, requests[1].body);
    settle().await;
    assert_eq!(receiver.requests().len(), 2);
    let status = &notifier.status()[0];
    assert_eq!(
        (
            status.rate_limited_total,
            status.delivered_total,
            status.pending
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn discord_429_honours_the_float_retry_after_in_the_body() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::DiscordRateLimited { retry_after: 0.35 }]);
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("discord", &receiver.url("discord"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("ShardDown", &[("severity", "warning")])]);
    let requests = receiver.wait_for(2).await;
    let gap = requests[1].at - requests[0].at;
    // The body says 0.35 s; the Retry-After header says 2 s.
    assert!(gap >= Duration::from_millis(350), "retried after {gap:?}");
    assert!(
        gap < Duration::from_millis(1_000),
        "waited {gap:?}: the header, not the body, was used"
    );
    assert!(
        requests.iter().all(|r| r.violations.is_empty()),
        "{:?}",
        requests[0].violations
    );
    assert_eq!(requests[0].query.as_deref(), Some("wait=true"));
    eventually(|| notifier.status()[0].delivered_total == 1).await;
}

#[tokio::test]
async fn discord_waits_for_an_empty_bucket_to_refill() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::DiscordBucketEmpty { reset_after: 0.6 }]);
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("discord", &receiver.url("discord"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("A", &[]), alert("B", &[])]);
    let requests = receiver.wait_for(2).await;
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(600),
        "sent {gap:?} after the bucket emptied"
    );
    assert!(gap < Duration::from_millis(1_200), "waited {gap:?}");
    eventually(|| notifier.status()[0].delivered_total == 2).await;
    assert_eq!(notifier.status()[0].rate_limited_total, 0);
}

#[tokio::test]
async fn retries_5xx_and_hangs_with_backoff_until_delivered() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(500), Answer::Hang, Answer::Status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("webhook", &receiver.url("webhook"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("PoolExhausted", &[])]);
    let requests = receiver.wait_for(4).await;
    settle().await;
    assert_eq!(
        receiver.requests().len(),
        4,
        "delivered once, then nothing more"
    );
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    // The hang costs the 300 ms timeout before the next attempt.
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(300));
    let status = &notifier.status()[0];
    assert_eq!(
        (
            status.retries_total,
            status.delivered_total,
            status.failed_total,
            status.pending
        ),
        (3, 1, 0, 0)
    );
}

#[tokio::test]
async fn a_400_is_a_permanent_failure_reported_and_not_retried() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(400)]);
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("slack", &receiver.url("slack"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("First", &[])]);
    receiver.wait_for(1).await;
    // The next notification is not held back by the failed one.
    notifier.ingest(vec![alert("Second", &[])]);
    let requests = receiver.wait_for(2).await;
    settle().await;
    assert_eq!(receiver.requests().len(), 2);
    assert!(requests[1].body["text"]
        .as_str()
        .unwrap()
        .contains("Second"));
    let status = &notifier.status()[0];
    assert_eq!(
        (
            status.failed_total,
            status.delivered_total,
            status.retries_total
        ),
        (1, 1, 0)
    );
    let error = status.last_error.as_ref().unwrap();
    assert!(error.permanent);
    assert_eq!(error.status, Some(400));
    assert!(error.message.contains("invalid_payload"), "{error:?}");
    assert!(!format!("{status:?}").contains("secret-token"));
}

#[tokio::test]
async fn a_huge_group_is_truncated_within_the_services_limits() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: slack\n      slack: {{url: '{}'}}\n    - name: discord\n      discord: {{url: '{}'}}\n  route:\n    receiver: slack\n    group_by: [alertname]\n    group_wait: 100ms\n    routes:\n      - {{receiver: slack, continue: true}}\n      - {{receiver: discord}}\n",
        receiver.url("slack"),
        receiver.url("discord"),
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    let notifier = Notifier::start(&config, database(&dir.path().join("db"))).unwrap();
    let long = "x".repeat(5_000);
    let alerts: Vec<Alert> = (0..150)
        .map(|i| {
            let mut a = alert(
                "HeapHigh",
                &[("instance", &format!("bot-{i}")), ("detail", &long)],
            );
            a.annotations.insert("description".into(), long.clone());
            a
        })
        .collect();
    notifier.ingest(alerts);
    let requests = receiver.wait_for(2).await;
    for request in &requests {
        assert!(
            request.violations.is_empty(),
            "{}: {:?}",
            request.service,
            request.violations
        );
    }
    let slack = requests.iter().find(|r| r.service == "slack").unwrap();
    let blocks = slack.body["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(
        blocks.last().unwrap()["elements"][0]["text"],
        "and 102 more"
    );
    let discord = requests.iter().find(|r| r.service == "discord").unwrap();
    assert!(discord.body["content"].as_str().unwrap().contains("more"));
    eventually(|| notifier.status().iter().all(|s| s.delivered_total == 1)).await;
}

#[tokio::test]
async fn slack_messages_to_one_webhook_are_paced() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = Notifier::start(
        &config("slack", &receiver.url("slack"), "300ms"),
        database(&dir.path().join("db")),
    )
    .unwrap();
    notifier.ingest(vec![alert("A", &[]), alert("B", &[]), alert("C", &[])]);
    let requests = receiver.wait_for(3).await;
    for pair in requests.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(300),
            "sent {:?} apart",
            pair[1].at - pair[0].at
        );
    }
}

#[tokio::test]
async fn restart_mid_delivery_resends_exactly_once() {
    let receiver = Receiver::start().await;
    // The first attempt never gets an answer: the agent dies while waiting.
    receiver.script([Answer::Hang]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let cfg = config("webhook", &receiver.url("webhook"), "10s");
    let firing = alert("NodeDown", &[("node", "bot-1")]);
    let notifier = Notifier::start(&cfg, database(&path)).unwrap();
    notifier.ingest(vec![firing.clone()]);
    receiver.wait_for(1).await;
    notifier.shutdown().await;

    // Restart on the same database; the rule engine reports the same
    // alert again, as it would after restoring its state.
    let notifier = Notifier::start(&cfg, database(&path)).unwrap();
    notifier.ingest(vec![firing.clone()]);
    let requests = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(receiver.requests().len(), 2, "re-sent once, not twice");
    assert_eq!(requests[0].body, requests[1].body);
    notifier.shutdown().await;

    // Acknowledged now: a further restart sends nothing.
    let notifier = Notifier::start(&cfg, database(&path)).unwrap();
    notifier.ingest(vec![firing.clone()]);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        receiver.requests().len(),
        2,
        "nothing is sent twice within the dedup window"
    );
    // But a change still goes out.
    notifier.ingest(vec![resolved(firing)]);
    let requests = receiver.wait_for(3).await;
    assert_eq!(requests[2].body["status"], "resolved");
}
