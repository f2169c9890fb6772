//! opsdeck-agent: the sidecar. Config, collectors, profiles, HTTP API and
//! its wire types, persistence and wiring.
//!
//! Run it with `opsdeck agent --config agent.yaml`, or in-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), opsdeck_agent::AgentError> {
//! use opsdeck_agent::config::{AgentConfig, ScrapeTargetConfig, TokenConfig};
//! let mut config = AgentConfig::default();
//! config.listen.address = "127.0.0.1:0".parse().unwrap();
//! config.data_dir = Some("/tmp/opsdeck-node-1".into());
//! config.auth.operator_tokens.push(TokenConfig::new("demo", "demo"));
//! config.scrape.push(ScrapeTargetConfig::new(
//!     "app",
//!     "http://127.0.0.1:3000/metrics".parse().unwrap(),
//! ));
//! let agent = opsdeck_agent::start(config).await?;
//! println!("agent at {}", agent.url());
//! agent.shutdown().await
//! # }
//! ```

pub mod actions;
pub mod api;
pub mod client;
pub mod config;
pub mod logging;
pub mod memory;
pub mod persist;

mod collect;
mod profiles;
mod rules;
mod runtime;
mod server;
mod snapshot;
mod state;

pub use runtime::{start, AgentError, AgentHandle, SHUTDOWN_GRACE};
pub use server::{Caller, Role};

/// This machine's host name, if the OS tells.
pub(crate) fn host_name() -> Option<String> {
    sysinfo::System::host_name()
}
