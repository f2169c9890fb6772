use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Agent base URL to query.
    #[arg(long, conflicts_with = "file")]
    pub agent: Option<String>,
    /// Exposition file to load and query instead of an agent.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// PromQL expression.
    pub expr: String,
}

pub fn run(_args: QueryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("query is not built yet")
}
