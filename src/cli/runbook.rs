//! `opsdeck runbook list|show|run`: the catalog (built-in runbooks plus
//! the deployment's own directories), and running a runbook on an agent
//! with live step progress.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use opsdeck_runbooks::record::{ActionRecord, StepRecord, StepResult};

use super::agent_api::{AgentApi, AgentTarget};
use opsdeck_runbooks::{ActionStatus, Risk, Runbook};
use serde_json::{json, Value};

/// How often `run` polls the action's progress.
const POLL_INTERVAL: Duration = Duration::from_millis(300);

#[derive(Debug, clap::Subcommand)]
pub enum RunbookCommand {
    /// List the runbooks: the built-in catalog, plus those in --dir.
    List(CatalogArgs),
    /// Show one runbook: params, checks and steps.
    Show {
        id: String,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Run a runbook on an agent (or only plan it with --dry-run).
    #[command(
        after_help = "Without a terminal and without --yes, disruptive and destructive \
runbooks are refused. The plan (steps, checks with their current values, blast radius) is \
printed first; progress follows step by step until the action ends."
    )]
    Run(RunArgs),
    /// Cancel a running action: it stops between steps and rolls back.
    Cancel(ActionArgs),
    /// Approve an action waiting at a `confirm` step.
    Approve(ActionArgs),
    /// Run the rollback of an action an agent restart interrupted, and
    /// follow it to the end.
    Rollback(ActionArgs),
}

#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// A directory of your own runbooks (*.yaml), as in the agent's
    /// `actions.runbook_dirs`; repeatable. Every file is validated, and a
    /// runbook with a built-in id replaces the built-in one.
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ActionArgs {
    /// The action id that `run` printed (or the audit shows).
    pub action: String,
    #[command(flatten)]
    pub target: AgentTarget,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Runbook id, e.g. restart-shard.
    pub id: String,
    #[command(flatten)]
    pub target: AgentTarget,
    /// A parameter, repeatable: --param shard=3.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed without a terminal for
    /// disruptive and destructive runbooks).
    #[arg(long)]
    pub yes: bool,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?}: expected NAME=VALUE"))
}

pub fn run(cmd: RunbookCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RunbookCommand::List(args) => {
            for runbook in &catalog(&args)? {
                println!(
                    "{:<22} {:<12} {}",
                    runbook.id,
                    runbook.risk.as_str(),
                    runbook.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RunbookCommand::Show { id, catalog: args } => {
            let catalog = catalog(&args)?;
            let runbook = find(&catalog, &id)?;
            print_runbook(runbook);
            Ok(ExitCode::SUCCESS)
        }
        RunbookCommand::Run(args) => block_on(run_remote(args)),
        RunbookCommand::Cancel(args) => block_on(steer(args, "cancel")),
        RunbookCommand::Approve(args) => block_on(steer(args, "approve")),
        RunbookCommand::Rollback(args) => block_on(rollback_remote(args)),
    }
}

fn block_on(
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(work)
}

/// `cancel` or `approve` an action; the agent acts on it between steps.
async fn steer(args: ActionArgs, verb: &str) -> anyhow::Result<ExitCode> {
    let agent = AgentApi::new(&args.target)?;
    let record: Value = agent
        .post(&["actions", args.action.as_str(), verb], &json!({}))
        .await?;
    println!(
        "action {} {verb} requested (was {})",
        args.action,
        record["status"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

async fn rollback_remote(args: ActionArgs) -> anyhow::Result<ExitCode> {
    let agent = AgentApi::new(&args.target)?;
    let record: ActionRecord = agent
        .post(&["actions", args.action.as_str(), "rollback"], &json!({}))
        .await?;
    println!("action {} rolling back", args.action);
    // The steps it ran before it was interrupted are history.
    let before = (0..record.steps.len()).map(|i| (i, true)).collect();
    follow(&agent, &args.action, before, ActionStatus::RolledBack).await
}

fn catalog(args: &CatalogArgs) -> anyhow::Result<Vec<Runbook>> {
    Ok(opsdeck_runbooks::catalog::load(&args.dirs)?)
}

fn find<'a>(catalog: &'a [Runbook], id: &str) -> anyhow::Result<&'a Runbook> {
    catalog.iter().find(|r| r.id == id).with_context(|| {
        let ids: Vec<&str> = catalog.iter().map(|r| r.id.as_str()).collect();
        format!("no runbook {id:?}; known: {}", ids.join(", "))
    })
}

fn print_runbook(runbook: &Runbook) {
    println!(
        "{} — {} [{}]",
        runbook.id,
        runbook.title,
        runbook.risk.as_str()
    );
    println!("\n{}", runbook.description.trim());
    if !runbook.alerts.is_empty() {
        println!("\nanswers alerts: {}", runbook.alerts.join(", "));
    }
    if !runbook.params.is_empty() {
        println!("\nparams:");
        for (name, spec) in &runbook.params {
            let required = if spec.required { " (required)" } else { "" };
            let default = spec
                .default
                .as_deref()
                .map(|d| format!(" default {d}"))
                .unwrap_or_default();
            println!(
                "  {name}: {:?}{required}{default} — {}",
                spec.kind, spec.description
            );
        }
    }
    for (title, checks) in [
        ("preconditions", &runbook.preconditions),
        ("guards", &runbook.guards),
    ] {
        if !checks.is_empty() {
            println!("\n{title}:");
            for check in checks {
                println!("  {}: {}", check.name, check.expr);
            }
        }
    }
    for (title, steps) in [("steps", &runbook.steps), ("rollback", &runbook.rollback)] {
        if !steps.is_empty() {
            println!("\n{title}:");
            for (i, step) in steps.iter().enumerate() {
                let kind = step.actions().first().map_or("?", |a| a.kind());
                println!("  {}. {} ({kind})", i + 1, step.name);
            }
        }
    }
}

async fn run_remote(args: RunArgs) -> anyhow::Result<ExitCode> {
    let agent = AgentApi::new(&args.target)?;
    let params: BTreeMap<String, String> = args.params.iter().cloned().collect();
    let dry: Value = agent
        .post(
            &["actions"],
            &json!({"runbook": args.id, "params": params, "dry_run": true}),
        )
        .await?;
    print_plan(&dry["plan"]);
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let risk: Risk = serde_json::from_value(dry["plan"]["risk"].clone()).context("plan risk")?;
    if risk != Risk::Safe && !args.yes && !confirm(&args.id, risk)? {
        eprintln!("not run");
        return Ok(ExitCode::from(2));
    }
    let key = format!(
        "cli-{}-{}",
        std::process::id(),
        opsdeck_runbooks::execute::now_ms()
    );
    let started: Value = agent
        .post(
            &["actions"],
            &json!({"runbook": args.id, "params": params, "idempotency_key": key, "confirmed": true}),
        )
        .await?;
    let id = started["action"]["id"]
        .as_str()
        .context("the agent returned no action id")?
        .to_string();
    println!("action {id} started");
    follow(&agent, &id, Vec::new(), ActionStatus::Succeeded).await
}

/// Prints each step as it starts and ends, until the action ends; exits 0
/// only when it ends `wanted`. `printed`: steps already shown (index, done).
async fn follow(
    agent: &AgentApi,
    id: &str,
    mut printed: Vec<(usize, bool)>,
    wanted: ActionStatus,
) -> anyhow::Result<ExitCode> {
    loop {
        let record: ActionRecord = agent.get(&["actions", id]).await?;
        print_progress(&record.steps, &mut printed);
        if record.status.is_terminal() {
            let error = record
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            println!("action {id} {}{error}", record.status.as_str());
            let ok = record.status == wanted;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Asks on the terminal; without one, refuses. A destructive runbook must
/// be confirmed by typing its id.
fn confirm(id: &str, risk: Risk) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "{id} is {} and there is no terminal to confirm on; pass --yes to run it",
            risk.as_str()
        );
    }
    let word = if risk == Risk::Destructive { id } else { "yes" };
    print!("{id} is {}. Type `{word}` to run it: ", risk.as_str());
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the confirmation")?;
    Ok(line.trim() == word)
}

fn print_plan(plan: &Value) {
    let radius = &plan["blast_radius"];
    let shards: Vec<String> = radius["shards"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|s| s["shard"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "plan: {} [{}] on shards [{}]: {} {} affected, at most {} unavailable at once",
        plan["runbook"].as_str().unwrap_or("?"),
        plan["risk"].as_str().unwrap_or("?"),
        shards.join(", "),
        radius["total_load"].as_f64().unwrap_or(0.0),
        radius["unit"].as_str().unwrap_or(""),
        radius["max_unavailable"],
    );
    for check in plan["checks"].as_array().into_iter().flatten() {
        let mark = if check["holds"].as_bool() == Some(true) {
            "ok  "
        } else {
            "FAIL"
        };
        println!(
            "  {mark} {} {}: {}",
            check["role"].as_str().unwrap_or(""),
            check["name"].as_str().unwrap_or(""),
            check["value"].as_str().unwrap_or("")
        );
    }
    for (i, step) in plan["steps"].as_array().into_iter().flatten().enumerate() {
        println!(
            "  {}. {}: {}",
            i + 1,
            step["name"].as_str().unwrap_or(""),
            step["detail"].as_str().unwrap_or("")
        );
    }
}

/// Prints each step when it starts and when it ends, once.
fn print_progress(steps: &[StepRecord], printed: &mut Vec<(usize, bool)>) {
    for (i, step) in steps.iter().enumerate() {
        let done = step.result != StepResult::Running;
        let seen = printed
            .iter()
            .find(|(index, _)| *index == i)
            .map(|(_, d)| *d);
        let target = step
            .target
            .as_deref()
            .map(|t| format!(" [shard {t}]"))
            .unwrap_or_default();
        if seen.is_none() {
            println!("→ {} {}{target}", step.phase, step.name);
            printed.push((i, false));
        }
        if done && seen != Some(true) {
            let output = step.output.lines().next().unwrap_or("");
            println!(
                "  {:?} after {} attempt(s) {output}",
                step.result, step.attempts
            );
            if let Some(entry) = printed.iter_mut().find(|(index, _)| *index == i) {
                entry.1 = true;
            }
        }
    }
}
