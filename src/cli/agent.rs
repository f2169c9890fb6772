use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Agent config file (YAML).
    #[arg(long)]
    pub config: PathBuf,
    /// Validate the config and exit.
    #[arg(long)]
    pub check_config: bool,
}

pub fn run(_args: AgentArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the agent is not built yet")
}
