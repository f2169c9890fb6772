use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Validate rule files like `promtool check rules`.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run rule unit tests like `promtool test rules`.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(_cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("rules commands are not built yet")
}
