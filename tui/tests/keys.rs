//! Key and mouse handling: what each key does to the app, checked on the
//! fixed fleet states, with no terminal and no network.

use std::collections::BTreeMap;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::view::{View, ViewKind};
use opsdeck_tui::app::{App, Effect, Mode};
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::fixtures::{large_fleet, mixed_fleet, NOW_MS};
use opsdeck_tui::fleet::FleetState;
use opsdeck_tui::rows::{fleet_rows, StateFilter};
use opsdeck_tui::ui::{self, theme::Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn app() -> App {
    App::new(Keymap::default(), "tester".into())
}

fn press(app: &mut App, fleet: &FleetState, code: KeyCode) -> Option<Effect> {
    app.handle_event(
        &Event::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        fleet,
        NOW_MS,
    )
}

fn type_text(app: &mut App, fleet: &FleetState, text: &str) {
    for c in text.chars() {
        press(app, fleet, KeyCode::Char(c));
    }
}

fn draw(app: &mut App, fleet: &FleetState) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let theme = Theme::resolve(ThemeName::Dark, false);
    terminal
        .draw(|frame| ui::draw(frame, app, fleet, &theme, NOW_MS))
        .unwrap();
    terminal.backend().to_string()
}

#[test]
fn enter_opens_the_selected_node_and_esc_goes_back() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Down);
    press(&mut app, &fleet, KeyCode::Char('j'));
    press(&mut app, &fleet, KeyCode::Char('k'));
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Node(1));
    press(&mut app, &fleet, KeyCode::Esc);
    assert_eq!(app.view(), View::Fleet);
    press(&mut app, &fleet, KeyCode::Esc);
    assert_eq!(
        app.view(),
        View::Fleet,
        "the fleet is the bottom of the stack"
    );
    assert!(!app.should_quit);
}

#[test]
fn sorting_by_cpu_then_reversing() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('>'));
    press(&mut app, &fleet, KeyCode::Char('>'));
    press(&mut app, &fleet, KeyCode::Char('r'));
    let names: Vec<&str> = fleet_rows(&fleet, NOW_MS, "", app.fleet_sort)
        .iter()
        .map(|(id, _)| fleet.agents[*id].name())
        .collect();
    // CPU descending; the node without data sorts last.
    assert_eq!(
        names,
        vec!["bot-4", "bot-3", "bot-2", "bot-5", "bot-1", "bot-6"]
    );
    // Enter opens what is drawn first.
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Node(3));
}

#[test]
fn filter_narrows_rows_and_esc_clears_it() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('/'));
    assert_eq!(app.mode, Mode::Filter);
    type_text(&mut app, &fleet, "bot-3");
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.row_count(&fleet, NOW_MS), 1);
    press(&mut app, &fleet, KeyCode::Esc);
    assert_eq!(app.filter(ViewKind::Fleet), "");
    assert_eq!(app.row_count(&fleet, NOW_MS), 6);
    // A filter matches health too.
    press(&mut app, &fleet, KeyCode::Char('/'));
    type_text(&mut app, &fleet, "stale");
    assert_eq!(app.row_count(&fleet, NOW_MS), 1, "rows follow as you type");
}

#[test]
fn commands_switch_views_and_report_errors() {
    let fleet = mixed_fleet();
    let mut app = app();
    type_text(&mut app, &fleet, ":node bot-5");
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Node(4));
    type_text(&mut app, &fleet, ":node nowhere");
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Node(4));
    assert!(app
        .message
        .as_ref()
        .is_some_and(|m| m.is_error && m.text.contains("nowhere")));
    type_text(&mut app, &fleet, ":shards draining");
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Shards);
    assert_eq!(app.state_filter, StateFilter::Draining);
    type_text(&mut app, &fleet, ":alerts");
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Alerts);
    assert_eq!(app.depth(), 4);
    // Esc abandons a half-typed command.
    type_text(&mut app, &fleet, ":fle");
    press(&mut app, &fleet, KeyCode::Esc);
    assert_eq!(app.view(), View::Alerts);
    type_text(&mut app, &fleet, ":q");
    press(&mut app, &fleet, KeyCode::Enter);
    assert!(app.should_quit);
}

#[test]
fn state_filter_key_cycles_in_the_shards_view() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('2'));
    let all = app.row_count(&fleet, NOW_MS);
    press(&mut app, &fleet, KeyCode::Char('t'));
    assert_eq!(app.state_filter, StateFilter::NotReady);
    let not_ready = app.row_count(&fleet, NOW_MS);
    assert!(not_ready > 0 && not_ready < all, "{not_ready} of {all}");
    // `t` means nothing in the fleet view.
    press(&mut app, &fleet, KeyCode::Char('1'));
    press(&mut app, &fleet, KeyCode::Char('t'));
    assert_eq!(app.state_filter, StateFilter::NotReady);
}

#[test]
fn alert_enter_jumps_to_its_node_and_shard() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('3'));
    // The critical ShardDown on bot-2, shard 1004, is first.
    press(&mut app, &fleet, KeyCode::Enter);
    assert_eq!(app.view(), View::Node(1));
    let screen = draw(&mut app, &fleet);
    let selected = app.cursor(ViewKind::Node).selected;
    assert_eq!(
        fleet.agents[1].snapshot.as_ref().unwrap().shards[selected].id,
        "1004"
    );
    assert!(screen.contains("1004"), "{screen}");
}

#[test]
fn silence_flow_builds_the_request_and_esc_cancels() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('3'));
    press(&mut app, &fleet, KeyCode::Char('s'));
    assert!(matches!(app.mode, Mode::Silence(_)));
    press(&mut app, &fleet, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal, "esc cancels");

    press(&mut app, &fleet, KeyCode::Char('s'));
    type_text(&mut app, &fleet, "failover drill");
    press(&mut app, &fleet, KeyCode::BackTab);
    for _ in 0..2 {
        press(&mut app, &fleet, KeyCode::Backspace);
    }
    type_text(&mut app, &fleet, "45m");
    // duration → comment → Cancel (focused before Silence).
    press(&mut app, &fleet, KeyCode::Tab);
    press(&mut app, &fleet, KeyCode::Tab);
    let Mode::Silence(form) = &app.mode else {
        panic!("dialog closed early");
    };
    assert_eq!(form.focus, opsdeck_tui::app::silence::SilenceField::Cancel);
    press(&mut app, &fleet, KeyCode::Tab);
    let effect = press(&mut app, &fleet, KeyCode::Enter);
    let Some(Effect::CreateSilence {
        agent,
        node,
        request,
    }) = effect
    else {
        panic!("expected a silence request, got {effect:?}");
    };
    assert_eq!((agent, node.as_str()), (1, "bot-2"));
    assert_eq!(request.comment, "failover drill");
    assert_eq!(request.created_by, "tester");
    assert_eq!(request.ends_at_ms - request.starts_at_ms, 45 * 60 * 1000);
    assert!(request
        .matchers
        .iter()
        .any(|m| m.name == "shard" && m.value == "1004"));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn mouse_click_selects_then_opens_and_wheel_scrolls() {
    let fleet = mixed_fleet();
    let mut app = app();
    draw(&mut app, &fleet);
    let body = app.table_body;
    let click = |row: u16| {
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: body.x + 2,
            row: body.y + row,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.handle_event(&click(2), &fleet, NOW_MS);
    assert_eq!(app.cursor(ViewKind::Fleet).selected, 2);
    assert_eq!(app.view(), View::Fleet);
    // Below the last row: nothing.
    app.handle_event(&click(10), &fleet, NOW_MS);
    assert_eq!(app.cursor(ViewKind::Fleet).selected, 2);
    let wheel = Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    });
    app.handle_event(&wheel, &fleet, NOW_MS);
    assert_eq!(app.cursor(ViewKind::Fleet).selected, 3);
    app.handle_event(&click(3), &fleet, NOW_MS);
    assert_eq!(app.view(), View::Node(3));
}

#[test]
fn paging_through_thousands_of_shards() {
    let fleet = large_fleet(200, 64);
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('2'));
    draw(&mut app, &fleet);
    press(&mut app, &fleet, KeyCode::Char('G'));
    assert_eq!(app.cursor(ViewKind::Shards).selected, 200 * 64 - 1);
    let screen = draw(&mut app, &fleet);
    assert!(screen.contains("node-200"), "{screen}");
    press(&mut app, &fleet, KeyCode::PageUp);
    let page = app.table_body.height as usize;
    assert_eq!(app.cursor(ViewKind::Shards).selected, 200 * 64 - 1 - page);
    press(&mut app, &fleet, KeyCode::Char('g'));
    assert_eq!(app.cursor(ViewKind::Shards).selected, 0);
}

#[test]
fn rebound_keys_replace_the_defaults() {
    let fleet = mixed_fleet();
    let overrides = BTreeMap::from([
        ("quit".to_string(), vec!["ctrl-q".to_string()]),
        ("down".to_string(), vec!["n".to_string()]),
    ]);
    let mut app = App::new(Keymap::with_overrides(&overrides).unwrap(), "tester".into());
    press(&mut app, &fleet, KeyCode::Char('q'));
    assert!(!app.should_quit);
    press(&mut app, &fleet, KeyCode::Char('j'));
    assert_eq!(app.cursor(ViewKind::Fleet).selected, 0);
    press(&mut app, &fleet, KeyCode::Char('n'));
    assert_eq!(app.cursor(ViewKind::Fleet).selected, 1);
    // The hint bar shows the new key.
    let screen = draw(&mut app, &fleet);
    assert!(screen.contains("<ctrl-q>quit"), "{screen}");
    app.handle_event(
        &Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        &fleet,
        NOW_MS,
    );
    assert!(app.should_quit);
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let fleet = mixed_fleet();
    let mut app = app();
    press(&mut app, &fleet, KeyCode::Char('?'));
    assert_eq!(app.mode, Mode::Help);
    press(&mut app, &fleet, KeyCode::Char('x'));
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.should_quit);
}

#[test]
fn resize_keeps_the_selection_visible() {
    let fleet = large_fleet(50, 4);
    let mut app = app();
    let theme = Theme::resolve(ThemeName::Dark, false);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal
        .draw(|f| ui::draw(f, &mut app, &fleet, &theme, NOW_MS))
        .unwrap();
    for _ in 0..40 {
        press(&mut app, &fleet, KeyCode::Down);
    }
    terminal.backend_mut().resize(80, 24);
    terminal
        .resize(ratatui::layout::Rect::new(0, 0, 80, 24))
        .unwrap();
    terminal
        .draw(|f| ui::draw(f, &mut app, &fleet, &theme, NOW_MS))
        .unwrap();
    let cursor = app.cursor(ViewKind::Fleet);
    assert_eq!(cursor.selected, 40);
    assert!(cursor.offset <= 40 && 40 < cursor.offset + app.table_body.height as usize);
    assert!(terminal.backend().to_string().contains("node-41"));
}
