//! Simulated time: real time multiplied by the node's speed.
//!
//! Durations inside the simulation (identify delay, drain time, incident
//! timeline) are simulated milliseconds. Timestamps the node exports
//! (heartbeats, ready times, process start) are converted back to real
//! wall-clock seconds, so `time() - app_shard_last_heartbeat_timestamp_seconds`
//! means the same to an agent at any speed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Simulated milliseconds since the node started.
pub type SimMillis = u64;

#[derive(Debug, Clone)]
pub struct SimClock {
    started: Instant,
    started_wall_secs: f64,
    speed: f64,
}

impl SimClock {
    pub fn start(speed: f64) -> Self {
        let started_wall_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        Self {
            started: Instant::now(),
            started_wall_secs,
            speed,
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Simulated milliseconds elapsed since the start.
    pub fn now(&self) -> SimMillis {
        (self.started.elapsed().as_secs_f64() * self.speed * 1000.0) as SimMillis
    }

    /// The real wall-clock time, in seconds since the epoch, at which the
    /// simulation reaches `at`.
    pub fn wall_secs(&self, at: SimMillis) -> f64 {
        self.started_wall_secs + self.real_secs(at)
    }

    /// Real seconds that `sim` simulated milliseconds take.
    pub fn real_secs(&self, sim: SimMillis) -> f64 {
        sim as f64 / 1000.0 / self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_advances_by_real_time_not_simulated_time() {
        let clock = SimClock::start(50.0);
        let start = clock.wall_secs(0);
        // 100 simulated seconds at speed 50 are 2 real seconds.
        assert!((clock.wall_secs(100_000) - start - 2.0).abs() < 1e-9);
        assert!((clock.real_secs(5_000) - 0.1).abs() < 1e-12);
    }
}
