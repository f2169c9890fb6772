//! `opsdeck demo`: a simulated sharded fleet on loopback with one agent per
//! node, and the dashboard on top (or, `--headless`, the agents' URLs until
//! SIGINT or SIGTERM). Everything it starts lives in one temporary
//! directory and is stopped and removed on the way out.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use opsdeck_agent::config::{AgentConfig, ScrapeTargetConfig, TokenConfig};
use opsdeck_agent::AgentHandle;
use opsdeck_demo::{DemoNodeHandle, Fleet, FleetConfig};
use tempfile::TempDir;

/// The operator token every demo agent accepts, so that runbooks can be
/// tried at once. Only demo agents are configured with it.
const DEMO_TOKEN: &str = "demo";
/// Demo agents scrape and rebuild their view every second, so the
/// dashboard moves as fast as the simulation.
const DEMO_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
#[command(after_help = "Every demo agent accepts the operator token `demo`. \
See docs/demo.md for the simulated metrics, admin API and incidents.")]
pub struct DemoArgs {
    /// Number of simulated nodes, named node-1 to node-N, each with an agent.
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
    /// Do not open the dashboard: print `agent NAME URL` per node on stdout
    /// and run until SIGINT or SIGTERM.
    #[arg(long)]
    pub headless: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // The fleet and the agents run on this runtime's worker threads while
    // the main thread blocks in the dashboard or on a signal.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let demo = runtime.block_on(Demo::start(&args, seed))?;
    eprintln!(
        "opsdeck demo: {} nodes × {} shards, seed {seed}, speed {}; operator token `{DEMO_TOKEN}`",
        args.nodes, args.shards, args.speed
    );

    let outcome = if args.headless {
        for (node, agent) in demo.fleet.nodes().iter().zip(&demo.agents) {
            println!("agent {} {}", node.name(), agent.url());
        }
        eprintln!("opsdeck demo: running until SIGINT or SIGTERM");
        runtime
            .block_on(shutdown_signal())
            .context("cannot listen for SIGINT/SIGTERM")
    } else {
        open_dashboard(&demo)
    };
    eprintln!("opsdeck demo: stopping");
    let stopped = runtime.block_on(demo.stop());
    outcome?;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

/// The running demo: the simulated fleet, one agent per node (`agents[i]`
/// watches node `i`), and the temporary directory with the agents' data.
struct Demo {
    fleet: Fleet,
    agents: Vec<AgentHandle>,
    dir: TempDir,
}

impl Demo {
    async fn start(args: &DemoArgs, seed: u64) -> anyhow::Result<Demo> {
        let dir = tempfile::Builder::new()
            .prefix("opsdeck-demo-")
            .tempdir()
            .context("cannot create a temporary directory for the demo agents")?;
        let fleet = Fleet::start(FleetConfig {
            nodes: args.nodes.into(),
            shards: args.shards,
            seed,
            speed: args.speed,
            incidents: true,
        })
        .await
        .context("cannot start the simulated fleet")?;
        let mut demo = Demo {
            fleet,
            agents: Vec::new(),
            dir,
        };
        for index in 0..demo.fleet.nodes().len() {
            let node = &demo.fleet.nodes()[index];
            let name = node.name().to_owned();
            let config = agent_config(node, &demo.dir.path().join(&name), args.speed)?;
            match opsdeck_agent::start(config).await {
                Ok(agent) => demo.agents.push(agent),
                Err(err) => {
                    // Report the start failure; stopping what did start is
                    // best effort.
                    if let Err(stop_err) = demo.stop().await {
                        eprintln!("opsdeck demo: {stop_err:#}");
                    }
                    return Err(err).with_context(|| format!("cannot start the agent of {name}"));
                }
            }
        }
        Ok(demo)
    }

    /// Stops the agents (they scrape the nodes), then the nodes, then
    /// removes the temporary directory; reports the first failure.
    async fn stop(self) -> anyhow::Result<()> {
        let mut first_error: Option<anyhow::Error> = None;
        for agent in self.agents {
            if let Err(err) = agent.shutdown().await {
                first_error.get_or_insert(anyhow::Error::new(err).context("cannot stop an agent"));
            }
        }
        if let Err(err) = self.fleet.shutdown().await {
            first_error.get_or_insert(anyhow::Error::new(err).context("cannot stop the fleet"));
        }
        let dir = self.dir.path().to_path_buf();
        if let Err(err) = self.dir.close() {
            first_error.get_or_insert(
                anyhow::Error::new(err).context(format!("cannot remove {}", dir.display())),
            );
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// An agent for one simulated node: loopback on a free port, its own data
/// directory, the node's /metrics as its scrape target, and the demo token.
/// Rules run every second with their `for` holds divided by the simulation's
/// speed, so an incident pages as soon as it would on the simulated clock.
fn agent_config(node: &DemoNodeHandle, data_dir: &Path, speed: f64) -> anyhow::Result<AgentConfig> {
    let metrics_url = format!("http://{}/metrics", node.addr())
        .parse()
        .with_context(|| format!("the metrics URL of {}", node.name()))?;
    let mut config = AgentConfig::default();
    config.node.name = Some(node.name().to_owned());
    config.listen.address = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.data_dir = Some(data_dir.to_path_buf());
    config.interval = DEMO_INTERVAL;
    config.rules.interval = DEMO_INTERVAL;
    config.rules.hold_speedup = speed.max(1.0);
    config
        .auth
        .operator_tokens
        .push(TokenConfig::new(DEMO_TOKEN, DEMO_TOKEN));
    let mut target = ScrapeTargetConfig::new("app", metrics_url);
    target.interval = DEMO_INTERVAL;
    target.timeout = DEMO_INTERVAL;
    config.scrape.push(target);
    Ok(config)
}

/// Opens the dashboard on every demo agent, with the demo token, and
/// returns when the user quits it.
fn open_dashboard(demo: &Demo) -> anyhow::Result<()> {
    let agents: Vec<_> = demo
        .fleet
        .nodes()
        .iter()
        .zip(&demo.agents)
        .map(|(node, agent)| {
            serde_json::json!({ "name": node.name(), "url": agent.url(), "token": DEMO_TOKEN })
        })
        .collect();
    // JSON is valid YAML, and serde_json quotes every value safely.
    let config = serde_json::to_string_pretty(&serde_json::json!({ "agents": agents }))
        .context("cannot write the dashboard config")?;
    let path = demo.dir.path().join("dashboard.yaml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    opsdeck_tui::run(opsdeck_tui::Options {
        config: Some(path),
        ..opsdeck_tui::Options::default()
    })
    .context("the dashboard failed")
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
