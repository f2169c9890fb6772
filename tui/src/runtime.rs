//! The UI loop.

use std::io;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use ratatui::backend::Backend;
use ratatui::Terminal;

use crate::app::App;
use crate::clock::now_ms;
use crate::event::AppEvent;
use crate::fleet::FleetHandle;
use crate::services::Services;
use crate::ui::{self, theme::Theme};

/// Fleet changes are drawn at most this often (input is drawn at once):
/// 200 agents updating every second would otherwise mean 200 frames a second.
const MIN_FRAME_GAP: Duration = Duration::from_millis(100);

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
    let mut last_draw = Instant::now();
    terminal.draw(|frame| ui::draw(frame, app, &fleet.read_for_draw(), theme, now_ms()))?;
    loop {
        // Blocks: nothing is drawn until something happens.
        let Ok(first) = events.recv() else {
            return Ok(());
        };
        let mut batch = Batch::default();
        for event in std::iter::once(first).chain(events.try_iter()) {
            batch.apply(event, app, fleet, services);
            if app.should_quit {
                return Ok(());
            }
        }
        // Without input, hold the frame until the gap has passed, taking
        // in whatever else arrives meanwhile.
        while !batch.had_input {
            let Some(left) = MIN_FRAME_GAP.checked_sub(last_draw.elapsed()) else {
                break;
            };
            match events.recv_timeout(left) {
                Ok(event) => batch.apply(event, app, fleet, services),
                Err(_) => break,
            }
            if app.should_quit {
                return Ok(());
            }
        }
        if batch.fleet_changed {
            services.fleet_changed(&fleet.read());
        }
        last_draw = Instant::now();
        terminal.draw(|frame| ui::draw(frame, app, &fleet.read_for_draw(), theme, now_ms()))?;
    }
}

/// What a run of events amounted to.
#[derive(Default)]
struct Batch {
    had_input: bool,
    fleet_changed: bool,
}

impl Batch {
    fn apply(&mut self, event: AppEvent, app: &mut App, fleet: &FleetHandle, services: &Services) {
        match event {
            AppEvent::Input(input) => {
                self.had_input = true;
                let effect = app.handle_event(&input, &fleet.read(), now_ms());
                if let Some(effect) = effect {
                    services.perform(effect);
                }
            }
            AppEvent::FleetChanged => self.fleet_changed = true,
            AppEvent::Tick => {}
            AppEvent::SilenceDone { node, result } => {
                self.had_input = true;
                match result {
                    Ok(id) => app.info(format!("silence {id} created on {node}")),
                    Err(error) => app.error(format!("silence on {node} failed: {error}")),
                }
            }
            AppEvent::Runbook(reply) => {
                self.had_input = true;
                app.runbook_reply(*reply);
            }
        }
    }
}
