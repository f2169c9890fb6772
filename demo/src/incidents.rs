//! The incidents a node can suffer, and the seeded timeline that schedules them.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One kind of trouble. Each moves specific metrics (see `docs/demo.md`), is
/// caught by a default alert rule, and is fixed by a runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// A shard's gateway connection dies without it reconnecting: heartbeats
    /// stop and it stays `disconnected` until restarted.
    ShardSilent,
    /// The node's heap retains memory it never frees, until the node restarts.
    MemoryLeak,
    /// A traffic spike with slow queries leaks DB connections until the pool
    /// is exhausted: clients wait and acquires time out, until the pool is recycled.
    PoolExhaustion,
    /// One shard's gateway latency jumps (a bad gateway connection) for ten
    /// simulated minutes, or until the shard is restarted.
    LatencySpike,
    /// One shard keeps trying to resume an invalidated session: it dies soon
    /// after every start and the manager respawns it, until an operator
    /// restarts it with a fresh identify.
    RestartLoop,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 5] = [
        IncidentKind::ShardSilent,
        IncidentKind::MemoryLeak,
        IncidentKind::PoolExhaustion,
        IncidentKind::LatencySpike,
        IncidentKind::RestartLoop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::ShardSilent => "shard-silent",
            IncidentKind::MemoryLeak => "memory-leak",
            IncidentKind::PoolExhaustion => "pool-exhaustion",
            IncidentKind::LatencySpike => "latency-spike",
            IncidentKind::RestartLoop => "restart-loop",
        }
    }

    /// Whether the incident hits one shard (and so needs a shard id).
    pub fn targets_shard(self) -> bool {
        matches!(
            self,
            IncidentKind::ShardSilent | IncidentKind::LatencySpike | IncidentKind::RestartLoop
        )
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the incident kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown incident kind `{0}` (known: shard-silent, memory-leak, pool-exhaustion, latency-spike, restart-loop)")]
pub struct UnknownIncidentKind(pub String);

impl FromStr for IncidentKind {
    type Err = UnknownIncidentKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IncidentKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownIncidentKind(s.to_owned()))
    }
}

/// An incident planned at a simulated time after the node starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledIncident {
    /// Simulated seconds after the node starts.
    pub at_seconds: u64,
    pub kind: IncidentKind,
    /// The shard hit, for kinds that hit one shard.
    pub shard: Option<u32>,
}

/// When the first incident happens, in simulated seconds: long enough for a
/// new user to look around a healthy fleet first.
const FIRST_INCIDENT_SECONDS: u64 = 120;
/// Simulated seconds between two incidents.
const GAP_SECONDS: std::ops::RangeInclusive<u64> = 150..=300;
/// How many times every kind occurs on a timeline (about an hour at speed 1).
const ROUNDS: usize = 3;

/// A timeline for a whole fleet: every round plays each kind once, in a
/// seeded order, each on a seeded node (and shard). Entry `i` of the result
/// is node `i`'s share.
pub fn fleet_timeline(seed: u64, nodes: usize, shards: u32) -> Vec<Vec<ScheduledIncident>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut per_node = vec![Vec::new(); nodes];
    if nodes == 0 || shards == 0 {
        return per_node;
    }
    let mut at_seconds = FIRST_INCIDENT_SECONDS;
    for _ in 0..ROUNDS {
        let mut kinds = IncidentKind::ALL;
        kinds.shuffle(&mut rng);
        for kind in kinds {
            let node = rng.random_range(0..nodes);
            let shard = kind.targets_shard().then(|| rng.random_range(0..shards));
            per_node[node].push(ScheduledIncident {
                at_seconds,
                kind,
                shard,
            });
            at_seconds += rng.random_range(GAP_SECONDS);
        }
    }
    per_node
}

/// A single node's timeline: every incident of a one-node fleet.
pub fn node_timeline(seed: u64, shards: u32) -> Vec<ScheduledIncident> {
    fleet_timeline(seed, 1, shards).pop().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_timeline() {
        assert_eq!(fleet_timeline(7, 3, 16), fleet_timeline(7, 3, 16));
        assert_ne!(node_timeline(7, 16), node_timeline(8, 16));
    }

    #[test]
    fn every_round_plays_every_kind_in_time_order() {
        let timeline = node_timeline(42, 8);
        assert_eq!(timeline.len(), ROUNDS * IncidentKind::ALL.len());
        for round in timeline.chunks(IncidentKind::ALL.len()) {
            for kind in IncidentKind::ALL {
                assert!(round.iter().any(|incident| incident.kind == kind));
            }
        }
        assert!(timeline
            .windows(2)
            .all(|w| w[0].at_seconds < w[1].at_seconds));
        assert_eq!(timeline[0].at_seconds, FIRST_INCIDENT_SECONDS);
        for incident in &timeline {
            assert_eq!(incident.shard.is_some(), incident.kind.targets_shard());
            assert!(incident.shard.is_none_or(|shard| shard < 8));
        }
    }

    #[test]
    fn a_fleet_timeline_spreads_incidents_over_nodes() {
        let per_node = fleet_timeline(3, 4, 16);
        let total: usize = per_node.iter().map(Vec::len).sum();
        assert_eq!(total, ROUNDS * IncidentKind::ALL.len());
        assert!(per_node.iter().filter(|node| !node.is_empty()).count() > 1);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in IncidentKind::ALL {
            assert_eq!(kind.as_str().parse::<IncidentKind>(), Ok(kind));
        }
        assert!("fire".parse::<IncidentKind>().is_err());
    }
}
