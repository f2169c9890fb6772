//! The fleet state: what the agent clients have learned, kept for the
//! views to read. Clients write through [`FleetHandle`]; views only read a
//! `&FleetState` and never do I/O.

mod handle;
mod health;
mod history;
pub mod summary;

pub use handle::FleetHandle;
pub use health::Health;
pub use history::{History, Sample};

use std::collections::BTreeMap;

use opsdeck_agent::api::Snapshot;
use opsdeck_runbooks::ActionRecord;

/// Index of an agent in [`FleetState::agents`]; stable for the session.
pub type AgentId = usize;

#[derive(Debug, Default, Clone)]
pub struct FleetState {
    pub agents: Vec<AgentEntry>,
}

/// One agent as the dashboard sees it.
#[derive(Debug, Clone)]
pub struct AgentEntry {
    /// Configured name (or the URL's host) until a snapshot names the node.
    pub configured_name: String,
    pub url: String,
    pub link: Link,
    /// The last snapshot received; kept (and labelled) when the agent goes
    /// stale or unreachable.
    pub snapshot: Option<Snapshot>,
    /// Local unix milliseconds of the last snapshot or heartbeat.
    pub last_update_ms: Option<i64>,
    pub history: History,
    /// Runbook actions started from this TUI, by id, as last polled.
    pub actions: BTreeMap<String, FollowedAction>,
}

/// An action the TUI follows: the agent's record and whether the last
/// poll reached it.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowedAction {
    pub record: ActionRecord,
    pub poll_error: Option<String>,
}

/// The state of the connection to one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    /// The last attempt failed; the client is backing off and retrying.
    Unreachable {
        error: String,
        since_ms: i64,
    },
}

impl FleetState {
    pub fn new(agents: impl IntoIterator<Item = (String, String)>) -> Self {
        FleetState {
            agents: agents
                .into_iter()
                .map(|(name, url)| AgentEntry::new(name, url))
                .collect(),
        }
    }
}

impl AgentEntry {
    pub fn new(configured_name: String, url: String) -> Self {
        AgentEntry {
            configured_name,
            url,
            link: Link::Connecting,
            snapshot: None,
            last_update_ms: None,
            history: History::default(),
            actions: BTreeMap::new(),
        }
    }

    /// The node's own name once known, else the configured one.
    pub fn name(&self) -> &str {
        self.snapshot
            .as_ref()
            .map(|s| s.node.name.as_str())
            .filter(|name| !name.is_empty())
            .unwrap_or(&self.configured_name)
    }

    /// Applies a snapshot received at local time `now_ms`.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot, now_ms: i64) {
        self.history.record(&snapshot);
        self.snapshot = Some(snapshot);
        self.last_update_ms = Some(now_ms);
        self.link = Link::Connected;
    }

    /// A heartbeat proves the agent is alive and its last snapshot current.
    pub fn apply_heartbeat(&mut self, now_ms: i64) {
        self.last_update_ms = Some(now_ms);
        self.link = Link::Connected;
    }

    /// The stream is open again; the data's age is unchanged until an
    /// event arrives (a resumed stream does not resend an unchanged snapshot).
    pub fn mark_connected(&mut self) {
        self.link = Link::Connected;
    }

    pub fn mark_unreachable(&mut self, error: String, now_ms: i64) {
        let since_ms = match &self.link {
            Link::Unreachable { since_ms, .. } => *since_ms,
            _ => now_ms,
        };
        self.link = Link::Unreachable { error, since_ms };
    }

    /// Seconds since the last update, if there was one.
    pub fn age_seconds(&self, now_ms: i64) -> Option<i64> {
        self.last_update_ms
            .map(|at| (now_ms.saturating_sub(at)).max(0) / 1000)
    }
}
