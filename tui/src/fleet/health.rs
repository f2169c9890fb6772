//! How fresh an agent's data is, judged at a given "now" so rendering
//! stays deterministic.

use super::{AgentEntry, Link};

/// Used until a snapshot tells the agent's real interval.
const DEFAULT_INTERVAL_MS: u64 = 5_000;
/// The agent's stream sends a snapshot only when its content changed, and
/// a heartbeat every 15 s; a quiet node is heard from at least this often.
pub const AGENT_HEARTBEAT_MS: u64 = 15_000;
/// An agent is stale after this many intervals without an update.
const STALE_INTERVALS: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Updates arrive on time.
    Live,
    /// No data yet; the first connection is in progress.
    Connecting,
    /// Connected, but no update for more than 3 intervals.
    Stale,
    /// The connection failed; any data shown is the last received.
    Unreachable,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Live => "live",
            Health::Connecting => "connecting",
            Health::Stale => "STALE",
            Health::Unreachable => "UNREACHABLE",
        }
    }
}

impl AgentEntry {
    pub fn interval_ms(&self) -> u64 {
        self.snapshot
            .as_ref()
            .map(|s| s.node.interval_ms)
            .filter(|ms| *ms > 0)
            .unwrap_or(DEFAULT_INTERVAL_MS)
    }

    /// How long an agent may be silent before it is stale: three intervals,
    /// where an interval is the snapshot interval or the heartbeat period,
    /// whichever is longer (an unchanged node only sends heartbeats).
    pub fn stale_after_ms(&self) -> u64 {
        self.interval_ms().max(AGENT_HEARTBEAT_MS) * STALE_INTERVALS
    }

    pub fn health(&self, now_ms: i64) -> Health {
        if matches!(self.link, Link::Unreachable { .. }) {
            return Health::Unreachable;
        }
        let Some(last) = self.last_update_ms else {
            return Health::Connecting;
        };
        if now_ms.saturating_sub(last) > self.stale_after_ms() as i64 {
            Health::Stale
        } else {
            Health::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_three_heartbeat_periods() {
        let mut agent = AgentEntry::new("a".into(), "http://a".into());
        assert_eq!(agent.health(0), Health::Connecting);
        agent.apply_heartbeat(1_000);
        assert_eq!(agent.health(46_000), Health::Live);
        assert_eq!(agent.health(46_001), Health::Stale);
        agent.mark_unreachable("refused".into(), 47_000);
        assert_eq!(agent.health(47_000), Health::Unreachable);
    }

    #[test]
    fn a_long_interval_sets_the_limit() {
        let mut agent = AgentEntry::new("a".into(), "http://a".into());
        let mut snapshot = crate::fixtures::snapshot("a", 1, 0);
        snapshot.node.interval_ms = 60_000;
        agent.apply_snapshot(snapshot, 0);
        assert_eq!(agent.health(180_000), Health::Live);
        assert_eq!(agent.health(180_001), Health::Stale);
    }
}
