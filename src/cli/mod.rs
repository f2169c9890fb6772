//! Command-line definition. The help text here is the user's reference for
//! every flag; `docs/` expands on it.

mod agent;
mod agent_api;
mod demo;
mod idle_code;
mod notify;
mod query;
mod rules;
mod runbook;
mod silence;
mod tui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Observability agent and ops control plane for sharded applications.
///
/// Run with no subcommand to open the dashboard.
#[derive(Debug, Parser)]
#[command(name = "opsdeck", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the live fleet dashboard (the default).
    Tui(tui::TuiArgs),
    /// Run the sidecar agent next to an application.
    Agent(agent::AgentArgs),
    /// Start a simulated sharded fleet with agents (and the dashboard).
    Demo(demo::DemoArgs),
    /// Check and unit-test Prometheus rule files (like promtool).
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Run an instant PromQL query against an agent or an exposition file.
    Query(query::QueryArgs),
    /// List, show and run runbooks.
    #[command(subcommand)]
    Runbook(runbook::RunbookCommand),
    /// Send test notifications to receivers.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Add, list and expire an agent's alert silences.
    #[command(subcommand)]
    Silence(silence::SilenceCommand),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => tui::run(tui::TuiArgs::default()),
        Some(Command::Tui(args)) => tui::run(args),
        Some(Command::Agent(args)) => agent::run(args),
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Rules(cmd)) => rules::run(cmd),
        Some(Command::Query(args)) => query::run(args),
        Some(Command::Runbook(cmd)) => runbook::run(cmd),
        Some(Command::Notify(cmd)) => notify::run(cmd),
        Some(Command::Silence(cmd)) => silence::run(cmd),
    }
}
