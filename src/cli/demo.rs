//! `opsdeck demo`: a simulated sharded fleet on loopback, one node per
//! `--nodes`, running until SIGINT or SIGTERM.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process::ExitCode;

use anyhow::Context;
use opsdeck_demo::{Fleet, FleetConfig};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of simulated nodes, named node-1 to node-N.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// Shards per node.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: u32,
    /// Seed for guild counts, noise and the incident timeline; the same seed
    /// plays the same incidents. Random (and printed) when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated time runs this many times faster than real time (at most
    /// 1000). Identify pacing, drains and the incident timeline all scale.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Do not open the dashboard: print one line per node and run until
    /// SIGINT or SIGTERM.
    #[arg(long)]
    pub headless: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_fleet(args))
}

async fn run_fleet(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(random_seed);
    let fleet = Fleet::start(FleetConfig {
        nodes: args.nodes.into(),
        shards: args.shards,
        seed,
        speed: args.speed,
        incidents: true,
    })
    .await
    .context("cannot start the demo fleet")?;

    eprintln!(
        "opsdeck demo: {} nodes × {} shards, seed {seed}, speed {}",
        args.nodes, args.shards, args.speed
    );
    // The agent has no embeddable start API yet, so the demo runs the
    // simulated nodes alone; point an agent's scrape target at a node's
    // /metrics to watch it.
    eprintln!("opsdeck demo: agents are not available yet; starting the simulated nodes only");
    if !args.headless {
        eprintln!("opsdeck demo: the dashboard is not available yet; running headless");
    }
    for node in fleet.nodes() {
        println!("node {} {}", node.name(), node.url());
    }
    eprintln!("opsdeck demo: running until SIGINT or SIGTERM");

    let stopped = shutdown_signal().await;
    eprintln!("opsdeck demo: stopping");
    fleet
        .shutdown()
        .await
        .context("cannot stop the demo fleet")?;
    stopped.context("cannot listen for SIGINT/SIGTERM")?;
    Ok(ExitCode::SUCCESS)
}

/// A seed that differs from run to run (the standard library seeds its
/// hash keys from the OS's random source).
fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(unix)]
async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
