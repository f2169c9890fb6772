//! Pushes to a real Alertmanager (the Debian `prometheus-alertmanager`
//! package) through its API v2, and reads the alert back. Skipped, with a
//! message, when the binary is not installed.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::{Alert, AlertStatus, Notifier};

fn find_alertmanager() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            [
                dir.join("prometheus-alertmanager"),
                dir.join("alertmanager"),
            ]
        })
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the Alertmanager when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_alerts(client: &reqwest::Client, base: &str) -> Option<Vec<serde_json::Value>> {
    let response = client
        .get(format!("{base}/api/v2/alerts"))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

#[tokio::test]
async fn firing_alerts_arrive_in_a_real_alertmanager() {
    let Some(binary) = find_alertmanager() else {
        println!("skipped: prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _alertmanager = Running(
        Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while get_alerts(&client, &base).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not start on {base}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let yaml = format!(
        "notifications:\n  receivers:\n    - name: am\n      alertmanager: {{url: '{base}', resend_delay: 1s}}\n  route: {{receiver: am}}\n"
    );
    let mut notifications = parse_notifications_section(&yaml).unwrap();
    notifications.load_secrets(&|_| None).unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
    let notifier = Notifier::start(&notifications, db).unwrap();
    let labels: BTreeMap<String, String> = [
        ("alertname", "ShardDown"),
        ("shard", "7"),
        ("severity", "critical"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let firing = Alert {
        labels,
        annotations: [("summary".to_string(), "shard 7 is down".to_string())].into(),
        status: AlertStatus::Firing,
        starts_at_ms: chrono::Utc::now().timestamp_millis() - 5_000,
        ends_at_ms: None,
        value: Some(0.0),
        generator_url: Some("http://127.0.0.1:9464/api/v1/rules".into()),
    };
    notifier.ingest(vec![firing.clone()]);

    let deadline = Instant::now() + Duration::from_secs(10);
    let received = loop {
        let alerts = get_alerts(&client, &base).await.unwrap_or_default();
        if let Some(alert) = alerts
            .into_iter()
            .find(|a| a["labels"]["alertname"] == "ShardDown")
        {
            break alert;
        }
        assert!(
            Instant::now() < deadline,
            "the alert never reached alertmanager"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(received["labels"]["shard"], "7");
    assert_eq!(received["annotations"]["summary"], "shard 7 is down");
    assert_eq!(received["status"]["state"], "active");

    // Re-sent every resend_delay, like Prometheus does.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        notifier.status()[0].delivered_total >= 2,
        "{:?}",
        notifier.status()
    );

    // Resolution reaches it too: the alert leaves the active list.
    let mut resolved = firing;
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at_ms = Some(chrono::Utc::now().timestamp_millis());
    notifier.ingest(vec![resolved]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alerts = get_alerts(&client, &base).await.unwrap_or_default();
        let active = alerts
            .iter()
            .any(|a| a["labels"]["alertname"] == "ShardDown" && a["status"]["state"] == "active");
        if !active {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the resolution never reached alertmanager"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
