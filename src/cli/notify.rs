use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to every receiver in an agent config.
    Test {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        receiver: Option<String>,
    },
}

pub fn run(_cmd: NotifyCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("notify is not built yet")
}
