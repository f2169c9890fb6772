//! Reconnect delays: exponential from 500 ms to 30 s, with jitter so a
//! fleet of agents that went down together does not reconnect in lockstep.

use std::time::Duration;

use rand::Rng;

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt; each call doubles it up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let base = FIRST.saturating_mul(1u32 << self.failures.min(16)).min(MAX);
        self.failures = self.failures.saturating_add(1);
        // ±20 % jitter.
        let factor = rand::rng().random_range(0.8..=1.2);
        base.mul_f64(factor).min(MAX)
    }

    /// Called once a connection is established.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_then_resets() {
        let mut backoff = Backoff::default();
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(400) && first <= Duration::from_millis(600));
        let second = backoff.next_delay();
        assert!(second >= Duration::from_millis(800), "{second:?}");
        for _ in 0..20 {
            assert!(backoff.next_delay() <= MAX);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(600));
    }
}
