//! `opsdeck silence add|list|expire`: an agent's silences through
//! `/api/v1/silences`, with matchers written as for Alertmanager's amtool.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use opsdeck_agent::api::{SilenceCreated, SilenceMatcher, SilenceRequest};
use opsdeck_alerts::duration::PromDuration;
use opsdeck_alerts::notify::matcher::MatchOp;
use opsdeck_alerts::notify::{Matcher, Silence, SilenceState};

use super::agent_api::{AgentApi, AgentTarget};

#[derive(Debug, clap::Subcommand)]
pub enum SilenceCommand {
    /// Mute notifications of every alert whose labels match all MATCHERs.
    #[command(after_help = "\
Matchers are written as in Alertmanager (amtool): NAME=VALUE, NAME!=VALUE, \
NAME=~REGEX or NAME!~REGEX, the value quoted or bare; regexes are anchored. Quote them for the shell:

  opsdeck silence add --agent http://127.0.0.1:9464 --duration 2h \\
      --comment 'rolling shards 3 and 4' alertname=ShardNotReady 'shard=~\"3|4\"'

Prints the new silence's id, which `expire` takes.")]
    Add(AddArgs),
    /// List the agent's silences: active and pending ones, or all with --all.
    List(ListArgs),
    /// End a silence now; its alerts notify again from the next evaluation.
    Expire(ExpireArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub target: AgentTarget,
    /// How long the silence lasts from now: a Prometheus duration such as
    /// 30m, 2h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub duration: PromDuration,
    /// Why the alerts are muted (shown with the silence).
    #[arg(long, value_name = "TEXT")]
    pub comment: String,
    /// Who creates the silence (default: $USER). With a token, the agent
    /// also records the token's name.
    #[arg(long, env = "USER", value_name = "NAME")]
    pub author: Option<String>,
    /// Label matchers, all of which must match: alertname=ShardNotReady
    /// 'shard=~"3|4"'.
    #[arg(value_name = "MATCHER", required = true, value_parser = parse_matcher)]
    pub matchers: Vec<SilenceMatcher>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: AgentTarget,
    /// Also list expired silences (the agent keeps them for 5 days).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExpireArgs {
    #[command(flatten)]
    pub target: AgentTarget,
    /// The silence id that `add` printed (or `list` shows).
    pub id: String,
}

fn parse_duration(text: &str) -> Result<PromDuration, String> {
    let duration = PromDuration::parse(text).map_err(|e| e.to_string())?;
    if duration.millis() == 0 {
        return Err("must be longer than 0".into());
    }
    Ok(duration)
}

/// An amtool-style matcher as the agent's API takes it.
fn parse_matcher(text: &str) -> Result<SilenceMatcher, String> {
    let matcher = Matcher::parse(text).map_err(|e| e.to_string())?;
    Ok(SilenceMatcher {
        is_regex: matches!(matcher.op, MatchOp::Regex | MatchOp::NotRegex),
        is_equal: matches!(matcher.op, MatchOp::Equal | MatchOp::Regex),
        name: matcher.name,
        value: matcher.value,
    })
}

pub fn run(cmd: SilenceCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cmd {
            SilenceCommand::Add(args) => add(args).await,
            SilenceCommand::List(args) => list(args).await,
            SilenceCommand::Expire(args) => expire(args).await,
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let agent = AgentApi::new(&args.target)?;
    let now = now_ms()?;
    let request = SilenceRequest {
        matchers: args.matchers,
        starts_at_ms: now,
        ends_at_ms: now.saturating_add(args.duration.millis()),
        // Empty lets the agent record the token's name alone.
        created_by: args.author.unwrap_or_default(),
        comment: args.comment,
    };
    let created: SilenceCreated = agent.post(&["silences"], &request).await?;
    println!("{}", created.id);
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let agent = AgentApi::new(&args.target)?;
    let silences: Vec<Silence> = agent.get(&["silences"]).await?;
    let now = now_ms()?;
    let shown: Vec<&Silence> = silences
        .iter()
        .filter(|s| args.all || s.state_at(now) != SilenceState::Expired)
        .collect();
    print!("{}", silence_table(&shown, now));
    Ok(())
}

async fn expire(args: ExpireArgs) -> anyhow::Result<()> {
    let agent = AgentApi::new(&args.target)?;
    let silence: Silence = agent.delete(&["silences", args.id.as_str()]).await?;
    println!(
        "silence {} expired at {}",
        silence.id,
        rfc3339(silence.ends_at_ms)
    );
    Ok(())
}

/// One row per silence, columns padded to their widest cell; the comment,
/// free text, comes last.
fn silence_table(silences: &[&Silence], now_ms: i64) -> String {
    let header = ["ID", "MATCHERS", "STATE", "ENDS", "CREATED BY", "COMMENT"].map(String::from);
    let mut rows = vec![header];
    for silence in silences {
        let matchers: Vec<String> = silence.matchers.iter().map(Matcher::to_string).collect();
        let (state, ends) = match silence.state_at(now_ms) {
            SilenceState::Active => (
                "active",
                format!(
                    "{} (in {})",
                    rfc3339(silence.ends_at_ms),
                    whole_seconds(silence.ends_at_ms - now_ms)
                ),
            ),
            SilenceState::Pending => (
                "pending",
                format!(
                    "{} (starts {})",
                    rfc3339(silence.ends_at_ms),
                    rfc3339(silence.starts_at_ms)
                ),
            ),
            SilenceState::Expired => (
                "expired",
                format!(
                    "{} ({} ago)",
                    rfc3339(silence.ends_at_ms),
                    whole_seconds(now_ms - silence.ends_at_ms)
                ),
            ),
        };
        rows.push([
            silence.id.clone(),
            matchers.join(" "),
            state.to_string(),
            ends,
            silence.created_by.clone(),
            silence.comment.replace('\n', " "),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(&row[5]);
        out.push('\n');
    }
    out
}

/// `1h59m59s` rather than milliseconds nobody reads.
fn whole_seconds(ms: i64) -> PromDuration {
    PromDuration((ms.max(0) / 1000) * 1000)
}

fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

fn now_ms() -> anyhow::Result<i64> {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    Ok(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(id: &str, matcher: &str, ends_at_ms: i64) -> Silence {
        Silence {
            id: id.into(),
            matchers: vec![Matcher::parse(matcher).unwrap()],
            starts_at_ms: 0,
            ends_at_ms,
            created_by: "alice (oncall)".into(),
            comment: "rolling\nshards".into(),
            updated_at_ms: 0,
        }
    }

    #[test]
    fn matchers_in_amtool_syntax() {
        let m = parse_matcher(r#"shard=~"3|4""#).unwrap();
        assert_eq!(
            (m.name.as_str(), m.value.as_str(), m.is_regex),
            ("shard", "3|4", true)
        );
        let m = parse_matcher("alertname=ShardNotReady").unwrap();
        assert_eq!((m.value.as_str(), m.is_regex), ("ShardNotReady", false));
        for bad in ["alertname", "9x=y", r#"shard=~"(3""#, r#"a="open"#] {
            let err = parse_matcher(bad).unwrap_err();
            assert!(err.contains("bad matcher"), "{bad}: {err}");
        }
        let m = parse_matcher("node!=bot-2").unwrap();
        assert_eq!((m.is_regex, m.is_equal), (false, false));
        let m = parse_matcher(r#"node!~"bot-.*""#).unwrap();
        assert_eq!((m.is_regex, m.is_equal), (true, false));
    }

    #[test]
    fn durations_are_prometheus_durations_and_positive() {
        assert_eq!(parse_duration("2h").unwrap().millis(), 7_200_000);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("2 hours").is_err());
    }

    #[test]
    fn table_states_and_alignment() {
        let now = 10_000_000;
        let active = silence("a1", "alertname=X", now + 3_600_500);
        let expired = silence("e22", r#"shard=~"3|4""#, now - 60_000);
        let table = silence_table(&[&active, &expired], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("ID "), "{table}");
        assert!(
            lines[1].contains("active") && lines[1].contains("(in 1h)"),
            "{table}"
        );
        assert!(
            lines[2].contains("expired") && lines[2].contains("(1m ago)"),
            "{table}"
        );
        assert!(lines[2].contains(r#"shard=~"3|4""#), "{table}");
        assert!(lines[1].ends_with("rolling shards"), "{table}");
        let column = |line: &str| line.find("alice").unwrap();
        assert_eq!(column(lines[1]), column(lines[2]), "{table}");
    }
}
