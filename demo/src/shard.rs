//! One shard: its gateway connection state, heartbeats and latency, and the
//! incident flags that make it misbehave.

use rand::rngs::StdRng;
use rand::Rng;
use serde::Serialize;

use crate::clock::SimMillis;

/// Discord's usual gateway heartbeat interval.
pub const HEARTBEAT_INTERVAL_MS: SimMillis = 41_250;
/// From an identify to READY plus the guild stream.
pub const IDENTIFY_DELAY_MS: SimMillis = 2_500;
/// How long a shard in a restart loop stays up before it dies again.
const LOOP_UPTIME_MS: SimMillis = 20_000;
/// How long the manager waits before it respawns a dead shard
/// (discord.js `respawnDelay` is 500 ms; a crash loop backs off more).
const RESPAWN_DELAY_MS: SimMillis = 5_000;

/// The lifecycle state of a shard, exported one-hot as
/// `app_shard_status{shard,state}` and as the code `app_shard_status_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardState {
    /// Identifying: the gateway session is being set up.
    Starting,
    /// Connected and serving its guilds.
    Ready,
    /// Connected, handing its guilds to other shards.
    Draining,
    /// Connected, serving no guilds.
    Drained,
    /// No gateway connection; waiting for an identify slot or for an operator.
    Disconnected,
    /// The shard's process exited; the manager respawns it.
    Dead,
}

impl ShardState {
    pub const ALL: [ShardState; 6] = [
        ShardState::Starting,
        ShardState::Ready,
        ShardState::Draining,
        ShardState::Drained,
        ShardState::Disconnected,
        ShardState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShardState::Starting => "starting",
            ShardState::Ready => "ready",
            ShardState::Draining => "draining",
            ShardState::Drained => "drained",
            ShardState::Disconnected => "disconnected",
            ShardState::Dead => "dead",
        }
    }

    /// The value of `app_shard_status_code`: higher is healthier, and
    /// `ready` is the only state at the top.
    pub fn code(self) -> u8 {
        match self {
            ShardState::Dead => 0,
            ShardState::Disconnected => 1,
            ShardState::Starting => 2,
            ShardState::Draining => 3,
            ShardState::Drained => 4,
            ShardState::Ready => 5,
        }
    }

    /// Whether the shard holds a gateway connection (and so heartbeats).
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            ShardState::Starting | ShardState::Ready | ShardState::Draining | ShardState::Drained
        )
    }
}

/// Something that happened to a shard during a step, for the node to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardEvent {
    /// The manager respawned a dead shard: it needs an identify.
    Respawned,
}

#[derive(Debug, Clone)]
pub struct Shard {
    pub id: u32,
    pub state: ShardState,
    /// The last measured gateway round trip; kept while disconnected.
    pub latency_secs: f64,
    pub last_heartbeat: Option<SimMillis>,
    next_heartbeat: SimMillis,
    pub ready_at: Option<SimMillis>,
    /// Restarts of any cause since the node process started.
    pub restarts: u64,
    base_latency_secs: f64,
    ready_due: Option<SimMillis>,
    /// Guilds moved per step while draining or taking guilds back.
    pub drain_chunk: Option<u32>,
    pub reclaim_chunk: Option<u32>,
    // Incidents.
    pub silent: bool,
    pub latency_spike_until: Option<SimMillis>,
    pub resume_loop: bool,
    dies_at: Option<SimMillis>,
    respawn_at: Option<SimMillis>,
}

impl Shard {
    /// A shard that has been ready since the node started.
    pub fn ready(id: u32, rng: &mut StdRng) -> Self {
        let base_latency_secs = rng.random_range(0.035..0.075);
        Self {
            id,
            state: ShardState::Ready,
            latency_secs: base_latency_secs,
            last_heartbeat: Some(0),
            // Heartbeats are spread out over the interval, as those of real
            // shards that identified 5 s apart would be.
            next_heartbeat: rng.random_range(0..HEARTBEAT_INTERVAL_MS),
            ready_at: Some(0),
            restarts: 0,
            base_latency_secs,
            ready_due: None,
            drain_chunk: None,
            reclaim_chunk: None,
            silent: false,
            latency_spike_until: None,
            resume_loop: false,
            dies_at: None,
            respawn_at: None,
        }
    }

    /// Whether the shard is between a restart and READY.
    pub fn is_restarting(&self, queued_for_identify: bool) -> bool {
        queued_for_identify || self.state == ShardState::Starting
    }

    /// Drops the connection for a restart: every incident that lives in the
    /// gateway session ends with it. The caller queues the identify.
    pub fn disconnect_for_restart(&mut self) {
        self.state = ShardState::Disconnected;
        self.restarts += 1;
        self.ready_due = None;
        self.drain_chunk = None;
        self.reclaim_chunk = None;
        self.silent = false;
        self.latency_spike_until = None;
        self.resume_loop = false;
        self.dies_at = None;
        self.respawn_at = None;
    }

    /// The identify slot came: the shard connects and starts heartbeating.
    pub fn begin_identify(&mut self, now: SimMillis) {
        self.state = ShardState::Starting;
        self.ready_due = Some(now + IDENTIFY_DELAY_MS);
        self.last_heartbeat = Some(now);
        self.next_heartbeat = now + HEARTBEAT_INTERVAL_MS;
    }

    /// The connection dies and the shard does not reconnect on its own.
    pub fn go_silent(&mut self) {
        self.state = ShardState::Disconnected;
        self.silent = true;
        self.ready_due = None;
        self.drain_chunk = None;
        self.reclaim_chunk = None;
    }

    /// The gateway connection degrades until `until`; a connected shard
    /// measures it with a heartbeat at once.
    pub fn start_latency_spike(&mut self, now: SimMillis, until: SimMillis, rng: &mut StdRng) {
        self.latency_spike_until = Some(until);
        if self.state.is_connected() && !self.silent {
            self.heartbeat(now, rng);
        }
    }

    pub fn start_resume_loop(&mut self, now: SimMillis) {
        self.resume_loop = true;
        if self.state.is_connected() {
            self.dies_at = Some(now + LOOP_UPTIME_MS);
        }
    }

    pub fn advance(&mut self, now: SimMillis, rng: &mut StdRng) -> Option<ShardEvent> {
        if self.latency_spike_until.is_some_and(|until| now >= until) {
            self.latency_spike_until = None;
        }
        let mut event = None;
        match self.state {
            ShardState::Starting if self.ready_due.is_some_and(|due| now >= due) => {
                self.state = ShardState::Ready;
                self.ready_due = None;
                self.ready_at = Some(now);
                if self.resume_loop {
                    self.dies_at = Some(now + LOOP_UPTIME_MS);
                }
            }
            ShardState::Ready | ShardState::Draining | ShardState::Drained
                if self.dies_at.is_some_and(|at| now >= at) =>
            {
                self.state = ShardState::Dead;
                self.dies_at = None;
                self.drain_chunk = None;
                self.reclaim_chunk = None;
                self.respawn_at = Some(now + RESPAWN_DELAY_MS);
            }
            ShardState::Dead if self.respawn_at.is_some_and(|at| now >= at) => {
                self.state = ShardState::Disconnected;
                self.respawn_at = None;
                self.restarts += 1;
                event = Some(ShardEvent::Respawned);
            }
            _ => {}
        }
        if self.state.is_connected() && !self.silent && now >= self.next_heartbeat {
            self.heartbeat(now, rng);
        }
        event
    }

    fn heartbeat(&mut self, now: SimMillis, rng: &mut StdRng) {
        self.last_heartbeat = Some(now);
        self.next_heartbeat = now + HEARTBEAT_INTERVAL_MS;
        self.latency_secs = self.measure_latency(rng);
    }

    /// The heartbeat ACK round trip, like discord.js `ws.ping`.
    fn measure_latency(&self, rng: &mut StdRng) -> f64 {
        if self.latency_spike_until.is_some() {
            rng.random_range(1.2..2.8)
        } else {
            self.base_latency_secs * rng.random_range(0.85..1.25)
        }
    }
}
