use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum RunbookCommand {
    /// List the built-in runbooks.
    List,
    /// Show one runbook.
    Show { id: String },
}

pub fn run(_cmd: RunbookCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("runbooks are not built yet")
}
