//! `opsdeck agent`: run the sidecar until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::idle_code;

/// Run the agent next to an application.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Configuration reference: docs/agent.md; examples in examples/.
The agent prints `agent NAME URL` on stdout once listening, and exits 0
after SIGTERM or SIGINT.

Secrets from the environment (each also as VAR_FILE naming a file):
  OPSDECK_OPERATOR_TOKEN, OPSDECK_VIEWER_TOKEN,
  OPSDECK_SCRAPE_<TARGET>_BEARER_TOKEN, OPSDECK_SCRAPE_<TARGET>_PASSWORD,
  OPSDECK_RECEIVER_<NAME>_URL")]
pub struct AgentArgs {
    /// Agent config file (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Validate the config (syntax, keys, values, secret files) and exit:
    /// 0 when valid, 2 with the file, line and key when not.
    #[arg(long)]
    pub check_config: bool,
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let config = opsdeck_agent::config::load(&args.config)?;
    if args.check_config {
        println!(
            "{}: valid ({} scrape target(s), {} JSON endpoint(s), listening on {})",
            args.config.display(),
            config.scrape.len(),
            config.json_stats.len(),
            config.listen.address
        );
        return Ok(ExitCode::SUCCESS);
    }
    opsdeck_agent::memory::tune_malloc();
    let _log_guard = opsdeck_agent::logging::init(&config.log)?;
    let runtime =
        opsdeck_agent::memory::agent_runtime().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: opsdeck_agent::config::AgentConfig) -> anyhow::Result<ExitCode> {
    let name = config.node_name();
    let agent = opsdeck_agent::start(config).await?;
    // One line on stdout for scripts and tests that need the URL (the
    // port may have been picked by the OS).
    println!("agent {name} {}", agent.url());
    tokio::spawn(async {
        tokio::time::sleep(idle_code::RELEASE_AFTER).await;
        idle_code::release();
    });
    let signal = wait_for_signal().await?;
    tracing::info!(signal, "shutting down");
    agent.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot handle Ctrl-C")?;
        Ok("Ctrl-C")
    }
}
