//! The JSON bodies of the admin API, built from the node's state.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::incidents::{IncidentKind, ScheduledIncident};
use crate::pool::PoolStats;
use crate::shard::ShardState;
use crate::sim::{IncidentRecord, NodeSim};

#[derive(Debug, Clone, Serialize)]
pub struct ShardView {
    pub id: u32,
    pub state: ShardState,
    /// Guilds the shard serves now (its own and any it was lent).
    pub guilds: u32,
    /// Guilds the shard owns.
    pub home_guilds: u32,
    /// Of its own guilds, how many other shards serve.
    pub lent_guilds: u32,
    pub latency_seconds: f64,
    pub last_heartbeat_timestamp_seconds: Option<f64>,
    pub ready_timestamp_seconds: Option<f64>,
    pub restarts: u64,
    /// Queued for an identify or identifying.
    pub restarting: bool,
    /// Place in the identify queue, 0 being next.
    pub identify_queue_position: Option<usize>,
}

impl ShardView {
    pub fn of(sim: &NodeSim, id: u32) -> Self {
        let shard = &sim.shards()[id as usize];
        let position = sim.identify().queued().position(|queued| queued == id);
        Self {
            id,
            state: shard.state,
            guilds: sim.guilds().served_by(id),
            home_guilds: sim.guilds().home(id),
            lent_guilds: sim.guilds().lent_out(id),
            latency_seconds: shard.latency_secs,
            last_heartbeat_timestamp_seconds: shard.last_heartbeat.map(|at| sim.wall_secs(at)),
            ready_timestamp_seconds: shard.ready_at.map(|at| sim.wall_secs(at)),
            restarts: shard.restarts,
            restarting: shard.is_restarting(position.is_some()),
            identify_queue_position: position,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardsView {
    pub node: String,
    pub shards: Vec<ShardView>,
}

impl ShardsView {
    pub fn of(sim: &NodeSim) -> Self {
        Self {
            node: sim.name().to_owned(),
            shards: (0..sim.shard_count())
                .map(|id| ShardView::of(sim, id))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    pub name: &'static str,
    pub recycling: bool,
    #[serde(flatten)]
    pub stats: PoolStats,
}

impl PoolView {
    pub fn of(sim: &NodeSim) -> Self {
        Self {
            name: sim.pool().name(),
            recycling: sim.pool().is_recycling(),
            stats: sim.pool().stats(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolsView {
    pub node: String,
    pub pools: Vec<PoolView>,
}

impl PoolsView {
    pub fn of(sim: &NodeSim) -> Self {
        Self {
            node: sim.name().to_owned(),
            pools: vec![PoolView::of(sim)],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentifyView {
    /// Shards waiting for an identify slot, next first.
    pub queue: Vec<u32>,
    pub budget_remaining: u32,
    /// Simulated seconds until the next identify may start.
    pub next_slot_in_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActiveIncident {
    pub kind: IncidentKind,
    pub shard: Option<u32>,
}

fn active_incidents(sim: &NodeSim) -> Vec<ActiveIncident> {
    sim.active_incidents()
        .into_iter()
        .map(|(kind, shard)| ActiveIncident { kind, shard })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub speed: f64,
    /// Simulated seconds since the node started.
    pub simulated_seconds: f64,
    pub process_start_time_seconds: f64,
    /// A node restart is in progress (not every shard has identified yet).
    pub restarting: bool,
    pub shards: usize,
    pub shards_by_state: BTreeMap<&'static str, usize>,
    pub guilds: u32,
    pub identify: IdentifyView,
    pub pools: Vec<PoolView>,
    pub active_incidents: Vec<ActiveIncident>,
}

impl NodeView {
    pub fn of(sim: &NodeSim) -> Self {
        let mut shards_by_state = BTreeMap::new();
        for shard in sim.shards() {
            *shards_by_state.entry(shard.state.as_str()).or_default() += 1;
        }
        let identify = sim.identify();
        Self {
            name: sim.name().to_owned(),
            speed: sim.speed(),
            simulated_seconds: sim.now() as f64 / 1000.0,
            process_start_time_seconds: sim.process_start_time_seconds(),
            restarting: sim.is_restarting(),
            shards: sim.shards().len(),
            shards_by_state,
            guilds: (0..sim.shard_count())
                .map(|id| sim.guilds().served_by(id))
                .sum(),
            identify: IdentifyView {
                queue: identify.queued().collect(),
                budget_remaining: identify.remaining(),
                next_slot_in_seconds: identify.next_slot().saturating_sub(sim.now()) as f64
                    / 1000.0,
            },
            pools: vec![PoolView::of(sim)],
            active_incidents: active_incidents(sim),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    #[serde(flatten)]
    pub incident: ScheduledIncident,
    /// Whether the simulation has reached it.
    pub played: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentsView {
    pub node: String,
    pub timeline: Vec<TimelineEntry>,
    /// Every incident started so far, from the timeline or the admin API.
    pub history: Vec<IncidentRecord>,
    pub active: Vec<ActiveIncident>,
}

impl IncidentsView {
    pub fn of(sim: &NodeSim) -> Self {
        let now_seconds = sim.now() / 1000;
        Self {
            node: sim.name().to_owned(),
            timeline: sim
                .timeline()
                .iter()
                .map(|incident| TimelineEntry {
                    played: incident.at_seconds <= now_seconds,
                    incident: incident.clone(),
                })
                .collect(),
            history: sim.history().to_vec(),
            active: active_incidents(sim),
        }
    }
}
