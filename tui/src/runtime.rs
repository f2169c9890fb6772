//! The UI loop and the terminal around it.

use std::io;
use std::sync::mpsc::Receiver;

use ratatui::backend::Backend;
use ratatui::Terminal;

use crate::app::App;
use crate::clock::now_ms;
use crate::event::AppEvent;
use crate::fleet::FleetHandle;
use crate::services::Services;
use crate::ui::{self, theme::Theme};

/// Runs until the app quits or every event source is gone. Generic over
/// the backend, so tests drive it with `TestBackend`. It sleeps until an
/// event arrives, applies everything queued, then draws once.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    fleet: &FleetHandle,
    events: &Receiver<AppEvent>,
    services: &mut Services,
    theme: &Theme,
) -> io::Result<()> {
    terminal.draw(|frame| ui::draw(frame, app, &fleet.read_for_draw(), theme, now_ms()))?;
    loop {
        // Blocks: nothing is drawn until something happens.
        let Ok(first) = events.recv() else {
            return Ok(());
        };
        let mut fleet_changed = false;
        for event in std::iter::once(first).chain(events.try_iter()) {
            match event {
                AppEvent::Input(input) => {
                    let effect = app.handle_event(&input, &fleet.read(), now_ms());
                    if let Some(effect) = effect {
                        services.perform(effect);
                    }
                }
                AppEvent::FleetChanged => fleet_changed = true,
                AppEvent::Tick => {}
                AppEvent::SilenceDone { node, result } => match result {
                    Ok(id) => app.info(format!("silence {id} created on {node}")),
                    Err(error) => app.error(format!("silence on {node} failed: {error}")),
                },
            }
            if app.should_quit {
                return Ok(());
            }
        }
        if fleet_changed {
            services.fleet_changed(&fleet.read());
        }
        terminal.draw(|frame| ui::draw(frame, app, &fleet.read_for_draw(), theme, now_ms()))?;
    }
}
