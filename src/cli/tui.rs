//! `opsdeck tui` (and `opsdeck` alone): the live fleet dashboard.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Default, clap::Args)]
#[command(
    after_help = "Keys: `?` in the dashboard lists them. Logs go to a rolling file \
(~/.local/state/opsdeck/opsdeck-tui.log.*), never to the screen. See docs/tui.md."
)]
pub struct TuiArgs {
    /// Dashboard config file: agents, theme, key bindings, notifications, logs
    /// (default: ~/.config/opsdeck/opsdeck.yaml, used when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Agent base URL, e.g. http://127.0.0.1:9464; repeat once per agent.
    /// When given, the config file's agents are not used.
    #[arg(long = "agent", value_name = "URL")]
    pub agents: Vec<String>,
    /// Bearer token for the --agent agents (a viewer token is enough to
    /// watch; silencing needs an operator token).
    #[arg(
        long,
        env = "OPSDECK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    opsdeck_tui::run(opsdeck_tui::Options {
        config: args.config,
        agents: args.agents,
        token: args.token,
    })?;
    Ok(ExitCode::SUCCESS)
}
