//! Everything that wakes the UI loop. Producers: the terminal input
//! thread, the agent clients (through `FleetHandle`), the one-second clock
//! and finished requests.

/// One event for the UI loop.
#[derive(Debug)]
pub enum AppEvent {
    Input(crossterm::event::Event),
    /// Some agent's entry changed; coalesced, so at most one is queued.
    FleetChanged,
    /// A second passed: ages ("3 s ago") and staleness move on.
    Tick,
    /// A silence request finished.
    SilenceDone {
        node: String,
        result: Result<String, String>,
    },
    /// An agent answered a runbook request.
    Runbook(Box<crate::app::runbook::RunbookReply>),
}
