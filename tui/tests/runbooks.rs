//! The runbook flow from fixed data: the picker (alert-named runbooks
//! first), the confirmation dialog (plan and blast radius, Cancel
//! focused), typed confirmation of a destructive runbook, the progress
//! pane and the audit view, at 80×24 and 160×48; and the keys that must
//! not start anything.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use opsdeck_runbooks::ActionRecord;
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::runbook::{RunbookReply, Stage};
use opsdeck_tui::app::{App, Effect, Mode};
use opsdeck_tui::client::actions::{PlanView, RunbookSummary};
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::fixtures::{mixed_fleet, NOW_MS};
use opsdeck_tui::fleet::{FleetState, FollowedAction};
use opsdeck_tui::ui::{self, theme::Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
/// bot-2 in the mixed fleet: ShardDown fires on shard 1004, PoolSaturated node-wide.
const BOT2: usize = 1;

const RUNBOOKS: &str = r#"
- id: drain-shard
  title: Drain a shard
  risk: disruptive
  alerts: [ShardLatencyHigh]
  params: { shard: { type: shard, required: true } }
- id: restart-shard
  title: Restart a shard
  risk: disruptive
  alerts: [ShardDown]
  params: { shard: { type: shard, required: true } }
- id: wipe-shard
  title: Wipe a shard's cache
  risk: destructive
  params: { shard: { type: shard, required: true } }
- id: restart-node
  title: Restart the whole node
  risk: destructive
  alerts: [HeapUsageHigh]
"#;

fn plan(runbook: &str, title: &str, risk: &str) -> PlanView {
    let json = serde_json::json!({
        "runbook": runbook,
        "title": title,
        "risk": risk,
        "params": {"shard": "1004"},
        "shards": ["1004"],
        "steps": [
            {"name": "drain", "kind": "http", "target": null,
             "detail": "POST http://10.0.0.2:8080/admin/shards/1004/drain"},
            {"name": "wait until drained", "kind": "wait_until", "target": null,
             "detail": "app_shard_status_code{shard=\"1004\"} == 4 (timeout 2m)"},
            {"name": "restart", "kind": "exec", "target": null,
             "detail": "pm2 restart bot-2 --shard 1004"},
        ],
        "rollback": [],
        "checks": [
            {"name": "other shards ready", "expr": "x", "role": "guard", "holds": true,
             "value": "7"},
            {"name": "identify budget left", "expr": "y", "role": "precondition",
             "holds": false, "value": "0"},
        ],
        "blast_radius": {"shards": [{"shard": "1004", "load": 1159.0}],
                         "total_load": 1159.0, "unit": "guilds", "max_unavailable": 1},
    });
    serde_json::from_value(json).unwrap()
}

fn record() -> ActionRecord {
    let json = serde_json::json!({
        "id": "act-42",
        "runbook": "restart-shard",
        "params": {"shard": "1004"},
        "requested_by": "alice",
        "idempotency_key": "tui-1",
        "shards": ["1004"],
        "status": "running",
        "created_at_ms": NOW_MS - 65_000,
        "finished_at_ms": null,
        "current_step": "restart",
        "steps": [
            {"name": "drain", "kind": "http", "phase": "main", "target": null,
             "started_at_ms": NOW_MS - 65_000, "ended_at_ms": NOW_MS - 64_000,
             "attempts": 1, "result": "succeeded", "output": "HTTP 202"},
            {"name": "wait until drained", "kind": "wait_until", "phase": "main",
             "target": null, "started_at_ms": NOW_MS - 64_000,
             "ended_at_ms": NOW_MS - 20_000, "attempts": 1, "result": "succeeded",
             "output": "held after 44 s"},
            {"name": "restart", "kind": "exec", "phase": "main", "target": null,
             "started_at_ms": NOW_MS - 20_000, "ended_at_ms": null, "attempts": 1,
             "result": "running", "output": ""},
        ],
        "error": null,
        "rollback_available": true,
    });
    serde_json::from_value(json).unwrap()
}

fn audit_records() -> Vec<ActionRecord> {
    let mut done = record();
    done.id = "act-41".into();
    done.runbook = "drain-shard".into();
    done.status = opsdeck_runbooks::ActionStatus::RolledBack;
    done.requested_by = "bob".into();
    done.created_at_ms = NOW_MS - 3_600_000;
    vec![record(), done]
}

fn press(app: &mut App, fleet: &FleetState, code: KeyCode) -> Option<Effect> {
    app.handle_event(
        &Event::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        fleet,
        NOW_MS,
    )
}

fn typed(app: &mut App, fleet: &FleetState, text: &str) -> Vec<Effect> {
    text.chars()
        .filter_map(|c| {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\t' => KeyCode::Tab,
                '\x1b' => KeyCode::Esc,
                c => KeyCode::Char(c),
            };
            press(app, fleet, code)
        })
        .collect()
}

/// bot-2 open on shard 1004, the picker loaded.
fn picker(fleet: &FleetState) -> App {
    let mut app = App::new(Keymap::default(), "tester".into());
    typed(&mut app, fleet, ":node bot-2\njjjj");
    let effects = typed(&mut app, fleet, "R");
    assert_eq!(effects, vec![Effect::LoadRunbooks { agent: BOT2 }]);
    let runbooks: Vec<RunbookSummary> = serde_yaml_ng::from_str(RUNBOOKS).unwrap();
    app.runbook_reply(RunbookReply::Runbooks {
        agent: BOT2,
        result: Ok(runbooks),
    });
    app
}

/// The confirmation dialog for the runbook at `row` in the picker.
fn confirm(fleet: &FleetState, row: usize, risk: &str) -> App {
    let mut app = picker(fleet);
    for _ in 0..row {
        press(&mut app, fleet, KeyCode::Down);
    }
    let effect = press(&mut app, fleet, KeyCode::Enter);
    let Some(Effect::DryRun {
        runbook, params, ..
    }) = effect
    else {
        panic!("expected a dry run, got {effect:?}");
    };
    assert_eq!(params.get("shard").map(String::as_str), Some("1004"));
    app.runbook_reply(RunbookReply::Plan {
        agent: BOT2,
        result: Ok(plan(&runbook, &runbook.replace('-', " "), risk)),
    });
    app
}

fn render(app: &mut App, fleet: &FleetState, (width, height): (u16, u16)) -> String {
    let theme = Theme::resolve(ThemeName::Dark, false);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::draw(frame, app, fleet, &theme, NOW_MS))
        .unwrap();
    terminal.backend().to_string()
}

fn check(name: &str, fleet: &FleetState, build: impl Fn() -> App) {
    for size in SIZES {
        let mut app = build();
        insta::assert_snapshot!(
            format!("{name}_{}x{}", size.0, size.1),
            render(&mut app, fleet, size)
        );
    }
}

fn choice_ids(app: &App) -> Vec<String> {
    let Mode::Runbook(flow) = &app.mode else {
        panic!("not in the runbook flow: {:?}", app.mode);
    };
    flow.choices.iter().map(|c| c.id.clone()).collect()
}

#[test]
fn picker_offers_alert_named_runbooks_first() {
    let fleet = mixed_fleet();
    let app = picker(&fleet);
    // ShardDown fires on 1004, so restart-shard leads; the rest keep the agent's order.
    assert_eq!(
        choice_ids(&app),
        ["restart-shard", "drain-shard", "wipe-shard", "restart-node"]
    );
    check("runbook_picker", &fleet, || picker(&fleet));
}

#[test]
fn node_target_is_offered_only_node_wide_runbooks() {
    let fleet = mixed_fleet();
    let mut app = App::new(Keymap::default(), "tester".into());
    // bot-6 was never reached: no shard to select, so the node is the target.
    typed(&mut app, &fleet, ":node bot-6\n");
    assert_eq!(
        typed(&mut app, &fleet, "R"),
        vec![Effect::LoadRunbooks { agent: 5 }]
    );
    let runbooks: Vec<RunbookSummary> = serde_yaml_ng::from_str(RUNBOOKS).unwrap();
    app.runbook_reply(RunbookReply::Runbooks {
        agent: 5,
        result: Ok(runbooks),
    });
    assert_eq!(choice_ids(&app), ["restart-node"]);
}

#[test]
fn confirm_dialog_shows_plan_and_blast_radius_with_cancel_focused() {
    let fleet = mixed_fleet();
    check("runbook_confirm", &fleet, || {
        confirm(&fleet, 0, "disruptive")
    });
}

#[test]
fn enter_on_a_fresh_dialog_cancels() {
    let fleet = mixed_fleet();
    let mut app = confirm(&fleet, 0, "disruptive");
    assert_eq!(press(&mut app, &fleet, KeyCode::Enter), None);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn start_needs_the_focus_moved_to_it() {
    let fleet = mixed_fleet();
    let mut app = confirm(&fleet, 0, "disruptive");
    assert_eq!(press(&mut app, &fleet, KeyCode::Right), None);
    let effect = press(&mut app, &fleet, KeyCode::Enter);
    match effect {
        Some(Effect::StartAction {
            agent,
            runbook,
            params,
            ..
        }) => {
            assert_eq!(agent, BOT2);
            assert_eq!(runbook, "restart-shard");
            assert_eq!(params.get("shard").map(String::as_str), Some("1004"));
        }
        other => panic!("expected a start, got {other:?}"),
    }
}

#[test]
fn destructive_runbook_wants_the_exact_shard_id() {
    let fleet = mixed_fleet();
    // wipe-shard is third in the picker.
    let mut app = confirm(&fleet, 2, "destructive");
    press(&mut app, &fleet, KeyCode::Tab);
    assert_eq!(press(&mut app, &fleet, KeyCode::Enter), None);
    assert!(matches!(app.mode, Mode::Runbook(_)), "{:?}", app.mode);
    assert!(typed(&mut app, &fleet, "100\n").is_empty());
    assert!(
        typed(&mut app, &fleet, "44\n").is_empty(),
        "10044 is not 1004"
    );
    press(&mut app, &fleet, KeyCode::Backspace);
    let effects = typed(&mut app, &fleet, "\n");
    assert!(
        matches!(effects.as_slice(), [Effect::StartAction { runbook, .. }] if runbook == "wipe-shard"),
        "{effects:?}"
    );
}

#[test]
fn destructive_confirmation_typed() {
    let fleet = mixed_fleet();
    check("runbook_typed_confirmation", &fleet, || {
        let mut app = confirm(&fleet, 2, "destructive");
        typed(&mut app, &fleet, "10");
        app
    });
}

#[test]
fn failed_dry_run_returns_to_the_picker_with_the_reason() {
    let fleet = mixed_fleet();
    let mut app = picker(&fleet);
    press(&mut app, &fleet, KeyCode::Enter);
    app.runbook_reply(RunbookReply::Plan {
        agent: BOT2,
        result: Err("HTTP 409: shard 1004 is locked by act-7".into()),
    });
    let Mode::Runbook(flow) = &app.mode else {
        panic!("flow closed");
    };
    assert_eq!(flow.stage, Stage::Picker);
    assert!(flow.error.as_deref().unwrap_or("").contains("locked"));
}

fn progress(fleet: &mut FleetState) -> App {
    let mut app = confirm(fleet, 0, "disruptive");
    fleet.agents[BOT2].actions.insert(
        "act-42".into(),
        FollowedAction {
            record: record(),
            poll_error: None,
        },
    );
    app.runbook_reply(RunbookReply::Started {
        agent: BOT2,
        node: "bot-2".into(),
        result: Ok(record()),
    });
    app
}

#[test]
fn progress_pane_follows_the_fleet_state_and_cancels() {
    let mut fleet = mixed_fleet();
    let mut app = progress(&mut fleet);
    assert_eq!(
        press(&mut app, &fleet, KeyCode::Char('c')),
        Some(Effect::CancelAction {
            agent: BOT2,
            action: "act-42".into()
        })
    );
    let fleet = fleet;
    check("runbook_progress", &fleet, || {
        let mut fleet = mixed_fleet();
        progress(&mut fleet)
    });
}

#[test]
fn audit_view() {
    let fleet = mixed_fleet();
    let build = || {
        let mut app = App::new(Keymap::default(), "tester".into());
        let effects = typed(&mut app, &fleet, ":audit bot-2\n");
        assert_eq!(effects, vec![Effect::LoadAudit { agent: BOT2 }]);
        app.runbook_reply(RunbookReply::Audit {
            agent: BOT2,
            result: Ok(audit_records()),
        });
        typed(&mut app, &fleet, "j");
        app
    };
    check("runbook_audit", &fleet, build);
}

/// The audit of bot-2 with one action an agent restart interrupted.
fn audit_with_interrupted(read_only: bool) -> App {
    let fleet = mixed_fleet();
    let mut app = App::new(Keymap::default(), "tester".into());
    app.read_only = read_only;
    typed(&mut app, &fleet, ":audit bot-2\n");
    let mut interrupted = record();
    interrupted.status = opsdeck_runbooks::ActionStatus::Interrupted;
    interrupted.error = Some("interrupted by an agent restart in step restart".into());
    app.runbook_reply(RunbookReply::Audit {
        agent: BOT2,
        result: Ok(vec![interrupted]),
    });
    app
}

#[test]
fn audit_offers_the_rollback_of_an_interrupted_action_behind_a_y() {
    let fleet = mixed_fleet();
    check("runbook_audit_rollback", &fleet, || {
        let mut app = audit_with_interrupted(false);
        assert!(typed(&mut app, &fleet, "b").is_empty());
        app
    });

    let mut app = audit_with_interrupted(false);
    assert!(typed(&mut app, &fleet, "bn").is_empty(), "n keeps it");
    assert!(typed(&mut app, &fleet, "b\n").is_empty(), "Enter keeps it");
    assert_eq!(
        typed(&mut app, &fleet, "by"),
        vec![Effect::RollbackAction {
            agent: BOT2,
            node: "bot-2".into(),
            action: "act-42".into(),
        }]
    );

    let mut viewer = audit_with_interrupted(true);
    assert!(typed(&mut viewer, &fleet, "by").is_empty(), "read-only");
}

#[test]
fn read_only_refuses_runbooks() {
    let fleet = mixed_fleet();
    let mut app = App::new(Keymap::default(), "tester".into());
    app.read_only = true;
    typed(&mut app, &fleet, ":node bot-2\n");
    assert!(typed(&mut app, &fleet, "R").is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_ref().is_some_and(|m| m.is_error));
}
