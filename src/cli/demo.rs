use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of simulated nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Shards per node.
    #[arg(long, default_value_t = 16)]
    pub shards: usize,
    /// Seed for the incident timeline.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Clock speed-up for the simulation.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Print agent URLs and run until stopped, without the dashboard.
    #[arg(long)]
    pub headless: bool,
}

pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the demo is not built yet")
}
