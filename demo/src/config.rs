//! What a demo node is started with, and the checks on it.

use crate::incidents::ScheduledIncident;

/// The largest clock speed-up accepted. The simulation advances in fixed
/// steps, so its CPU cost grows with the speed; beyond this it would compete
/// with the agents it is meant to feed.
pub const MAX_SPEED: f64 = 1000.0;

/// The most shards one node may run.
pub const MAX_SHARDS: u32 = 1024;

/// Which incidents a node plays.
#[derive(Debug, Clone, PartialEq)]
pub enum Incidents {
    /// No scripted incidents; they can still be triggered through the admin API.
    Off,
    /// The node's own timeline, generated from its seed (every kind, in rounds).
    Seeded,
    /// An explicit timeline, for example this node's share of a fleet timeline.
    Scripted(Vec<ScheduledIncident>),
}

/// Configuration of one simulated node.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoNodeConfig {
    /// The node's name, as it appears in admin responses and logs.
    pub name: String,
    /// Number of shards the node runs (shard ids `0..shards`).
    pub shards: u32,
    /// Seed for everything random: guild counts, noise and the incident timeline.
    pub seed: u64,
    /// Simulated time runs this many times faster than real time.
    pub speed: f64,
    /// The incident timeline.
    pub incidents: Incidents,
}

impl DemoNodeConfig {
    /// A node with a seeded incident timeline at real-time speed.
    pub fn new(name: impl Into<String>, shards: u32, seed: u64) -> Self {
        Self {
            name: name.into(),
            shards,
            seed,
            speed: 1.0,
            incidents: Incidents::Seeded,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::new("name", "must not be empty"));
        }
        if self.shards == 0 || self.shards > MAX_SHARDS {
            return Err(ConfigError::new(
                "shards",
                format!("must be between 1 and {MAX_SHARDS}, got {}", self.shards),
            ));
        }
        validate_speed(self.speed)?;
        if let Incidents::Scripted(timeline) = &self.incidents {
            for incident in timeline {
                if let Some(shard) = incident.shard {
                    if shard >= self.shards {
                        return Err(ConfigError::new(
                            "incidents",
                            format!(
                                "{} at {} s targets shard {shard}, but the node has {} shards",
                                incident.kind, incident.at_seconds, self.shards
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn validate_speed(speed: f64) -> Result<(), ConfigError> {
    if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
        return Err(ConfigError::new(
            "speed",
            format!("must be greater than 0 and at most {MAX_SPEED}, got {speed}"),
        ));
    }
    Ok(())
}

/// A configuration value that cannot be used; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid demo configuration: `{field}` {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
