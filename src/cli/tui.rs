use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Default, clap::Args)]
pub struct TuiArgs {
    /// TUI config file (default: ~/.config/opsdeck/opsdeck.yaml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Agent base URL; repeat once per agent.
    #[arg(long = "agent", value_name = "URL")]
    pub agents: Vec<String>,
}

pub fn run(_args: TuiArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the dashboard is not built yet")
}
