//! `opsdeck notify test`'s library side: a marked test message to each
//! receiver, and the outcome of each.

mod notify_receiver;

use std::time::Duration;

use notify_receiver::{Answer, Receiver};
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::delivery::Outcome;
use opsdeck_alerts::notify::probe::{send_test_messages, ProbeError};
use opsdeck_alerts::notify::NotificationsConfig;

fn config(receiver: &Receiver) -> NotificationsConfig {
    let yaml = format!(
        "notifications:\n  receivers:\n    - name: slack\n      slack: {{url: '{}'}}\n    - name: discord\n      discord: {{url: '{}'}}\n    - name: down\n      webhook: {{url: 'http://127.0.0.1:1/hook'}}\n  route: {{receiver: slack}}\n",
        receiver.url("slack"),
        receiver.url("discord"),
    );
    let mut config = parse_notifications_section(&yaml).unwrap();
    config.load_secrets(&|_| None).unwrap();
    config
}

#[tokio::test]
async fn sends_a_marked_test_message_to_each_receiver_and_reports_each_outcome() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Ok, Answer::Status(404)]);
    let results = send_test_messages(&config(&receiver), None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].outcome, Outcome::Delivered { status: 200 });
    assert!(matches!(
        results[1].outcome,
        Outcome::Permanent {
            status: Some(404),
            ..
        }
    ));
    match &results[2].outcome {
        Outcome::Transient { reason } => assert!(reason.contains("connection"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let requests = receiver.requests();
    assert!(
        requests.iter().all(|r| r.violations.is_empty()),
        "{requests:#?}"
    );
    assert!(requests[0].body["text"]
        .as_str()
        .unwrap()
        .starts_with("[TEST]"));
    assert!(requests[1].body["content"]
        .as_str()
        .unwrap()
        .contains("[TEST]"));
}

#[tokio::test]
async fn one_receiver_by_name_and_unknown_names_are_errors() {
    let receiver = Receiver::start().await;
    let config = config(&receiver);
    let results = send_test_messages(&config, Some("discord"), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(receiver.requests()[0].service, "discord");
    let err = send_test_messages(&config, Some("nope"), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, ProbeError::UnknownReceiver { .. }));
    assert!(err.to_string().contains("slack, discord, down"), "{err}");
}
