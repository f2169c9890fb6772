//! Several nodes started together, sharing one seeded incident timeline.

use crate::config::{validate_speed, ConfigError, DemoNodeConfig, Incidents};
use crate::error::DemoError;
use crate::incidents::fleet_timeline;
use crate::node::{DemoNode, DemoNodeHandle};

#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// Number of nodes, named `node-1` to `node-N`.
    pub nodes: usize,
    /// Shards per node.
    pub shards: u32,
    pub seed: u64,
    pub speed: f64,
    /// Play the fleet's incident timeline; when false, incidents only
    /// happen when triggered through a node's admin API.
    pub incidents: bool,
}

/// The most nodes one fleet may run.
pub const MAX_NODES: usize = 64;

#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<DemoNodeHandle>,
}

impl Fleet {
    /// Starts every node; if one fails, stops those already started.
    pub async fn start(config: FleetConfig) -> Result<Fleet, DemoError> {
        if config.nodes == 0 || config.nodes > MAX_NODES {
            return Err(ConfigError::new(
                "nodes",
                format!("must be between 1 and {MAX_NODES}, got {}", config.nodes),
            )
            .into());
        }
        validate_speed(config.speed)?;
        let timelines = if config.incidents {
            fleet_timeline(config.seed, config.nodes, config.shards)
        } else {
            vec![Vec::new(); config.nodes]
        };
        let mut fleet = Fleet {
            nodes: Vec::with_capacity(config.nodes),
        };
        for (index, timeline) in timelines.into_iter().enumerate() {
            let node = DemoNodeConfig {
                name: format!("node-{}", index + 1),
                shards: config.shards,
                seed: node_seed(config.seed, index),
                speed: config.speed,
                incidents: if config.incidents {
                    Incidents::Scripted(timeline)
                } else {
                    Incidents::Off
                },
            };
            match DemoNode::start(node).await {
                Ok(handle) => fleet.nodes.push(handle),
                Err(err) => {
                    // The nodes already up are stopped; their own shutdown
                    // errors matter less than the one being reported.
                    let _ = fleet.shutdown().await;
                    return Err(err);
                }
            }
        }
        Ok(fleet)
    }

    pub fn nodes(&self) -> &[DemoNodeHandle] {
        &self.nodes
    }

    /// Stops every node, reporting the first failure.
    pub async fn shutdown(self) -> Result<(), DemoError> {
        let mut first_error = None;
        for node in self.nodes {
            if let Err(err) = node.shutdown().await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A node's own seed: distinct per node, fixed for the fleet's seed.
fn node_seed(seed: u64, index: usize) -> u64 {
    // SplitMix64's increment spreads neighbouring seeds apart.
    seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
