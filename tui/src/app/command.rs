//! `:` commands, k9s style.

use crate::rows::StateFilter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Fleet,
    /// `:shards [all|not-ready|draining|ready]`
    Shards(Option<StateFilter>),
    Alerts,
    /// `:node NAME`
    Node(String),
    /// `:audit [NODE]`
    Audit(Option<String>),
    Help,
    Quit,
}

/// Parses what was typed after `:`. The error is shown on the command line.
pub fn parse(input: &str) -> Result<Command, String> {
    let mut words = input.split_whitespace();
    let Some(verb) = words.next() else {
        return Err("empty command".into());
    };
    let rest: Vec<&str> = words.collect();
    let command = match verb {
        "fleet" | "f" | "nodes" => Command::Fleet,
        "shards" | "shard" | "sh" => match rest.as_slice() {
            [] => Command::Shards(None),
            words => {
                let text = words.join(" ");
                let filter = StateFilter::parse(&text).ok_or_else(|| {
                    format!("unknown shard state filter {text:?} (all, not-ready, draining, ready)")
                })?;
                Command::Shards(Some(filter))
            }
        },
        "alerts" | "alert" | "a" => Command::Alerts,
        "node" | "no" => match rest.as_slice() {
            [name] => Command::Node(name.to_string()),
            _ => return Err("usage: :node NAME".into()),
        },
        "audit" | "au" => match rest.as_slice() {
            [] => Command::Audit(None),
            [name] => Command::Audit(Some(name.to_string())),
            _ => return Err("usage: :audit [NODE]".into()),
        },
        "help" | "h" => Command::Help,
        "q" | "quit" | "q!" => Command::Quit,
        other => return Err(format!("unknown command {other:?}")),
    };
    if !rest.is_empty()
        && !matches!(
            command,
            Command::Shards(_) | Command::Node(_) | Command::Audit(_)
        )
    {
        return Err(format!(":{verb} takes no argument"));
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse("fleet"), Ok(Command::Fleet));
        assert_eq!(parse(" q "), Ok(Command::Quit));
        assert_eq!(parse("node bot-2"), Ok(Command::Node("bot-2".into())));
        assert_eq!(
            parse("shards not ready"),
            Ok(Command::Shards(Some(StateFilter::NotReady)))
        );
        assert_eq!(
            parse("shards draining"),
            Ok(Command::Shards(Some(StateFilter::Draining)))
        );
        assert!(parse("node").is_err());
        assert!(parse("shards sideways").is_err());
        assert!(parse("fleet now").is_err());
        assert!(parse("launch").unwrap_err().contains("launch"));
    }
}
