//! opsdeck-demo: a simulated sharded application, a Discord-bot-like node
//! with a sharding manager, served over real HTTP on loopback.
//!
//! Each node exposes `/metrics` (Prometheus text format, with the names
//! prom-client and the opsdeck `app_pool_*` / `app_shard_*` conventions
//! use) and a JSON admin API that its shards really obey: drain, resume,
//! restart a shard (paced by Discord's one-identify-per-5-s limit), restart
//! the node, recycle the DB pool, and trigger incidents. A seeded timeline
//! plays incidents on a clock that can run faster than real time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), opsdeck_demo::DemoError> {
//! use opsdeck_demo::{DemoNode, DemoNodeConfig};
//! let node = DemoNode::start(DemoNodeConfig::new("node-1", 16, 42)).await?;
//! println!("{} serves {}/metrics", node.name(), node.url());
//! node.shutdown().await
//! # }
//! ```
//!
//! The metric names, the admin routes and the incidents are documented in
//! `docs/demo.md`.

mod clock;
mod config;
mod error;
mod fleet;
mod guilds;
mod http;
mod identify;
mod incidents;
mod metrics;
mod node;
mod pool;
mod runtime;
mod shard;
mod sim;
mod traffic;
mod views;

pub use config::{ConfigError, DemoNodeConfig, Incidents, MAX_SHARDS, MAX_SPEED};
pub use error::{AdminError, DemoError};
pub use fleet::{Fleet, FleetConfig, MAX_NODES};
pub use identify::{IDENTIFY_BUDGET, IDENTIFY_INTERVAL_MS};
pub use incidents::{fleet_timeline, node_timeline, IncidentKind, ScheduledIncident};
pub use node::{DemoNode, DemoNodeHandle};
pub use shard::{ShardState, HEARTBEAT_INTERVAL_MS, IDENTIFY_DELAY_MS};
pub use sim::{DRAIN_MS, LATENCY_SPIKE_MS, STEP_MS};
