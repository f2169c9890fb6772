//! `opsdeck silence add|list|expire`, the real binary against a real agent
//! whose rule fires on a scraped fixture: the silence shows in the list,
//! mutes the alert in the agent's snapshot, and after `expire` is listed as
//! expired and mutes nothing. Malformed matchers and a viewer token's write
//! are refused with a message that says what was wrong.

mod agent_support;

use std::process::{Command, Output};

use agent_support::{Agent, Behavior, FixtureServer};
use opsdeck_agent::api::Snapshot;

const OPERATOR: &str = "op-secret";
const VIEWER: &str = "view-secret";

/// Shard 3 is not ready, so `ShardNotReady{shard="3"}` fires.
const APP: &str = "# TYPE app_shard_ready gauge\napp_shard_ready{shard=\"2\"} 1\napp_shard_ready{shard=\"3\"} 0\n";

const RULES: &str = "groups:\n  - name: shards\n    interval: 1s\n    rules:\n      - alert: ShardNotReady\n        expr: app_shard_ready == 0\n        labels: {severity: warning}\n";

struct Setup {
    _app: FixtureServer,
    _rules_dir: tempfile::TempDir,
    agent: Agent,
}

fn start() -> Setup {
    let app = FixtureServer::start();
    let url = app.route("/metrics", Behavior::Body("text/plain", APP.into()));
    let rules_dir = tempfile::tempdir().expect("temp dir");
    let rules = rules_dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).expect("rule file");
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\n\
scrape:\n  - name: app\n    url: {url}\n    interval: 250ms\n    timeout: 200ms\n\
rules:\n  default_pack: false\n  files: [{}]\n\
auth:\n  operator_tokens:\n    - {{name: oncall, token: {OPERATOR}}}\n  viewer_tokens:\n    - {{name: grafana, token: {VIEWER}}}\n",
        rules.display()
    ));
    agent.snapshot_where("ShardNotReady firing", |s| shard_alert(s).is_some());
    Setup {
        _app: app,
        _rules_dir: rules_dir,
        agent,
    }
}

/// Whether the shard-3 alert is silenced, when it is listed.
fn shard_alert(snapshot: &Snapshot) -> Option<bool> {
    snapshot
        .alerts
        .iter()
        .find(|a| {
            a.name == "ShardNotReady" && a.labels.get("shard").map(String::as_str) == Some("3")
        })
        .map(|a| a.silenced)
}

/// `opsdeck silence ARGS`, with no token or user from the environment.
fn silence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("silence")
        .args(args)
        .env_remove("OPSDECK_TOKEN")
        .env_remove("USER")
        .output()
        .expect("run opsdeck silence")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The table line that lists silence `id`.
fn listed<'a>(table: &'a str, id: &str) -> Option<&'a str> {
    table.lines().find(|line| line.starts_with(id))
}

#[test]
fn add_list_mute_expire() {
    let setup = start();
    let agent = &setup.agent;
    let added = silence(&[
        "add",
        "--agent",
        &agent.url,
        "--token",
        OPERATOR,
        "--duration",
        "2h",
        "--comment",
        "rolling shards 3 and 4",
        "--author",
        "alice",
        "alertname=ShardNotReady",
        r#"shard=~"3|4""#,
        r#"node!~"bot-9.*""#,
    ]);
    assert!(added.status.success(), "add: {}", stderr(&added));
    let id = stdout(&added).trim().to_string();
    assert_eq!(id.len(), 36, "add prints the silence id: {id:?}");

    let list = silence(&["list", "--agent", &agent.url]);
    assert!(list.status.success(), "list: {}", stderr(&list));
    let table = stdout(&list);
    let row = listed(&table, &id).unwrap_or_else(|| panic!("{id} not listed:\n{table}"));
    for cell in [
        r#"alertname="ShardNotReady" shard=~"3|4""#,
        r#"node!~"bot-9.*""#,
        "active",
        "(in 1h59m",
        "alice (oncall)",
        "rolling shards 3 and 4",
    ] {
        assert!(row.contains(cell), "{cell:?} missing from {row:?}");
    }
    agent.snapshot_where("the alert silenced", |s| shard_alert(s) == Some(true));

    let expired = silence(&["expire", "--agent", &agent.url, "--token", OPERATOR, &id]);
    assert!(expired.status.success(), "expire: {}", stderr(&expired));
    assert!(
        stdout(&expired).starts_with(&format!("silence {id} expired at ")),
        "{}",
        stdout(&expired)
    );
    agent.snapshot_where("the alert no longer silenced", |s| {
        shard_alert(s) == Some(false)
    });

    let current = stdout(&silence(&["list", "--agent", &agent.url]));
    assert!(
        listed(&current, &id).is_none(),
        "expired silences are hidden:\n{current}"
    );
    let all = stdout(&silence(&["list", "--agent", &agent.url, "--all"]));
    let row = listed(&all, &id).unwrap_or_else(|| panic!("{id} not in --all:\n{all}"));
    assert!(row.contains("expired") && row.contains(" ago)"), "{row}");

    let unknown = silence(&[
        "expire",
        "--agent",
        &agent.url,
        "--token",
        OPERATOR,
        "no-such-id",
    ]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("404") && stderr(&unknown).contains("no-such-id"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn malformed_matchers_and_viewer_writes_are_refused() {
    let setup = start();
    let agent = &setup.agent;
    let add = |token: &str, matcher: &str| {
        silence(&[
            "add",
            "--agent",
            &agent.url,
            "--token",
            token,
            "--comment",
            "x",
            "--author",
            "bob",
            matcher,
        ])
    };
    for (matcher, reason) in [
        (r#"shard=~"(3""#, "invalid regular expression"),
        ("alertname", "expected one of =, !=, =~, !~"),
        ("9shard=3", "not a valid label name"),
    ] {
        let output = add(OPERATOR, matcher);
        let message = stderr(&output);
        assert!(!output.status.success(), "{matcher} accepted");
        assert!(
            message.contains(&format!("'{matcher}' for '<MATCHER>...'"))
                && message.contains(reason),
            "{matcher}: {message}"
        );
    }

    let viewer = add(VIEWER, "alertname=ShardNotReady");
    assert!(!viewer.status.success(), "a viewer token created a silence");
    let message = stderr(&viewer);
    assert!(
        message.contains("403") && message.contains("needs an operator token"),
        "{message}"
    );
    let anonymous = silence(&[
        "add",
        "--agent",
        &agent.url,
        "--comment",
        "x",
        "--author",
        "bob",
        "alertname=ShardNotReady",
    ]);
    assert!(
        stderr(&anonymous).contains("401") && stderr(&anonymous).contains("operator token"),
        "{}",
        stderr(&anonymous)
    );

    let all = silence(&["list", "--agent", &agent.url, "--all", "--token", VIEWER]);
    assert!(all.status.success(), "a viewer may list: {}", stderr(&all));
    assert_eq!(
        stdout(&all).lines().count(),
        1,
        "only the header:\n{}",
        stdout(&all)
    );
    assert_eq!(shard_alert(&agent.snapshot()), Some(false));
}
