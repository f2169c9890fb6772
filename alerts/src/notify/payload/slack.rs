//! Slack incoming-webhook messages: Block Kit blocks inside a coloured
//! attachment (the only way to show a colour bar), with a plain `text`
//! fallback for notifications and old clients.
//!
//! Limits (Slack's Block Kit reference): header text 150, section text
//! 3000, 10 fields of 2000 each, 50 blocks per message; `text` is
//! truncated by Slack above 40,000, so we cut it first.

use serde_json::{json, Value};

use super::text::limit_utf16;
use super::{AlertFacts, Notification, Runbook, Severity};

pub const HEADER_MAX: usize = 150;
pub const SECTION_TEXT_MAX: usize = 3000;
pub const FIELDS_MAX: usize = 10;
pub const FIELD_TEXT_MAX: usize = 2000;
pub const BLOCKS_MAX: usize = 50;
pub const TEXT_MAX: usize = 40_000;

pub fn build(notification: &Notification) -> Value {
    let header = json!({
        "type": "header",
        "text": {"type": "plain_text", "text": limit_utf16(&notification.title(), HEADER_MAX), "emoji": true},
    });
    let total = notification.alerts.len();
    // The header, one section per alert and, when cut, one context line.
    let room = if total < BLOCKS_MAX {
        total
    } else {
        BLOCKS_MAX - 2
    };
    let mut blocks = vec![header];
    blocks.extend(
        notification.alerts[..room]
            .iter()
            .map(|alert| section(&AlertFacts::of(alert, notification))),
    );
    if room < total {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("and {} more", total - room)}],
        }));
    }
    json!({
        "text": limit_utf16(&fallback_text(notification), TEXT_MAX),
        "attachments": [{
            "color": format!("#{:06X}", Severity::group_colour(&notification.alerts)),
            "blocks": blocks,
        }],
    })
}

fn section(facts: &AlertFacts<'_>) -> Value {
    let mut lines = vec![format!("*{}*", escape(&facts.summary))];
    if let Some(description) = facts.description {
        lines.push(escape(description));
    }
    let mut status = vec![format!("_{}_", facts.duration)];
    if let Some(value) = &facts.value {
        status.push(format!("value `{value}`"));
    }
    lines.push(status.join(" · "));
    match &facts.runbook {
        Some(Runbook::Link(url)) => lines.push(format!("<{}|Runbook>", escape(url))),
        Some(Runbook::Id(id)) => lines.push(format!("Runbook: `{}`", escape(id))),
        None => {}
    }
    let labels: Vec<(&String, &String)> = facts.alert.labels.iter().collect();
    let mut fields: Vec<Value> = labels
        .iter()
        .take(if labels.len() > FIELDS_MAX {
            FIELDS_MAX - 1
        } else {
            FIELDS_MAX
        })
        .map(|(k, v)| field(&format!("*{}*\n{}", escape(k), escape(v))))
        .collect();
    if labels.len() > FIELDS_MAX {
        let rest: Vec<String> = labels[FIELDS_MAX - 1..]
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        fields.push(field(&format!(
            "*and {} more labels*\n{}",
            rest.len(),
            rest.join(", ")
        )));
    }
    let mut section = json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": limit_utf16(&lines.join("\n"), SECTION_TEXT_MAX)},
    });
    // Slack rejects an empty `fields` list.
    if !fields.is_empty() {
        section["fields"] = Value::Array(fields);
    }
    section
}

fn field(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": limit_utf16(text, FIELD_TEXT_MAX)})
}

/// One line per alert, for notifications and clients without blocks.
fn fallback_text(notification: &Notification) -> String {
    let mut text = notification.title();
    for alert in &notification.alerts {
        let facts = AlertFacts::of(alert, notification);
        text.push_str(&format!("\n• {} ({})", facts.summary, facts.duration));
    }
    text
}

/// Slack's mrkdwn control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::big_group;
    use super::super::text::utf16_len;
    use super::*;

    fn text_of(v: &Value) -> usize {
        utf16_len(v.as_str().unwrap())
    }

    #[test]
    fn a_huge_group_stays_within_every_limit() {
        let message = build(&big_group(120, 5000));
        assert!(text_of(&message["text"]) <= TEXT_MAX);
        let blocks = message["attachments"][0]["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), BLOCKS_MAX);
        assert!(text_of(&blocks[0]["text"]["text"]) <= HEADER_MAX);
        for section in &blocks[1..BLOCKS_MAX - 1] {
            assert!(text_of(&section["text"]["text"]) <= SECTION_TEXT_MAX);
            let fields = section["fields"].as_array().unwrap();
            assert_eq!(fields.len(), FIELDS_MAX);
            assert!(fields.iter().all(|f| text_of(&f["text"]) <= FIELD_TEXT_MAX));
        }
        let last = &blocks[BLOCKS_MAX - 1]["elements"][0]["text"];
        assert_eq!(last, "and 72 more");
    }

    #[test]
    fn shows_colour_summary_value_duration_and_runbook() {
        let mut group = big_group(1, 10);
        group.alerts[0]
            .labels
            .retain(|k, _| !k.starts_with("label_"));
        let message = build(&group);
        assert_eq!(message["attachments"][0]["color"], "#E01E5A");
        let section = &message["attachments"][0]["blocks"][1]["text"]["text"];
        let section = section.as_str().unwrap();
        assert!(section.contains("Heap is high on bot-0"), "{section}");
        assert!(section.contains("firing for 5m 3s"), "{section}");
        assert!(section.contains("value `0.93`"), "{section}");
        assert!(
            section.contains("<https://runbooks.example/heap|Runbook>"),
            "{section}"
        );
        assert!(message["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING:1] HeapHigh"));
    }

    #[test]
    fn a_notice_says_notice_and_when_instead_of_firing() {
        let labels = [("runbook".to_string(), "drain-shard".to_string())].into();
        let notice = Notification::notice("r", &labels, "draining shard 3", 1_303_000);
        let message = build(&notice);
        let text = message["text"].as_str().unwrap();
        assert!(
            text.starts_with("[NOTICE] OpsdeckNotice (runbook=drain-shard)"),
            "{text}"
        );
        let section = &message["attachments"][0]["blocks"][1]["text"]["text"];
        let section = section.as_str().unwrap();
        assert!(section.contains("*draining shard 3*"), "{section}");
        assert!(
            section.contains("notice at 1970-01-01 00:21:43 UTC"),
            "{section}"
        );
        assert!(!section.contains("firing"), "{section}");
    }

    #[test]
    fn resolved_groups_are_green_and_say_so() {
        let mut group = big_group(2, 10);
        for alert in &mut group.alerts {
            alert.status = crate::notify::alert::AlertStatus::Resolved;
            alert.ends_at_ms = Some(1_200_000);
        }
        let message = build(&group);
        assert_eq!(message["attachments"][0]["color"], "#2EB67D");
        assert!(message["text"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED:2]"));
        let section = message["attachments"][0]["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap();
        assert!(section.contains("resolved after 3m 20s"), "{section}");
    }
}
