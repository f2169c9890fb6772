//! Runbook actions end to end: a real demo node (in-process, no incident
//! timeline so only the test changes it), a real `opsdeck agent` process
//! scraping it, and the actions API over HTTP.

mod agent_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_support::{eventually, Agent};
use opsdeck_demo::{DemoNode, DemoNodeConfig, DemoNodeHandle, Incidents};
use serde_json::{json, Value};

const OPERATOR: &str = "op-secret";
const VIEWER: &str = "view-secret";
const ACTION_WAIT: Duration = Duration::from_secs(45);

/// A demo node and the runtime that serves it.
struct Node {
    runtime: tokio::runtime::Runtime,
    handle: Option<DemoNodeHandle>,
    url: String,
}

impl Node {
    fn start(shards: u32, speed: f64) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut config = DemoNodeConfig::new("node-1", shards, 11);
        config.speed = speed;
        config.incidents = Incidents::Scripted(Vec::new());
        let handle = runtime.block_on(DemoNode::start(config)).unwrap();
        let url = handle.url().to_string();
        Node {
            runtime,
            handle: Some(handle),
            url,
        }
    }

    fn shard(&self, id: u32) -> Value {
        reqwest::blocking::get(format!("{}/admin/shards/{id}", self.url))
            .unwrap()
            .json()
            .unwrap()
    }

    fn post(&self, path: &str) -> u16 {
        reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = self.runtime.block_on(handle.shutdown());
        }
    }
}

/// The agent config: fast scrapes of `node`, an operator and a viewer token.
fn write_config(dir: &Path, node: &Node, extra: &str) -> PathBuf {
    let path = dir.join("agent.yaml");
    let config = format!(
        "listen:\n  address: 127.0.0.1:0\ndata_dir: {}\ninterval: 1s\nhost:\n  enabled: false\n\
auth:\n  operator_tokens:\n    - {{name: oncall, token: {OPERATOR}}}\n  viewer_tokens:\n    - {{name: grafana, token: {VIEWER}}}\n\
scrape:\n  - name: app\n    url: {}/metrics\n    interval: 250ms\n    timeout: 200ms\n{extra}",
        dir.join("data").display(),
        node.url
    );
    std::fs::write(&path, config).unwrap();
    path
}

fn start_agent(dir: &Path, node: &Node, extra: &str) -> Agent {
    let path = write_config(dir, node, extra);
    Agent::start_with_file(&path, tempfile::tempdir().unwrap())
}

fn post(agent: &Agent, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}{path}", agent.url))
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn action(agent: &Agent, id: &str) -> Value {
    agent.get(&format!("/api/v1/actions/{id}")).json().unwrap()
}

/// Waits until every shard is scraped as ready, so checks see real data.
fn wait_all_ready(agent: &Agent, shards: usize) {
    eventually("every shard scraped ready", ACTION_WAIT, || {
        (agent.query("app_shard_status_code == 5").len() == shards).then_some(())
    });
}

fn start_action(agent: &Agent, runbook: &str, shard: &str) -> String {
    let (status, body) = post(
        agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": runbook, "params": {"shard": shard}, "confirmed": true}),
    );
    assert_eq!(status, 202, "{body}");
    body["action"]["id"].as_str().unwrap().to_string()
}

fn wait_status(agent: &Agent, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(what, ACTION_WAIT, || {
        let record = action(agent, id);
        done(&record).then_some(record)
    })
}

fn wait_terminal(agent: &Agent, id: &str) -> Value {
    let terminal = [
        "succeeded",
        "failed",
        "cancelled",
        "rolled_back",
        "interrupted",
    ];
    wait_status(agent, id, "the action to end", |r| {
        terminal.contains(&r["status"].as_str().unwrap_or(""))
    })
}

fn step_names(record: &Value) -> Vec<String> {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}:{}",
                s["phase"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
                s["result"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn restart_shard_drains_restarts_and_returns_its_guilds() {
    let node = Node::start(4, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 4);
    let guilds_before = node.shard(2)["home_guilds"].as_u64().unwrap();

    let (status, dry) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "restart-shard", "params": {"shard": "2"}, "dry_run": true}),
    );
    assert_eq!(status, 200, "{dry}");
    let plan = &dry["plan"];
    assert_eq!(plan["blast_radius"]["shards"][0]["shard"], "2", "{plan}");
    assert_eq!(
        plan["blast_radius"]["total_load"].as_f64().unwrap() as u64,
        guilds_before
    );
    assert!(
        plan["steps"][0]["detail"]
            .as_str()
            .unwrap()
            .ends_with("/admin/shards/2/drain [timeout 10s]"),
        "{plan}"
    );
    assert!(
        plan["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["holds"] == true),
        "{plan}"
    );
    assert!(dry["action"].is_null());

    let id = start_action(&agent, "restart-shard", "2");
    let record = wait_terminal(&agent, &id);
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(
        step_names(&record),
        [
            "main:drain:succeeded",
            "main:wait until drained:succeeded",
            "main:restart:succeeded",
            "main:wait until ready:succeeded",
            "main:resume:succeeded",
            "main:wait until guilds return:succeeded"
        ]
    );
    assert_eq!(record["requested_by"], "oncall");
    let shard = node.shard(2);
    assert_eq!(shard["state"], "ready", "{shard}");
    assert_eq!(shard["restarts"], 1, "{shard}");
    eventually("guilds back on shard 2", ACTION_WAIT, || {
        (node.shard(2)["guilds"].as_u64() == Some(guilds_before)).then_some(())
    });

    let audit: Value = agent.get("/api/v1/audit").json().unwrap();
    assert_eq!(audit["actions"][0]["id"], id.as_str());
    agent.snapshot_where("the action in the snapshot", |s| {
        s.actions
            .iter()
            .any(|a| a.id == id && a.status == "succeeded")
    });
}

#[test]
fn a_failing_guard_stops_the_run_before_the_drain() {
    let node = Node::start(4, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 4);
    // Shard 1 is taken out of service behind the agent's back.
    assert_eq!(node.post("/admin/shards/1/drain"), 202);
    eventually("shard 1 scraped drained", ACTION_WAIT, || {
        (!agent
            .query(r#"app_shard_status_code{shard="1"} == 4"#)
            .is_empty())
        .then_some(())
    });

    let id = start_action(&agent, "restart-shard", "2");
    let record = wait_terminal(&agent, &id);
    assert_eq!(record["status"], "failed", "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("all other shards ready"), "{error}");
    assert!(step_names(&record).is_empty(), "{record}");
    let shard = node.shard(2);
    assert_eq!(
        (shard["state"].as_str(), shard["restarts"].as_u64()),
        (Some("ready"), Some(0))
    );
}

#[test]
fn cancel_mid_run_rolls_back_and_locks_hold_meanwhile() {
    // Real-time speed: a drain takes 5 s, time enough to act during it.
    let node = Node::start(4, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 4);
    let id = start_action(&agent, "restart-shard", "2");
    wait_status(&agent, &id, "waiting for the drain", |r| {
        r["current_step"] == "wait until drained"
    });

    // One action per shard, and at most one shard unavailable on the node.
    let (status, body) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "drain-shard", "params": {"shard": "2"}}),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("locked"), "{body}");
    let (status, body) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "drain-shard", "params": {"shard": "3"}}),
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("max_unavailable"),
        "{body}"
    );
    // A viewer may read but not act.
    let (status, _) = post(
        &agent,
        &format!("/api/v1/actions/{id}/cancel"),
        VIEWER,
        &json!({}),
    );
    assert_eq!(status, 403);

    let cancel = opsdeck(&[
        "runbook", "cancel", &id, "--agent", &agent.url, "--token", OPERATOR,
    ]);
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    let record = wait_terminal(&agent, &id);
    assert_eq!(record["status"], "cancelled", "{record}");
    let steps = step_names(&record);
    assert_eq!(
        steps.first().map(String::as_str),
        Some("main:drain:succeeded")
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("rollback:resume:succeeded"),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.starts_with("main:restart")),
        "{steps:?}"
    );
    eventually("shard 2 serving again", ACTION_WAIT, || {
        let shard = node.shard(2);
        (shard["state"] == "ready" && shard["lent_guilds"] == 0).then_some(())
    });
    assert_eq!(node.shard(2)["restarts"], 0);
}

#[test]
fn an_action_cut_by_kill_9_is_interrupted_and_offers_rollback() {
    let node = Node::start(4, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 4);
    let id = start_action(&agent, "restart-shard", "2");
    wait_status(&agent, &id, "waiting for the drain", |r| {
        r["current_step"] == "wait until drained"
    });
    drop(agent); // SIGKILL: no chance to write anything more.

    let agent = start_agent(dir.path(), &node, "");
    let record = action(&agent, &id);
    assert_eq!(record["status"], "interrupted", "{record}");
    assert_eq!(record["rollback_available"], true);
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("wait until drained"),
        "{record}"
    );
    // Never resumed: the shard is not restarted by itself.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(node.shard(2)["restarts"], 0);

    // The CLI runs the offered rollback and follows it to the end.
    let rollback = opsdeck(&[
        "runbook", "rollback", &id, "--agent", &agent.url, "--token", OPERATOR,
    ]);
    let printed = String::from_utf8_lossy(&rollback.stdout);
    assert!(rollback.status.success(), "{printed}{rollback:?}");
    assert!(printed.contains("→ rollback resume"), "{printed}");
    assert!(printed.ends_with("rolled_back\n"), "{printed}");
    let record = action(&agent, &id);
    assert_eq!(record["status"], "rolled_back", "{record}");
    assert!(
        step_names(&record)
            .iter()
            .any(|s| s == "rollback:resume:succeeded"),
        "{record}"
    );
    eventually("shard 2 serving again", ACTION_WAIT, || {
        (node.shard(2)["state"] == "ready").then_some(())
    });
}

#[test]
fn hostile_params_are_rejected_and_the_switch_and_tty_rules_hold() {
    let node = Node::start(4, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    for hostile in ["2;reboot", "$(id)", "../2", "2\n3", ""] {
        let (status, body) = post(
            &agent,
            "/api/v1/actions",
            OPERATOR,
            &json!({"runbook": "restart-shard", "params": {"shard": hostile}, "dry_run": true}),
        );
        assert_eq!(status, 422, "{hostile:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("param `shard`"),
            "{body}"
        );
    }
    for hostile in ["main;reboot", "$(id)", "../main", "main\nx"] {
        let (status, body) = post(
            &agent,
            "/api/v1/actions",
            OPERATOR,
            &json!({"runbook": "recycle-pool", "params": {"pool": hostile}, "dry_run": true}),
        );
        assert_eq!(status, 422, "{hostile:?}: {body}");
    }
    let (status, _) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "restart-shard", "params": {"shard": "2", "extra": "x"}, "dry_run": true}),
    );
    assert_eq!(status, 422);

    // No terminal and no --yes: a disruptive runbook is refused by the CLI.
    let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args([
            "runbook",
            "run",
            "restart-shard",
            "--agent",
            &agent.url,
            "--token",
            OPERATOR,
            "--param",
            "shard=2",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(node.shard(2)["restarts"], 0);
    drop(agent);

    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "actions: disabled\n");
    let (status, body) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "drain-shard", "params": {"shard": "2"}, "dry_run": true}),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("disabled"),
        "{body}"
    );
}

#[test]
fn rolling_restart_walks_every_shard_one_at_a_time_highest_first() {
    let node = Node::start(3, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 3);
    let (status, body) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "rolling-restart-node", "params": {"pace": "200ms"}, "confirmed": true}),
    );
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["plan"]["shards"], json!(["2", "1", "0"]));
    assert_eq!(body["plan"]["blast_radius"]["max_unavailable"], 1);
    let id = body["action"]["id"].as_str().unwrap();
    let record = wait_terminal(&agent, id);
    assert_eq!(record["status"], "succeeded", "{record}");
    let restarts: Vec<&str> = record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "restart")
        .map(|s| s["target"].as_str().unwrap())
        .collect();
    assert_eq!(restarts, ["2", "1", "0"]);
    for shard in 0..3 {
        let view = node.shard(shard);
        assert_eq!(
            (view["state"].as_str(), view["restarts"].as_u64()),
            (Some("ready"), Some(1)),
            "{view}"
        );
    }
}

fn opsdeck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn cli_lists_shows_and_runs_with_progress_and_keys_are_idempotent() {
    let list = opsdeck(&["runbook", "list"]);
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout);
    for id in [
        "drain-shard",
        "resume-shard",
        "restart-shard",
        "rolling-restart-node",
        "recycle-pool",
        "restart-node",
    ] {
        assert!(list.contains(id), "{list}");
    }
    let show = opsdeck(&["runbook", "show", "restart-shard"]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("wait until drained (wait_until)"), "{show}");
    assert!(!opsdeck(&["runbook", "show", "nope"]).status.success());

    let node = Node::start(4, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &node, "");
    wait_all_ready(&agent, 4);
    let run = opsdeck(&[
        "runbook",
        "run",
        "drain-shard",
        "--agent",
        &agent.url,
        "--token",
        OPERATOR,
        "--param",
        "shard=1",
        "--yes",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("→ main drain") && stdout.contains("→ main wait until drained"),
        "{stdout}"
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert_eq!(node.shard(1)["state"], "drained");

    let request =
        json!({"runbook": "resume-shard", "params": {"shard": "1"}, "idempotency_key": "k1"});
    let (first_status, first) = post(&agent, "/api/v1/actions", OPERATOR, &request);
    assert_eq!(first_status, 202, "{first}");
    let (again_status, again) = post(&agent, "/api/v1/actions", OPERATOR, &request);
    assert_eq!(
        (again_status, &again["existing"]),
        (200, &json!(true)),
        "{again}"
    );
    assert_eq!(again["action"]["id"], first["action"]["id"]);
    let id = first["action"]["id"].as_str().unwrap();
    assert_eq!(wait_terminal(&agent, id)["status"], "succeeded");
}

/// A webhook receiver on `runtime`: every JSON body it is sent.
fn start_webhook(runtime: &tokio::runtime::Runtime) -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, bodies)
}

#[test]
fn restart_node_waits_for_approval_then_restarts_every_shard() {
    let node = Node::start(3, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let (hook, notices) = start_webhook(&node.runtime);
    let notifications = format!(
        "notifications:\n  receivers:\n    - name: chat\n      webhook: {{url: '{hook}'}}\n  route:\n    receiver: chat\n"
    );
    let agent = start_agent(dir.path(), &node, &notifications);
    wait_all_ready(&agent, 3);
    let ready_before: Vec<f64> = (0..3)
        .map(|shard| {
            node.shard(shard)["ready_timestamp_seconds"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let (status, body) = post(
        &agent,
        "/api/v1/actions",
        OPERATOR,
        &json!({"runbook": "restart-node"}),
    );
    assert_eq!(status, 202, "{body}");
    let id = body["action"]["id"].as_str().unwrap().to_string();
    wait_status(&agent, &id, "awaiting confirmation", |r| {
        r["status"] == "awaiting_confirmation"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(node.shard(0)["restarts"], 0, "nothing runs before approval");

    let (status, body) = post(
        &agent,
        &format!("/api/v1/actions/{id}/approve"),
        OPERATOR,
        &json!({}),
    );
    assert_eq!(status, 202, "{body}");
    let record = wait_terminal(&agent, &id);
    assert_eq!(record["status"], "succeeded", "{record}");
    let last = record["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "notify");
    let node_name = agent.snapshot().node.name;
    assert!(
        last["output"].as_str().unwrap().contains(&node_name),
        "{last}"
    );
    // The notify step reached the chat receiver, once, as a notice.
    eventually("the notice is delivered", Duration::from_secs(10), || {
        (!notices.lock().unwrap().is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let delivered = notices.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let notice = &delivered[0]["alerts"][0];
    assert_eq!(notice["labels"]["alertname"], "OpsdeckNotice");
    assert_eq!(notice["labels"]["runbook"], "restart-node");
    assert_eq!(notice["labels"]["node"], node_name.as_str());
    assert!(
        notice["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("restarted; every shard is ready"),
        "{notice}"
    );
    // A new process counts its restarts from zero; the shards' READY
    // times say they came back after the restart.
    for (shard, before) in (0..3).zip(ready_before) {
        let view = node.shard(shard);
        assert_eq!(view["state"], "ready", "{view}");
        assert!(
            view["ready_timestamp_seconds"].as_f64().unwrap() > before,
            "{view}"
        );
    }
}

/// A deployment's own runbook, from `actions.runbook_dirs`, replaces the
/// built-in one of the same id and runs its own lever (here `touch`, as
/// `pm2 restart` or `kubectl delete pod` would be).
#[test]
fn a_runbook_from_a_runbook_dir_replaces_the_built_in_one_and_runs() {
    let node = Node::start(3, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir(&runbooks).unwrap();
    let marker = dir.path().join("restarted-2");
    std::fs::write(
        runbooks.join("restart-shard.yaml"),
        format!(
            "id: restart-shard\ntitle: Restart a shard (PM2)\ndescription: one pm2 process per shard\n\
risk: disruptive\nparams:\n  shard: {{ type: shard, required: true }}\n\
steps:\n  - name: restart\n    exec: {{ argv: [touch, '{}/restarted-{{{{ shard }}}}'] }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let extra = format!("actions:\n  runbook_dirs: ['{}']\n", runbooks.display());
    let agent = start_agent(dir.path(), &node, &extra);
    let catalog: Value = agent.get("/api/v1/runbooks").json().unwrap();
    let titles: Vec<&str> = catalog["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == "restart-shard")
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Restart a shard (PM2)"]);
    let id = start_action(&agent, "restart-shard", "2");
    let record = wait_terminal(&agent, &id);
    assert_eq!(record["status"], "succeeded", "{record}");
    assert!(marker.exists(), "the runbook's own step ran");
}
