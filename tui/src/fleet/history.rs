//! A short history of CPU and heap per agent, for the node view's charts.

use std::collections::VecDeque;

use opsdeck_agent::api::Snapshot;

/// Points kept per agent: ten minutes at a 1 s interval.
const CAPACITY: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The snapshot's own timestamp, unix milliseconds.
    pub at_ms: i64,
    /// Process CPU, percent of one core (host CPU when the process is unknown).
    pub cpu_percent: Option<f64>,
    pub heap_used_bytes: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    pub fn record(&mut self, snapshot: &Snapshot) {
        let sample = Sample {
            at_ms: snapshot.taken_at_ms,
            cpu_percent: cpu_percent(snapshot),
            heap_used_bytes: snapshot.process.as_ref().and_then(|p| p.heap_used_bytes),
        };
        // A reconnect replays the current snapshot; keep one point per time.
        if self
            .samples
            .back()
            .is_some_and(|last| last.at_ms >= sample.at_ms)
        {
            return;
        }
        if self.samples.len() == CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// The last `n` CPU values, oldest first, as whole percents for a sparkline.
    pub fn cpu_tail(&self, n: usize) -> Vec<u64> {
        let skip = self.samples.len().saturating_sub(n);
        self.samples
            .iter()
            .skip(skip)
            .map(|s| s.cpu_percent.unwrap_or(0.0).max(0.0).round() as u64)
            .collect()
    }
}

/// The CPU figure the dashboard shows for a node: the application process
/// when the agent knows it, else the host.
pub fn cpu_percent(snapshot: &Snapshot) -> Option<f64> {
    snapshot
        .process
        .as_ref()
        .and_then(|p| p.cpu_percent)
        .or_else(|| snapshot.host.as_ref().map(|h| h.cpu_percent))
}
