//! HTTP traffic the node serves: interaction webhooks and a small
//! dashboard API, with a daily-looking wave and an optional spike.

use rand::rngs::StdRng;
use rand::Rng;

use crate::clock::SimMillis;
use crate::pool::ACQUIRE_TIMEOUT_SECS;

/// Requests per simulated second at the middle of the wave.
const BASE_RATE: f64 = 25.0;
/// One period of the traffic wave, simulated.
const WAVE_PERIOD_SECS: f64 = 600.0;
/// During a spike traffic is this many times higher...
const SPIKE_FACTOR: f64 = 6.0;
/// ...and queries hold connections this long (lock contention), instead of:
const SPIKE_HOLD_SECS: f64 = 0.1;
const NORMAL_HOLD_SECS: f64 = 0.02;
/// How long the pool-exhaustion traffic spike lasts, simulated.
pub const SPIKE_MS: SimMillis = 120_000;

/// (method, route, share of traffic).
pub const ROUTES: [(&str, &str, f64); 3] = [
    ("POST", "/interactions", 0.6),
    ("GET", "/api/guilds/:id", 0.3),
    ("GET", "/api/stats", 0.1),
];
/// The status codes the node answers with.
pub const CODES: [&str; 4] = ["200", "404", "500", "503"];

/// One simulated request, for the request counter and latency histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub route: &'static str,
    pub code: &'static str,
    pub duration_secs: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TrafficModel {
    spike_until: Option<SimMillis>,
    arrivals_carry: f64,
}

impl TrafficModel {
    pub fn start_spike(&mut self, now: SimMillis) {
        self.spike_until = Some(now + SPIKE_MS);
    }

    pub fn is_spiking(&self, now: SimMillis) -> bool {
        self.spike_until.is_some_and(|until| now < until)
    }

    /// Requests per simulated second at `now`.
    pub fn rate(&self, now: SimMillis) -> f64 {
        let phase = now as f64 / 1000.0 / WAVE_PERIOD_SECS * std::f64::consts::TAU;
        let wave = BASE_RATE * (1.0 + 0.3 * phase.sin());
        if self.is_spiking(now) {
            wave * SPIKE_FACTOR
        } else {
            wave
        }
    }

    /// How long a request holds a database connection at `now`.
    pub fn hold_secs(&self, now: SimMillis) -> f64 {
        if self.is_spiking(now) {
            SPIKE_HOLD_SECS
        } else {
            NORMAL_HOLD_SECS
        }
    }

    /// The requests that arrive in `dt` simulated seconds; a share
    /// `timed_out_share` of them gave up waiting for a DB connection.
    pub fn requests(
        &mut self,
        now: SimMillis,
        dt: f64,
        timed_out_share: f64,
        rng: &mut StdRng,
    ) -> Vec<Request> {
        self.arrivals_carry += self.rate(now) * dt;
        let count = self.arrivals_carry.floor();
        self.arrivals_carry -= count;
        let hold = self.hold_secs(now);
        (0..count as u32)
            .map(|_| Self::request(hold, timed_out_share, rng))
            .collect()
    }

    fn request(hold_secs: f64, timed_out_share: f64, rng: &mut StdRng) -> Request {
        let mut pick = rng.random_range(0.0..1.0);
        let (method, route, _) = ROUTES
            .iter()
            .copied()
            .find(|(_, _, share)| {
                pick -= share;
                pick < 0.0
            })
            .unwrap_or(ROUTES[0]);
        if rng.random_bool(timed_out_share.clamp(0.0, 1.0)) {
            return Request {
                method,
                route,
                code: "503",
                duration_secs: ACQUIRE_TIMEOUT_SECS + rng.random_range(0.0..0.05),
            };
        }
        let roll = rng.random_range(0.0..1.0);
        let code = if roll < 0.975 {
            "200"
        } else if roll < 0.995 {
            "404"
        } else {
            "500"
        };
        // Exponentially distributed work on top of the query.
        let work = -0.012 * (1.0 - rng.random_range(0.0..1.0_f64)).ln();
        Request {
            method,
            route,
            code,
            duration_secs: hold_secs + work,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_spike_multiplies_traffic_and_slows_queries_for_its_duration() {
        let mut traffic = TrafficModel::default();
        let calm = traffic.rate(1_000);
        traffic.start_spike(1_000);
        assert!((traffic.rate(1_000) / calm - SPIKE_FACTOR).abs() < 1e-9);
        assert_eq!(traffic.hold_secs(2_000), SPIKE_HOLD_SECS);
        assert!(!traffic.is_spiking(1_000 + SPIKE_MS));
    }

    #[test]
    fn timed_out_requests_answer_503_after_the_acquire_timeout() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut traffic = TrafficModel::default();
        let requests = traffic.requests(0, 10.0, 1.0, &mut rng);
        assert!(requests.len() >= 200);
        assert!(requests
            .iter()
            .all(|r| r.code == "503" && r.duration_secs >= ACQUIRE_TIMEOUT_SECS));
        let healthy = traffic.requests(10_000, 10.0, 0.0, &mut rng);
        assert!(healthy.iter().all(|r| r.code != "503"));
        assert!(healthy.iter().any(|r| r.route == "/api/stats"));
    }
}
