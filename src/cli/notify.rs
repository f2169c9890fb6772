//! `opsdeck notify test`: reads the `notifications:` section of an agent
//! config and sends a clearly marked test message to each receiver.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use opsdeck_alerts::notify::config::parse_notifications_section;
use opsdeck_alerts::notify::delivery::Outcome;
use opsdeck_alerts::notify::probe::send_test_messages;

#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to every receiver in an agent config.
    ///
    /// Reads only the `notifications:` section. Webhook URLs come from the
    /// file, `url_file`, or `OPSDECK_RECEIVER_<NAME>_URL` /
    /// `OPSDECK_RECEIVER_<NAME>_URL_FILE`, as in the agent. Each message is
    /// marked as a test; the outcome per receiver is printed. Exits 0 when
    /// every receiver accepted its message, 1 otherwise.
    Test {
        /// The agent config file (YAML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Only this receiver (by name).
        #[arg(long, value_name = "NAME")]
        receiver: Option<String>,
        /// Give up on a receiver after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        timeout: u64,
    },
}

pub fn run(cmd: NotifyCommand) -> anyhow::Result<ExitCode> {
    let NotifyCommand::Test {
        config,
        receiver,
        timeout,
    } = cmd;
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("{}: cannot read", config.display()))?;
    let mut notifications = parse_notifications_section(&text)
        .map_err(|err| anyhow::anyhow!("{}: {err}", config.display()))?;
    notifications
        .validate()
        .and_then(|()| notifications.load_secrets(&|var| std::env::var(var).ok()))
        .map_err(|err| anyhow::anyhow!("{}: {err}", config.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(send_test_messages(
        &notifications,
        receiver.as_deref(),
        Duration::from_secs(timeout),
    ))?;
    let mut all_delivered = true;
    for result in &results {
        let what = match &result.outcome {
            Outcome::Delivered { status } => format!("delivered (HTTP {status})"),
            Outcome::RateLimited { wait, .. } => {
                all_delivered = false;
                format!(
                    "rate limited (HTTP 429); the service asks to wait {:.1} s",
                    wait.as_secs_f64()
                )
            }
            Outcome::Transient { reason } => {
                all_delivered = false;
                format!("failed, would be retried: {reason}")
            }
            Outcome::Permanent { reason, .. } => {
                all_delivered = false;
                format!("failed permanently: {reason}")
            }
        };
        println!(
            "{} ({}, {} ms): {what}",
            result.receiver,
            result.kind.as_str(),
            result.elapsed.as_millis()
        );
    }
    Ok(if all_delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
