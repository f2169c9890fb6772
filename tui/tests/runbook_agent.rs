//! The TUI's runbook client against a real agent and a real demo node,
//! both in-process on 127.0.0.1: the runbook list, a dry run, starting
//! `drain-shard` and following it into the fleet state until it ends, the
//! audit record, and a viewer token refused.

use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use opsdeck_demo::{DemoNode, DemoNodeConfig, Incidents};
use opsdeck_runbooks::ActionStatus;
use opsdeck_tui::app::runbook::RunbookReply;
use opsdeck_tui::app::Effect;
use opsdeck_tui::client::{http_client, AgentTarget};
use opsdeck_tui::event::AppEvent;
use opsdeck_tui::fleet::{FleetHandle, FleetState};
use opsdeck_tui::services::Services;

const OPERATOR: &str = "op-secret";
const VIEWER: &str = "view-secret";
const WAIT: Duration = Duration::from_secs(40);

/// The next runbook reply, skipping other events.
fn reply(events: &Receiver<AppEvent>) -> RunbookReply {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(AppEvent::Runbook(reply)) => return *reply,
            Ok(_) => {}
            Err(error) => panic!("no runbook reply: {error}"),
        }
    }
}

fn agent_config(data_dir: &Path, app_url: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\ndata_dir: {}\ninterval: 1s\nhost:\n  enabled: false\n\
auth:\n  operator_tokens:\n    - {{name: oncall, token: {OPERATOR}}}\n  viewer_tokens:\n    - {{name: grafana, token: {VIEWER}}}\n\
scrape:\n  - name: app\n    url: {app_url}/metrics\n    interval: 250ms\n    timeout: 200ms\n",
        data_dir.display()
    )
}

#[test]
fn runbook_client_drives_a_real_agent() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut node_config = DemoNodeConfig::new("node-1", 4, 11);
    node_config.speed = 10.0;
    node_config.incidents = Incidents::Scripted(Vec::new());
    let node = runtime.block_on(DemoNode::start(node_config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = agent_config(&dir.path().join("data"), node.url());
    let config = opsdeck_agent::config::parse(&text, Path::new("agent.yaml")).unwrap();
    let agent = runtime.block_on(opsdeck_agent::start(config)).unwrap();

    let target = |id, token: &str| AgentTarget {
        id,
        url: agent.url().to_string(),
        token: Some(token.to_string()),
    };
    let (wake_tx, _wake_rx) = mpsc::channel();
    let fleet = FleetHandle::new(
        FleetState::new([
            ("operator".to_string(), agent.url().to_string()),
            ("viewer".to_string(), agent.url().to_string()),
        ]),
        wake_tx,
    );
    let (tx, events) = mpsc::channel();
    let mut services = Services::new(
        runtime.handle().clone(),
        http_client().unwrap(),
        vec![target(0, OPERATOR), target(1, VIEWER)],
        tx,
        false,
    );
    services.follow_agents(&fleet);

    services.perform(Effect::LoadRunbooks { agent: 0 });
    let RunbookReply::Runbooks { result, .. } = reply(&events) else {
        panic!("expected the runbook list");
    };
    let ids: Vec<String> = result.unwrap().into_iter().map(|r| r.id).collect();
    assert!(ids.iter().any(|id| id == "drain-shard"), "{ids:?}");

    // Dry-run until the agent has scraped the shards ready and every check holds.
    let params: std::collections::BTreeMap<String, String> =
        [("shard".to_string(), "1".to_string())].into();
    let deadline = Instant::now() + WAIT;
    let plan = loop {
        services.perform(Effect::DryRun {
            agent: 0,
            runbook: "drain-shard".into(),
            params: params.clone(),
        });
        let RunbookReply::Plan { result, .. } = reply(&events) else {
            panic!("expected a plan");
        };
        let plan = result.unwrap();
        if plan.checks.iter().all(|c| c.holds) {
            break plan;
        }
        assert!(Instant::now() < deadline, "checks never held: {plan:?}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(plan.shards, ["1"]);
    assert_eq!(plan.blast_radius.shards.len(), 1);
    assert_eq!(plan.blast_radius.unit, "guilds");
    assert!(plan
        .steps
        .iter()
        .any(|s| s.detail.contains("/admin/shards/1/drain")));

    services.perform(Effect::StartAction {
        agent: 1,
        node: "viewer".into(),
        runbook: "drain-shard".into(),
        params: params.clone(),
    });
    let RunbookReply::Started { result, .. } = reply(&events) else {
        panic!("expected a start reply");
    };
    let refused = result.unwrap_err();
    assert!(refused.contains("403"), "{refused}");

    services.perform(Effect::StartAction {
        agent: 0,
        node: "operator".into(),
        runbook: "drain-shard".into(),
        params,
    });
    let RunbookReply::Started { result, .. } = reply(&events) else {
        panic!("expected a start reply");
    };
    let id = result.unwrap().id;
    // The poller writes each record into the fleet state until the end.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = fleet.read().agents[0]
            .actions
            .get(&id)
            .map(|a| a.record.status);
        if let Some(status) = status.filter(|s| s.is_terminal()) {
            break status;
        }
        assert!(Instant::now() < deadline, "action {id} still {status:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, ActionStatus::Succeeded);

    services.perform(Effect::LoadAudit { agent: 0 });
    let RunbookReply::Audit { result, .. } = reply(&events) else {
        panic!("expected the audit");
    };
    let records = result.unwrap();
    let record = records.iter().find(|r| r.id == id).unwrap();
    assert_eq!(record.requested_by, "oncall");

    drop(agent);
    runtime.block_on(node.shutdown()).ok();
}
