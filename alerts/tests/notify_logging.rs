//! Webhook URLs are secrets: whatever goes wrong, the log names the
//! receiver and the problem, never the URL.

mod notify_receiver;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify_receiver::{Answer, Receiver};
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, Notifier};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failures_are_logged_without_the_webhook_url() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    // The test runtime is single-threaded, so every task logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let receiver = Receiver::start().await;
    receiver.script([
        Answer::Status(500),
        Answer::SlackRateLimited {
            retry_after_secs: 0,
        },
        Answer::Status(403),
    ]);
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: slack\n      slack: {{url: '{}'}}\n    - name: down\n      webhook: {{url: 'http://127.0.0.1:1/secret-token'}}\n  route:\n    receiver: slack\n    group_wait: 0s\n    routes: [{{receiver: slack, continue: true}}, {{receiver: down}}]\n  delivery: {{initial_backoff: 50ms, slack_min_interval: 10ms}}\n",
        receiver.url("slack")
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
    let notifier = Notifier::start(&config, db).unwrap();
    notifier.ingest(vec![Alert {
        labels: [("alertname".to_string(), "Leak".to_string())].into(),
        annotations: Default::default(),
        status: AlertStatus::Firing,
        starts_at_ms: chrono::Utc::now().timestamp_millis(),
        ends_at_ms: None,
        value: None,
        generator_url: None,
    }]);
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    notifier.shutdown().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("will retry"), "{log}");
    assert!(log.contains("rate limited"), "{log}");
    assert!(log.contains("rejected permanently"), "{log}");
    assert!(
        log.contains("Connection refused") || log.contains("connection"),
        "{log}"
    );
    assert!(
        !log.contains("secret-token"),
        "a webhook URL was logged:\n{log}"
    );
    assert!(!log.contains("/T0/B0"), "a webhook URL was logged:\n{log}");
}
