//! Snapshots of every view at 80×24 and 160×48, drawn from fixed fleet
//! states (live, stale, unreachable and never-reached agents, and empty
//! fleets) with a fixed "now". Review changes with `cargo insta review`.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::App;
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::fixtures::{mixed_fleet, NOW_MS};
use opsdeck_tui::fleet::FleetState;
use opsdeck_tui::ui::{self, theme::Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn app() -> App {
    App::new(Keymap::default(), "tester".into())
}

/// Types each character as a key press (`\n` is Enter, `\x1b` is Esc).
fn keys(app: &mut App, fleet: &FleetState, typed: &str) {
    for c in typed.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            '\t' => KeyCode::Tab,
            c => KeyCode::Char(c),
        };
        app.handle_event(
            &Event::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            fleet,
            NOW_MS,
        );
    }
}

fn render(app: &mut App, fleet: &FleetState, (width, height): (u16, u16)) -> String {
    let theme = Theme::resolve(ThemeName::Dark, false);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::draw(frame, app, fleet, &theme, NOW_MS))
        .unwrap();
    terminal.backend().to_string()
}

/// Snapshots the screen after `typed` at both sizes.
fn check(name: &str, fleet: &FleetState, typed: &str) {
    for size in SIZES {
        let mut app = app();
        keys(&mut app, fleet, typed);
        let screen = render(&mut app, fleet, size);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), screen);
    }
}

#[test]
fn fleet_mixed() {
    check("fleet_mixed", &mixed_fleet(), "");
}

#[test]
fn fleet_sorted_by_cpu_descending() {
    check("fleet_sorted_cpu_desc", &mixed_fleet(), ">>r");
}

#[test]
fn fleet_empty() {
    check("fleet_empty", &FleetState::default(), "");
}

#[test]
fn fleet_filter_without_match() {
    check(
        "fleet_filter_nomatch",
        &mixed_fleet(),
        "/nothing-like-this\n",
    );
}

#[test]
fn node_with_alerts_and_action() {
    check("node_live", &mixed_fleet(), "j\n");
}

#[test]
fn node_stale() {
    check("node_stale", &mixed_fleet(), ":node bot-4\n");
}

#[test]
fn node_unreachable_keeps_last_data() {
    check("node_unreachable", &mixed_fleet(), ":node bot-5\n");
}

#[test]
fn node_never_reached() {
    check("node_never_reached", &mixed_fleet(), ":node bot-6\n");
}

#[test]
fn shards_all() {
    check("shards_all", &mixed_fleet(), "2");
}

#[test]
fn shards_not_ready() {
    check("shards_not_ready", &mixed_fleet(), ":shards not-ready\n");
}

#[test]
fn shards_empty() {
    check("shards_empty", &FleetState::default(), "2");
}

#[test]
fn alerts_mixed() {
    check("alerts_mixed", &mixed_fleet(), "3");
}

#[test]
fn alerts_empty() {
    check("alerts_empty", &FleetState::default(), "3");
}

#[test]
fn help_overlay() {
    check("help", &mixed_fleet(), "?");
}

#[test]
fn silence_dialog() {
    check("silence_dialog", &mixed_fleet(), "3sdeploy in progress");
}

#[test]
fn command_line() {
    check("command_line", &mixed_fleet(), ":sha");
}

#[test]
fn no_color_theme_draws_the_same_text() {
    let fleet = mixed_fleet();
    let mut app = app();
    let colored = render(&mut app, &fleet, (80, 24));
    let mono = {
        let theme = Theme::resolve(ThemeName::Dark, true);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|frame| ui::draw(frame, &mut app, &fleet, &theme, NOW_MS))
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        assert!(
            buffer
                .content()
                .iter()
                .all(|cell| cell.fg == ratatui::style::Color::Reset
                    && cell.bg == ratatui::style::Color::Reset),
            "NO_COLOR leaves every cell in the terminal's own colours"
        );
        terminal.backend().to_string()
    };
    assert_eq!(colored, mono);
}
