//! The UI loop on a `TestBackend`: queued events are applied in order and
//! the loop ends when the app quits.

use std::sync::mpsc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::view::View;
use opsdeck_tui::app::App;
use opsdeck_tui::client::http_client;
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::event::AppEvent;
use opsdeck_tui::fixtures::mixed_fleet;
use opsdeck_tui::fleet::FleetHandle;
use opsdeck_tui::runtime::run_loop;
use opsdeck_tui::services::Services;
use opsdeck_tui::ui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn key(c: char) -> AppEvent {
    AppEvent::Input(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[test]
fn applies_queued_events_and_stops_on_quit() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let fleet = FleetHandle::new(mixed_fleet(), tx.clone());
    let mut services = Services::new(
        runtime.handle().clone(),
        http_client().unwrap(),
        Vec::new(),
        tx.clone(),
        false,
    );
    let mut app = App::new(Keymap::default(), "tester".into());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let theme = Theme::resolve(ThemeName::Dark, false);

    // A change from a client, a second passing, then keys: all queued
    // before the loop starts, so they are handled as one batch.
    fleet.update(0, |agent| agent.apply_heartbeat(0));
    tx.send(AppEvent::Tick).unwrap();
    tx.send(key('3')).unwrap();
    tx.send(key('q')).unwrap();
    tx.send(key('1')).unwrap();

    run_loop(&mut terminal, &mut app, &fleet, &rx, &mut services, &theme).unwrap();
    assert!(app.should_quit);
    assert_eq!(
        app.view(),
        View::Alerts,
        "events after quit are not applied"
    );
    assert!(
        terminal.backend().to_string().contains("‹fleet›"),
        "the first frame was drawn"
    );
}
