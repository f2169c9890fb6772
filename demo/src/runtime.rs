//! The node's JavaScript runtime, as V8 and Node.js would report it to
//! prom-client: heap spaces with a GC sawtooth, GC pauses, event-loop lag
//! and CPU use.
//!
//! Young objects fill the new space until a scavenge (minor GC) empties it
//! and promotes a few survivors into the old space. Promoted garbage grows
//! the old space until a mark-sweep (major GC) brings it back to what is
//! really retained. A leak grows what is retained; near the heap limit the
//! major GCs come back to back and get long, and the event loop suffers.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::Rng;

const MIB: f64 = 1024.0 * 1024.0;
/// One semispace of the new space.
const YOUNG_CAPACITY: f64 = 16.0 * MIB;
/// Share of a scavenged new space that survives into the old space.
const PROMOTION_RATE: f64 = 0.08;
/// Old-space limit (`--max-old-space-size=2048`).
const OLD_SPACE_LIMIT: f64 = 2048.0 * MIB;
/// A leak stops growing this far below the limit: the node crawls but
/// does not crash, so the runbook still has something to restart.
const LEAK_CEILING: f64 = OLD_SPACE_LIMIT - 48.0 * MIB;
/// How fast the memory-leak incident retains memory, per simulated second.
pub const LEAK_BYTES_PER_SEC: f64 = 1.5 * MIB;
/// Event-loop lag samples kept for the percentiles (10 s at 250 ms steps).
const LAG_WINDOW: usize = 40;

/// V8 heap spaces as prom-client labels them, with fixed sizes for the
/// spaces this model does not move: (space, used, total).
const STATIC_SPACES: [(&str, f64, f64); 4] = [
    ("read_only", 0.17 * MIB, 0.25 * MIB),
    ("code", 3.4 * MIB, 4.0 * MIB),
    ("map", 1.2 * MIB, 1.5 * MIB),
    ("large_object", 6.1 * MIB, 6.5 * MIB),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcKind {
    Minor,
    Major,
    Incremental,
}

impl GcKind {
    pub const ALL: [GcKind; 3] = [GcKind::Minor, GcKind::Major, GcKind::Incremental];

    /// The `kind` label prom-client uses.
    pub fn as_str(self) -> &'static str {
        match self {
            GcKind::Minor => "minor",
            GcKind::Major => "major",
            GcKind::Incremental => "incremental",
        }
    }
}

/// One heap space's numbers, for `nodejs_heap_space_size_*_bytes{space}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeapSpace {
    pub space: &'static str,
    pub used: f64,
    pub total: f64,
}

/// What one simulation step of the runtime produced.
#[derive(Debug, Clone, Default)]
pub struct RuntimeStep {
    /// Garbage collections that ran, with their pause in seconds.
    pub gcs: Vec<(GcKind, f64)>,
    /// The share of one core the process used.
    pub cpu_fraction: f64,
}

/// Summary of the recent event-loop lag, as prom-client exports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagStats {
    pub current: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

#[derive(Debug, Clone)]
pub struct RuntimeModel {
    young_used: f64,
    old_used: f64,
    /// What survives a major GC: the live data plus anything leaked.
    retained: f64,
    old_committed: f64,
    external: f64,
    leak_bytes_per_sec: f64,
    lag: VecDeque<f64>,
}

impl RuntimeModel {
    /// A freshly started process; every shard keeps a guild cache.
    pub fn new(shards: u32) -> Self {
        let retained = 48.0 * MIB + 1.5 * MIB * f64::from(shards);
        Self {
            young_used: 0.0,
            old_used: retained,
            retained,
            old_committed: major_threshold(retained),
            external: (4.0 * MIB + 0.5 * MIB * f64::from(shards)).round(),
            leak_bytes_per_sec: 0.0,
            lag: VecDeque::with_capacity(LAG_WINDOW),
        }
    }

    pub fn start_leak(&mut self) {
        self.leak_bytes_per_sec = LEAK_BYTES_PER_SEC;
    }

    pub fn is_leaking(&self) -> bool {
        self.leak_bytes_per_sec > 0.0
    }

    /// Advances `dt` simulated seconds under `requests_per_sec` of traffic.
    pub fn step(&mut self, dt: f64, requests_per_sec: f64, rng: &mut StdRng) -> RuntimeStep {
        let mut step = RuntimeStep::default();
        // Leaked objects survive every GC, so they end up in the old space.
        let leaked = (self.leak_bytes_per_sec * dt)
            .min(LEAK_CEILING - self.retained)
            .max(0.0);
        self.retained += leaked;
        self.old_used += leaked;

        let alloc_per_sec = 1.5 * MIB + 0.1 * MIB * requests_per_sec;
        self.young_used += alloc_per_sec * dt * rng.random_range(0.7..1.3);
        if self.young_used >= YOUNG_CAPACITY {
            step.gcs
                .push((GcKind::Minor, rng.random_range(0.0008..0.004)));
            self.old_used += self.young_used * PROMOTION_RATE;
            self.young_used = 0.0;
        }
        if self.old_used >= self.old_committed {
            // Incremental marking runs ahead of the final mark-sweep pause.
            step.gcs
                .push((GcKind::Incremental, rng.random_range(0.001..0.004)));
            let pause = 0.005 + 0.08 * self.retained / (1024.0 * MIB);
            step.gcs
                .push((GcKind::Major, pause * rng.random_range(0.8..1.5)));
            self.old_used = self.retained;
            self.old_committed = major_threshold(self.retained);
        }

        let gc_secs: f64 = step.gcs.iter().map(|(_, pause)| pause).sum();
        let longest_pause = step.gcs.iter().map(|(_, pause)| *pause).fold(0.0, f64::max);
        step.cpu_fraction = (0.03 + 0.004 * requests_per_sec + gc_secs / dt).min(1.0);
        let lag = 0.0012 + rng.random_range(0.0..0.0015) + 0.9 * longest_pause;
        if self.lag.len() == LAG_WINDOW {
            self.lag.pop_front();
        }
        self.lag.push_back(lag);
        step
    }

    /// The heap spaces in whole bytes, as V8 reports them.
    pub fn heap_spaces(&self) -> Vec<HeapSpace> {
        let mut spaces = vec![
            HeapSpace {
                space: "new",
                used: self.young_used,
                total: 2.0 * YOUNG_CAPACITY,
            },
            HeapSpace {
                space: "old",
                used: self.old_used,
                total: self.old_committed.max(self.old_used),
            },
        ];
        spaces.extend(STATIC_SPACES.iter().map(|&(space, used, total)| HeapSpace {
            space,
            used,
            total,
        }));
        spaces
    }

    pub fn heap_used(&self) -> f64 {
        self.heap_spaces().iter().map(|space| space.used).sum()
    }

    pub fn heap_total(&self) -> f64 {
        self.heap_spaces().iter().map(|space| space.total).sum()
    }

    pub fn external(&self) -> f64 {
        self.external
    }

    /// Resident set: the committed heap, external buffers and the native
    /// part of Node.js itself.
    pub fn resident(&self) -> f64 {
        (self.heap_total() + self.external + 42.0 * MIB).round()
    }

    pub fn lag_stats(&self) -> LagStats {
        let mut sorted: Vec<f64> = self.lag.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len().max(1) as f64;
        let mean = sorted.iter().sum::<f64>() / count;
        let variance = sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count;
        let quantile = |q: f64| {
            let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(index).copied().unwrap_or(0.0)
        };
        LagStats {
            current: self.lag.back().copied().unwrap_or(0.0),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            mean,
            stddev: variance.sqrt(),
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
        }
    }
}

/// V8 starts a major GC once the old space grows this much past what the
/// last one left (a simplification of its heap growing factor).
fn major_threshold(retained: f64) -> f64 {
    (retained * 1.3 + 16.0 * MIB).min(OLD_SPACE_LIMIT)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn run(model: &mut RuntimeModel, seconds: u32, rng: &mut StdRng) -> Vec<(GcKind, f64)> {
        let mut gcs = Vec::new();
        for _ in 0..seconds * 4 {
            gcs.extend(model.step(0.25, 25.0, rng).gcs);
        }
        gcs
    }

    #[test]
    fn the_heap_saws_up_and_down_without_a_leak() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut model = RuntimeModel::new(16);
        let start = model.heap_used();
        let gcs = run(&mut model, 600, &mut rng);
        assert!(
            gcs.iter()
                .filter(|(kind, _)| *kind == GcKind::Minor)
                .count()
                > 50
        );
        assert!(gcs.iter().any(|(kind, _)| *kind == GcKind::Major));
        assert!(model.heap_used() < start + 60.0 * MIB);
        assert!(model.heap_used() <= model.heap_total());
    }

    #[test]
    fn a_leak_grows_the_heap_and_lengthens_major_gcs() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut model = RuntimeModel::new(16);
        let healthy_pause = run(&mut model, 600, &mut rng)
            .iter()
            .filter(|(kind, _)| *kind == GcKind::Major)
            .map(|(_, pause)| *pause)
            .fold(0.0, f64::max);
        let before = model.heap_used();
        model.start_leak();
        let leaky_pause = run(&mut model, 600, &mut rng)
            .iter()
            .filter(|(kind, _)| *kind == GcKind::Major)
            .map(|(_, pause)| *pause)
            .fold(0.0, f64::max);
        assert!(model.heap_used() > before + 600.0 * MIB);
        assert!(leaky_pause > healthy_pause);
    }

    #[test]
    fn lag_percentiles_are_ordered() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut model = RuntimeModel::new(4);
        run(&mut model, 60, &mut rng);
        let lag = model.lag_stats();
        assert!(lag.min <= lag.p50 && lag.p50 <= lag.p90 && lag.p90 <= lag.p99);
        assert!(lag.p99 <= lag.max && lag.min > 0.0);
    }
}
