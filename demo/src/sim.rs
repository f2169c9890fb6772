//! The whole simulated node: shards, guild moves, identify pacing, the
//! runtime, the DB pool, traffic and incidents, advanced in fixed steps of
//! simulated time, and the operations the admin API applies to it.
//!
//! Fixed steps make a node deterministic for its seed: the state after the
//! same steps and the same admin operations is always the same, whatever
//! the real timing of the scrapes that drive it.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::clock::{SimClock, SimMillis};
use crate::config::{DemoNodeConfig, Incidents};
use crate::error::AdminError;
use crate::guilds::GuildMap;
use crate::identify::IdentifyQueue;
use crate::incidents::{node_timeline, IncidentKind, ScheduledIncident};
use crate::metrics::Metrics;
use crate::pool::{PoolModel, MAIN_POOL};
use crate::runtime::RuntimeModel;
use crate::shard::{Shard, ShardEvent, ShardState};
use crate::traffic::TrafficModel;

/// One simulation step, in simulated milliseconds.
pub const STEP_MS: SimMillis = 250;
/// How long a drain (or taking the guilds back) takes, simulated.
pub const DRAIN_MS: SimMillis = 5_000;
/// How long the latency-spike incident lasts unless the shard restarts.
pub const LATENCY_SPIKE_MS: SimMillis = 600_000;
const STEPS_PER_DRAIN: u32 = (DRAIN_MS / STEP_MS) as u32;

/// An incident that happened, for `GET /admin/incidents`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub kind: IncidentKind,
    pub shard: Option<u32>,
    /// Simulated seconds after the node started.
    pub at_seconds: f64,
    /// Real wall-clock time, seconds since the epoch.
    pub timestamp_seconds: f64,
    /// `timeline` or `admin`.
    pub source: &'static str,
}

pub struct NodeSim {
    name: String,
    clock: SimClock,
    rng: StdRng,
    now: SimMillis,
    process_started: SimMillis,
    shards: Vec<Shard>,
    guilds: GuildMap,
    identify: IdentifyQueue,
    runtime: RuntimeModel,
    pool: PoolModel,
    traffic: TrafficModel,
    timeline: Vec<ScheduledIncident>,
    next_incident: usize,
    history: Vec<IncidentRecord>,
    node_restarting: bool,
    metrics: Metrics,
}

impl NodeSim {
    pub fn new(config: &DemoNodeConfig, clock: SimClock) -> Result<Self, prometheus::Error> {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let shards: Vec<Shard> = (0..config.shards)
            .map(|id| Shard::ready(id, &mut rng))
            .collect();
        // Discord assigns guilds to shards by `(guild_id >> 22) % shards`,
        // which spreads them within a few percent of each other: a node's
        // scale varies, its shards' counts barely do (the default
        // ShardImbalance rule pages above 5%).
        let guilds_per_shard: u32 = rng.random_range(900..1_600);
        let home_guilds = (0..config.shards)
            .map(|_| guilds_per_shard + rng.random_range(0..=guilds_per_shard / 50))
            .collect();
        let timeline = match &config.incidents {
            Incidents::Off => Vec::new(),
            Incidents::Seeded => node_timeline(config.seed, config.shards),
            Incidents::Scripted(timeline) => {
                let mut timeline = timeline.clone();
                timeline.sort_by_key(|incident| incident.at_seconds);
                timeline
            }
        };
        Ok(Self {
            name: config.name.clone(),
            clock,
            rng,
            now: 0,
            process_started: 0,
            guilds: GuildMap::new(home_guilds),
            identify: IdentifyQueue::new(config.shards),
            runtime: RuntimeModel::new(config.shards),
            pool: PoolModel::new(),
            traffic: TrafficModel::default(),
            timeline,
            next_incident: 0,
            history: Vec::new(),
            node_restarting: false,
            metrics: Metrics::new(config.shards, &[MAIN_POOL])?,
            shards,
        })
    }

    /// Runs every step up to the clock's current simulated time.
    pub fn catch_up(&mut self) {
        let target = self.clock.now();
        while self.now + STEP_MS <= target {
            self.now += STEP_MS;
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now;
        let dt = STEP_MS as f64 / 1000.0;
        self.play_due_incidents();
        if let Some(id) = self.identify.poll(now) {
            self.shards[id as usize].begin_identify(now);
        }
        for shard in &mut self.shards {
            if shard.advance(now, &mut self.rng) == Some(ShardEvent::Respawned) {
                self.metrics.count_shard_restart(shard.id);
                self.identify.enqueue(shard.id);
            }
        }
        self.move_guilds();
        if self.node_restarting && self.restarting_shards() == 0 {
            self.node_restarting = false;
        }

        let rate = self.traffic.rate(now);
        let pool = self
            .pool
            .step(now, dt, rate, self.traffic.hold_secs(now), &mut self.rng);
        self.metrics.add_acquire_timeouts(MAIN_POOL, pool.timeouts);
        let requests = self
            .traffic
            .requests(now, dt, pool.timed_out_share, &mut self.rng);
        self.metrics.record_requests(&requests);
        let runtime = self.runtime.step(dt, rate, &mut self.rng);
        self.metrics.record_gcs(&runtime.gcs);
        // CPU seconds accrue in real time, so rate() reads as a believable
        // CPU share at any speed.
        self.metrics
            .add_cpu_seconds(runtime.cpu_fraction * self.clock.real_secs(STEP_MS));
    }

    fn play_due_incidents(&mut self) {
        while let Some(incident) = self.timeline.get(self.next_incident) {
            if incident.at_seconds * 1000 > self.now {
                break;
            }
            let (kind, shard) = (incident.kind, incident.shard);
            self.next_incident += 1;
            self.apply_incident(kind, shard, "timeline");
        }
    }

    /// Moves guilds off draining shards, and back to shards that resumed.
    fn move_guilds(&mut self) {
        for index in 0..self.shards.len() {
            let id = self.shards[index].id;
            match (self.shards[index].state, self.shards[index].drain_chunk) {
                (ShardState::Draining, Some(chunk)) => {
                    if let Some(target) = self.least_loaded_ready_shard(id) {
                        self.guilds.transfer(id, target, chunk);
                    }
                    if self.guilds.served_by(id) == 0 {
                        let shard = &mut self.shards[index];
                        shard.state = ShardState::Drained;
                        shard.drain_chunk = None;
                    }
                }
                (ShardState::Ready, _) => {
                    if let Some(chunk) = self.shards[index].reclaim_chunk {
                        self.guilds.reclaim(id, chunk);
                        if self.guilds.lent_out(id) == 0 {
                            self.shards[index].reclaim_chunk = None;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn least_loaded_ready_shard(&self, except: u32) -> Option<u32> {
        self.shards
            .iter()
            .filter(|shard| shard.id != except && shard.state == ShardState::Ready)
            .min_by_key(|shard| (self.guilds.served_by(shard.id), shard.id))
            .map(|shard| shard.id)
    }

    fn restarting_shards(&self) -> usize {
        self.shards
            .iter()
            .filter(|shard| shard.is_restarting(self.identify.is_queued(shard.id)))
            .count()
    }

    /// The shard with this id, or a 404 naming the valid range.
    fn known_shard(&self, id: u32) -> Result<&Shard, AdminError> {
        self.shards
            .get(id as usize)
            .ok_or_else(|| self.no_such_shard(&id))
    }

    fn no_such_shard(&self, id: &dyn std::fmt::Display) -> AdminError {
        AdminError::NotFound(format!(
            "node {} has no shard {id} (shards are 0 to {})",
            self.name,
            self.shards.len() - 1
        ))
    }

    /// Parses a shard id from a URL and checks that it exists.
    pub fn shard_id(&self, raw: &str) -> Result<u32, AdminError> {
        let id: u32 = raw.parse().map_err(|_| self.no_such_shard(&raw))?;
        self.known_shard(id)?;
        Ok(id)
    }

    fn refuse_while_restarting(&self, id: u32, operation: &str) -> Result<(), AdminError> {
        let phase = if self.identify.is_queued(id) {
            "waiting for an identify slot"
        } else if self.shards[id as usize].state == ShardState::Starting {
            "identifying now"
        } else {
            return Ok(());
        };
        let already = if operation == "restart" {
            "already "
        } else {
            ""
        };
        Err(AdminError::Conflict(format!(
            "cannot {operation} shard {id}: it is {already}restarting ({phase})"
        )))
    }

    /// Starts moving a ready shard's guilds to the node's other ready shards.
    pub fn drain(&mut self, id: u32) -> Result<(), AdminError> {
        self.known_shard(id)?;
        self.refuse_while_restarting(id, "drain")?;
        let state = self.shards[id as usize].state;
        if state != ShardState::Ready {
            let advice = match state {
                ShardState::Draining | ShardState::Drained => "",
                _ => "; restart it first",
            };
            return Err(AdminError::Conflict(format!(
                "cannot drain shard {id}: it is {}{advice}",
                state.as_str()
            )));
        }
        if self.least_loaded_ready_shard(id).is_none() {
            return Err(AdminError::Conflict(format!(
                "cannot drain shard {id}: no other shard is ready to take its guilds"
            )));
        }
        let chunk = self.guilds.served_by(id).div_ceil(STEPS_PER_DRAIN).max(1);
        let shard = &mut self.shards[id as usize];
        shard.state = ShardState::Draining;
        shard.drain_chunk = Some(chunk);
        shard.reclaim_chunk = None;
        Ok(())
    }

    /// Puts a connected shard back into service and takes its guilds back.
    pub fn resume(&mut self, id: u32) -> Result<(), AdminError> {
        self.known_shard(id)?;
        self.refuse_while_restarting(id, "resume")?;
        let lent = self.guilds.lent_out(id);
        let shard = &mut self.shards[id as usize];
        match shard.state {
            ShardState::Ready | ShardState::Draining | ShardState::Drained => {
                shard.state = ShardState::Ready;
                shard.drain_chunk = None;
                shard.reclaim_chunk = (lent > 0).then(|| lent.div_ceil(STEPS_PER_DRAIN).max(1));
                Ok(())
            }
            state => Err(AdminError::Conflict(format!(
                "cannot resume shard {id}: it is {}; restart it first",
                state.as_str()
            ))),
        }
    }

    /// Disconnects a shard and queues it for an identify.
    pub fn restart_shard(&mut self, id: u32) -> Result<(), AdminError> {
        self.known_shard(id)?;
        self.refuse_while_restarting(id, "restart")?;
        self.shards[id as usize].disconnect_for_restart();
        self.metrics.count_shard_restart(id);
        self.identify.enqueue(id);
        Ok(())
    }

    /// Restarts the node's process: a fresh heap, a fresh pool, every guild
    /// back home, and every shard through the identify queue.
    pub fn restart_node(&mut self) -> Result<(), AdminError> {
        if self.node_restarting {
            return Err(AdminError::Conflict(format!(
                "node {} is already restarting: {} shards have not identified yet",
                self.name,
                self.restarting_shards()
            )));
        }
        let shard_count = self.shards.len() as u32;
        self.metrics = Metrics::new(shard_count, &[MAIN_POOL])
            .map_err(|err| AdminError::Internal(format!("cannot reset the metrics: {err}")))?;
        self.process_started = self.now;
        self.runtime = RuntimeModel::new(shard_count);
        self.pool = PoolModel::new();
        self.guilds.reset();
        for shard in &mut self.shards {
            shard.disconnect_for_restart();
            // A new process: its counters and timestamps start afresh.
            shard.restarts = 0;
            shard.last_heartbeat = None;
            shard.ready_at = None;
            self.identify.enqueue(shard.id);
        }
        self.node_restarting = true;
        Ok(())
    }

    pub fn recycle_pool(&mut self, name: &str) -> Result<(), AdminError> {
        if name != self.pool.name() {
            return Err(AdminError::NotFound(format!(
                "node {} has no pool {name:?} (pools: {})",
                self.name,
                self.pool.name()
            )));
        }
        if self.pool.is_recycling() {
            return Err(AdminError::Conflict(format!(
                "pool {name} is already recycling"
            )));
        }
        self.pool.recycle(self.now);
        Ok(())
    }

    /// Starts an incident now. Kinds that hit a shard take `shard`, or a
    /// seeded pick among the ready shards.
    pub fn trigger(
        &mut self,
        kind: IncidentKind,
        shard: Option<u32>,
    ) -> Result<IncidentRecord, AdminError> {
        let shard = match (kind.targets_shard(), shard) {
            (true, Some(id)) => {
                self.known_shard(id)?;
                Some(id)
            }
            (true, None) => {
                let ready: Vec<u32> = self
                    .shards
                    .iter()
                    .filter(|shard| shard.state == ShardState::Ready)
                    .map(|shard| shard.id)
                    .collect();
                let all: Vec<u32> = (0..self.shards.len() as u32).collect();
                let candidates = if ready.is_empty() { &all } else { &ready };
                candidates.choose(&mut self.rng).copied()
            }
            (false, Some(_)) => {
                return Err(AdminError::BadRequest(format!(
                    "incident {kind} hits the whole node and takes no shard"
                )))
            }
            (false, None) => None,
        };
        Ok(self.apply_incident(kind, shard, "admin"))
    }

    fn apply_incident(
        &mut self,
        kind: IncidentKind,
        shard: Option<u32>,
        source: &'static str,
    ) -> IncidentRecord {
        let now = self.now;
        let target = shard.and_then(|id| self.shards.get_mut(id as usize));
        match (kind, target) {
            (IncidentKind::ShardSilent, Some(shard)) => {
                shard.go_silent();
                self.identify.remove(shard.id);
            }
            (IncidentKind::LatencySpike, Some(shard)) => {
                shard.start_latency_spike(now, now + LATENCY_SPIKE_MS, &mut self.rng)
            }
            (IncidentKind::RestartLoop, Some(shard)) => shard.start_resume_loop(now),
            (IncidentKind::MemoryLeak, _) => self.runtime.start_leak(),
            (IncidentKind::PoolExhaustion, _) => {
                self.traffic.start_spike(now);
                self.pool.start_leak();
            }
            (
                IncidentKind::ShardSilent | IncidentKind::LatencySpike | IncidentKind::RestartLoop,
                None,
            ) => {}
        }
        tracing::info!(node = %self.name, incident = %kind, ?shard, source, "incident started");
        let record = IncidentRecord {
            kind,
            shard,
            at_seconds: now as f64 / 1000.0,
            timestamp_seconds: self.clock.wall_secs(now),
            source,
        };
        self.history.push(record.clone());
        record
    }

    /// Incidents whose effects are still there, with the shard they hit.
    pub fn active_incidents(&self) -> Vec<(IncidentKind, Option<u32>)> {
        let mut active = Vec::new();
        if self.runtime.is_leaking() {
            active.push((IncidentKind::MemoryLeak, None));
        }
        if self.pool.is_leaking() {
            active.push((IncidentKind::PoolExhaustion, None));
        }
        for shard in &self.shards {
            let flags = [
                (IncidentKind::ShardSilent, shard.silent),
                (
                    IncidentKind::LatencySpike,
                    shard.latency_spike_until.is_some(),
                ),
                (IncidentKind::RestartLoop, shard.resume_loop),
            ];
            for (kind, on) in flags {
                if on {
                    active.push((kind, Some(shard.id)));
                }
            }
        }
        active
    }

    pub fn render_metrics(&self) -> Result<String, prometheus::Error> {
        self.metrics.render(self)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn now(&self) -> SimMillis {
        self.now
    }

    pub fn wall_secs(&self, at: SimMillis) -> f64 {
        self.clock.wall_secs(at)
    }

    pub fn speed(&self) -> f64 {
        self.clock.speed()
    }

    pub fn process_start_time_seconds(&self) -> f64 {
        self.clock.wall_secs(self.process_started)
    }

    pub fn is_restarting(&self) -> bool {
        self.node_restarting
    }

    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub fn shard_count(&self) -> u32 {
        self.shards.len() as u32
    }

    pub fn guilds(&self) -> &GuildMap {
        &self.guilds
    }

    pub fn identify(&self) -> &IdentifyQueue {
        &self.identify
    }

    pub fn runtime(&self) -> &RuntimeModel {
        &self.runtime
    }

    pub fn pool(&self) -> &PoolModel {
        &self.pool
    }

    pub fn timeline(&self) -> &[ScheduledIncident] {
        &self.timeline
    }

    pub fn history(&self) -> &[IncidentRecord] {
        &self.history
    }
}
