//! Exactly once across a real crash: a child process runs the notifier
//! and is killed with SIGKILL while its receiver holds the request open;
//! the notifier restarted on the same database file re-sends that
//! notification once, and only once.

mod notify_receiver;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use notify_receiver::{Answer, Receiver};
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, NotificationsConfig, Notifier};

const URL_VAR: &str = "OPSDECK_TEST_CRASH_URL";
const DB_VAR: &str = "OPSDECK_TEST_CRASH_DB";
const STARTS_AT_VAR: &str = "OPSDECK_TEST_CRASH_STARTS_AT";

fn config(url: &str) -> NotificationsConfig {
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: hook\n      webhook: {{url: '{url}'}}\n  route: {{receiver: hook, group_wait: 0s, group_by: [alertname]}}\n  delivery: {{timeout: 30s}}\n"
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    config
}

fn alert(starts_at_ms: i64) -> Alert {
    Alert {
        labels: BTreeMap::from([("alertname".to_string(), "NodeDown".to_string())]),
        annotations: BTreeMap::new(),
        status: AlertStatus::Firing,
        starts_at_ms,
        ends_at_ms: None,
        value: None,
        generator_url: None,
    }
}

fn start(url: &str, db: &Path) -> Notifier {
    Notifier::start(&config(url), Arc::new(redb::Database::create(db).unwrap())).unwrap()
}

/// The child's side; run only by `restart_after_sigkill_resends_exactly_once`.
#[tokio::test]
#[ignore = "run as a child process by restart_after_sigkill_resends_exactly_once"]
async fn crash_child() {
    let url = std::env::var(URL_VAR).unwrap();
    let db = std::env::var(DB_VAR).unwrap();
    let starts_at: i64 = std::env::var(STARTS_AT_VAR).unwrap().parse().unwrap();
    let notifier = start(&url, Path::new(&db));
    notifier.ingest(vec![alert(starts_at)]);
    // Killed long before this ends.
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn restart_after_sigkill_resends_exactly_once() {
    let receiver = Receiver::start().await;
    // The child's request is never answered: it dies waiting.
    receiver.script([Answer::Hang]);
    let url = receiver.url("webhook");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.redb");
    let starts_at = chrono::Utc::now().timestamp_millis() - 10_000;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_child", "--nocapture"])
        .env(URL_VAR, &url)
        .env(DB_VAR, &db)
        .env(STARTS_AT_VAR, starts_at.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let first = receiver.wait_for(1).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let notifier = start(&url, &db);
    // The rule engine reports the alert again after its own restart.
    notifier.ingest(vec![alert(starts_at)]);
    let requests = receiver.wait_for(2).await;
    assert_eq!(requests[1].body, first[0].body);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        receiver.requests().len(),
        2,
        "re-sent once after the crash, not twice"
    );
    assert_eq!(notifier.status()[0].delivered_total, 1);
    assert_eq!(notifier.status()[0].pending, 0);
}
