//! The node's database connection pool (think node-postgres `Pool`).
//!
//! Requests hold a connection for a query's duration, so by Little's law
//! the connections in use are the request rate times the hold time. When
//! requests arrive faster than the free connections can serve them, the
//! excess waits and, after the acquire timeout, gives up. Connections that
//! an error path never releases ("leaked") stay checked out until the pool
//! is recycled. The pool-exhaustion incident starts such a leak (while a
//! traffic spike makes it hurt sooner); recycling the pool closes the
//! leaked connections and ends it.

use rand::rngs::StdRng;
use rand::Rng;
use serde::Serialize;

use crate::clock::SimMillis;

/// The pool every node has.
pub const MAIN_POOL: &str = "main";
/// How long a client waits for a connection before giving up, simulated.
pub const ACQUIRE_TIMEOUT_SECS: f64 = 5.0;
const MAX_CONNECTIONS: u32 = 20;
const MIN_CONNECTIONS: u32 = 2;
/// While the pool leaks, a connection leaks this often, simulated.
const LEAK_EVERY_SECS: f64 = 4.0;
/// How long recycling keeps the pool empty while it reconnects, simulated.
const RECYCLE_MS: SimMillis = 2_000;

/// The pool's numbers at the end of a step, as `app_pool_*` exports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PoolStats {
    pub size: u32,
    pub max: u32,
    pub active: u32,
    pub idle: u32,
    pub waiting: u32,
    pub leaked: u32,
}

/// What one step of traffic did to the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolStep {
    /// Share of this step's requests that timed out waiting for a connection.
    pub timed_out_share: f64,
    /// Whole acquire timeouts that happened in this step.
    pub timeouts: u64,
}

#[derive(Debug, Clone)]
pub struct PoolModel {
    stats: PoolStats,
    leaking: bool,
    leak_progress: f64,
    timeout_carry: f64,
    recycling_until: Option<SimMillis>,
}

impl PoolModel {
    pub fn new() -> Self {
        Self {
            stats: PoolStats {
                size: MIN_CONNECTIONS,
                max: MAX_CONNECTIONS,
                idle: MIN_CONNECTIONS,
                ..PoolStats::default()
            },
            leaking: false,
            leak_progress: 0.0,
            timeout_carry: 0.0,
            recycling_until: None,
        }
    }

    /// An error path starts forgetting to release connections.
    pub fn start_leak(&mut self) {
        self.leaking = true;
    }

    /// Whether connections leak, or leaked ones are still checked out.
    pub fn is_leaking(&self) -> bool {
        self.leaking || self.stats.leaked > 0
    }

    pub fn name(&self) -> &'static str {
        MAIN_POOL
    }

    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    pub fn is_recycling(&self) -> bool {
        self.recycling_until.is_some()
    }

    /// Closes every connection, leaked ones included, and opens fresh ones.
    pub fn recycle(&mut self, now: SimMillis) {
        self.leaking = false;
        self.stats.leaked = 0;
        self.leak_progress = 0.0;
        self.recycling_until = Some(now + RECYCLE_MS);
    }

    /// Serves `dt` simulated seconds of `requests_per_sec` requests that
    /// each hold a connection `hold_secs`.
    pub fn step(
        &mut self,
        now: SimMillis,
        dt: f64,
        requests_per_sec: f64,
        hold_secs: f64,
        rng: &mut StdRng,
    ) -> PoolStep {
        if self.recycling_until.is_some_and(|until| now >= until) {
            self.recycling_until = None;
        }
        if self.leaking && self.stats.leaked < MAX_CONNECTIONS {
            self.leak_progress += dt / LEAK_EVERY_SECS;
            let leaked_now = self.leak_progress.floor();
            self.leak_progress -= leaked_now;
            self.stats.leaked = (self.stats.leaked + leaked_now as u32).min(MAX_CONNECTIONS);
        }
        if self.recycling_until.is_some() {
            // Nothing can be acquired until the fresh connections are up;
            // clients queue, but not for longer than the acquire timeout.
            self.stats = PoolStats {
                size: 0,
                active: 0,
                idle: 0,
                waiting: (requests_per_sec * RECYCLE_MS as f64 / 1000.0).round() as u32,
                ..self.stats
            };
            return PoolStep::default();
        }

        let free = f64::from(MAX_CONNECTIONS - self.stats.leaked);
        let demand = requests_per_sec * hold_secs * rng.random_range(0.6..1.4);
        let served_per_sec = if hold_secs > 0.0 {
            free / hold_secs
        } else {
            f64::INFINITY
        };
        let overflow_per_sec = (requests_per_sec - served_per_sec).max(0.0);

        self.timeout_carry += overflow_per_sec * dt;
        let timeouts = self.timeout_carry.floor();
        self.timeout_carry -= timeouts;

        let in_use = demand.min(free).round() as u32 + self.stats.leaked;
        let size = (in_use + MIN_CONNECTIONS).clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
        self.stats = PoolStats {
            size,
            max: MAX_CONNECTIONS,
            active: in_use.min(size),
            idle: size - in_use.min(size),
            waiting: (overflow_per_sec * ACQUIRE_TIMEOUT_SECS).round() as u32,
            leaked: self.stats.leaked,
        };
        PoolStep {
            timed_out_share: if requests_per_sec > 0.0 {
                overflow_per_sec / requests_per_sec
            } else {
                0.0
            },
            timeouts: timeouts as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn run(pool: &mut PoolModel, from: SimMillis, seconds: u64, rate: f64, hold: f64) -> u64 {
        let mut rng = StdRng::seed_from_u64(5);
        (0..seconds * 4)
            .map(|i| {
                pool.step(from + i * 250, 0.25, rate, hold, &mut rng)
                    .timeouts
            })
            .sum()
    }

    #[test]
    fn normal_traffic_neither_waits_nor_times_out() {
        let mut pool = PoolModel::new();
        assert_eq!(run(&mut pool, 0, 60, 25.0, 0.02), 0);
        // A spike alone fits in the pool.
        assert_eq!(run(&mut pool, 60_000, 60, 150.0, 0.1), 0);
        let stats = pool.stats();
        assert_eq!(stats.waiting, 0);
        assert_eq!(stats.active + stats.idle, stats.size);
        assert!(stats.size <= stats.max);
    }

    #[test]
    fn leaked_connections_exhaust_the_pool_until_it_is_recycled() {
        let mut pool = PoolModel::new();
        pool.start_leak();
        run(&mut pool, 0, 120, 150.0, 0.1);
        assert_eq!(pool.stats().leaked, MAX_CONNECTIONS);
        // The spike is over, but with every connection leaked all requests time out.
        let timeouts = run(&mut pool, 120_000, 10, 25.0, 0.02);
        assert!(timeouts >= 240, "{timeouts}");
        assert!(pool.stats().waiting > 0);
        assert_eq!(pool.stats().active, MAX_CONNECTIONS);

        pool.recycle(130_000);
        assert!(pool.is_recycling());
        assert_eq!(run(&mut pool, 130_000, 60, 25.0, 0.02), 0);
        assert!(!pool.is_recycling());
        assert_eq!(pool.stats().waiting, 0);
        assert_eq!(pool.stats().leaked, 0);
    }
}
