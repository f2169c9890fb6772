//! Discord webhook messages: one embed per alert, coloured by severity,
//! with the value, duration, runbook and labels as fields.
//!
//! Limits (Discord's developer docs): content 2000; embed title 256,
//! description 4096, 25 fields of name 256 and value 1024, footer 2048,
//! author 256; 10 embeds; 6000 characters across all embeds, or a 400.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use super::text::{limit_utf16, utf16_len};
use super::{AlertFacts, Notification, Runbook, Severity};
use crate::notify::alert::AlertStatus;

pub const CONTENT_MAX: usize = 2000;
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FIELDS_MAX: usize = 25;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1024;
pub const FOOTER_MAX: usize = 2048;
pub const AUTHOR_MAX: usize = 256;
pub const EMBEDS_MAX: usize = 10;
pub const EMBEDS_TOTAL_MAX: usize = 6000;

/// The body to post (to the webhook URL with `?wait=true`).
pub fn build(notification: &Notification) -> Value {
    let mut budget = EMBEDS_TOTAL_MAX;
    let mut embeds = Vec::new();
    for alert in notification.alerts.iter().take(EMBEDS_MAX) {
        match embed(&AlertFacts::of(alert, notification), budget) {
            Some((value, used)) => {
                budget -= used;
                embeds.push(value);
            }
            None => break,
        }
    }
    let mut content = format!("**{}**", notification.title());
    let left_out = notification.alerts.len() - embeds.len();
    let more = if left_out > 0 {
        format!("\nand {left_out} more")
    } else {
        String::new()
    };
    content = limit_utf16(&content, CONTENT_MAX - utf16_len(&more)) + &more;
    json!({
        "content": content,
        "embeds": embeds,
        // Alert text must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    })
}

/// One alert's embed and the characters it counts against the 6000
/// budget, or `None` when not even a minimal embed fits in `budget`.
fn embed(facts: &AlertFacts<'_>, budget: usize) -> Option<(Value, usize)> {
    let alert = facts.alert;
    let prefix = match alert.status {
        AlertStatus::Firing => "🔥",
        AlertStatus::Resolved => "✅ Resolved:",
    };
    let title = limit_utf16(&format!("{prefix} {}", alert.name()), TITLE_MAX);
    let footer = limit_utf16(&format!("opsdeck · {}", alert.fingerprint()), FOOTER_MAX);
    let mut fields: Vec<(String, String)> = Vec::new();
    fields.push(("Status".into(), facts.duration.clone()));
    if let Some(value) = &facts.value {
        fields.push(("Value".into(), value.clone()));
    }
    match &facts.runbook {
        Some(Runbook::Link(url)) => fields.push(("Runbook".into(), format!("[open]({url})"))),
        Some(Runbook::Id(id)) => fields.push(("Runbook".into(), format!("`{id}`"))),
        None => {}
    }
    let labels: Vec<(&String, &String)> = alert.labels.iter().collect();
    let label_room = FIELDS_MAX - fields.len();
    let shown = if labels.len() > label_room {
        label_room - 1
    } else {
        labels.len()
    };
    fields.extend(
        labels[..shown]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    if shown < labels.len() {
        let rest: Vec<String> = labels[shown..]
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        fields.push((format!("and {} more labels", rest.len()), rest.join(", ")));
    }
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(name, value)| {
            let value = if value.is_empty() {
                "\u{200b}".to_string()
            } else {
                value
            };
            (
                limit_utf16(&name, FIELD_NAME_MAX),
                limit_utf16(&value, FIELD_VALUE_MAX),
            )
        })
        .collect();

    let fixed = utf16_len(&title) + utf16_len(&footer);
    if fixed > budget {
        return None;
    }
    // Fields are kept while they fit; the description takes what is left.
    let mut used = fixed;
    let mut kept = Vec::new();
    for (name, value) in fields {
        let size = utf16_len(&name) + utf16_len(&value);
        if used + size > budget {
            break;
        }
        used += size;
        kept.push(json!({"name": name, "value": value, "inline": kept.len() < 3}));
    }
    let mut description = facts.summary.clone();
    if let Some(more) = facts.description {
        description.push_str("\n\n");
        description.push_str(more);
    }
    let description = limit_utf16(&description, DESCRIPTION_MAX.min(budget - used));
    used += utf16_len(&description);
    let mut embed = json!({
        "title": title,
        "color": Severity::colour(alert),
        "fields": kept,
        "footer": {"text": footer},
    });
    // Discord rejects an empty description; leave it out instead.
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if let Some(started) = DateTime::from_timestamp_millis(alert.starts_at_ms) {
        embed["timestamp"] = json!(started.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    if let Some(url) = alert
        .generator_url
        .as_deref()
        .filter(|u| u.starts_with("http"))
    {
        embed["url"] = json!(url);
    }
    Some((embed, used))
}

/// The characters Discord counts across a message's embeds.
pub fn embeds_total(message: &Value) -> usize {
    let len = |v: &Value| v.as_str().map_or(0, utf16_len);
    message["embeds"].as_array().map_or(0, |embeds| {
        embeds
            .iter()
            .map(|e| {
                len(&e["title"])
                    + len(&e["description"])
                    + len(&e["footer"]["text"])
                    + len(&e["author"]["name"])
                    + e["fields"].as_array().map_or(0, |fields| {
                        fields
                            .iter()
                            .map(|f| len(&f["name"]) + len(&f["value"]))
                            .sum()
                    })
            })
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::big_group;
    use super::*;

    fn len(v: &Value) -> usize {
        utf16_len(v.as_str().unwrap())
    }

    #[test]
    fn a_huge_group_stays_within_every_limit() {
        for (alerts, text_len) in [(1, 10_000), (3, 500), (40, 50), (40, 5000)] {
            let message = build(&big_group(alerts, text_len));
            assert!(len(&message["content"]) <= CONTENT_MAX);
            let embeds = message["embeds"].as_array().unwrap();
            assert!(!embeds.is_empty() && embeds.len() <= EMBEDS_MAX);
            assert!(
                embeds_total(&message) <= EMBEDS_TOTAL_MAX,
                "{alerts}×{text_len}"
            );
            for e in embeds {
                assert!(len(&e["title"]) <= TITLE_MAX);
                assert!(len(&e["description"]) <= DESCRIPTION_MAX);
                assert!(len(&e["footer"]["text"]) <= FOOTER_MAX);
                let fields = e["fields"].as_array().unwrap();
                assert!(fields.len() <= FIELDS_MAX);
                for f in fields {
                    assert!(
                        len(&f["name"]) <= FIELD_NAME_MAX && len(&f["value"]) <= FIELD_VALUE_MAX
                    );
                    assert!(len(&f["value"]) > 0);
                }
            }
            let shown = embeds.len();
            if shown < alerts {
                let content = message["content"].as_str().unwrap();
                assert!(
                    content.ends_with(&format!("and {} more", alerts - shown)),
                    "{content}"
                );
            }
        }
    }

    #[test]
    fn shows_severity_colour_value_duration_and_runbook() {
        let message = build(&big_group(2, 10));
        let first = &message["embeds"][0];
        assert_eq!(first["color"], 0xE01E5A);
        assert_eq!(message["embeds"][1]["color"], 0xECB22E);
        assert_eq!(first["fields"][0]["value"], "firing for 5m 3s");
        assert_eq!(first["fields"][1]["value"], "0.93");
        assert_eq!(
            first["fields"][2]["value"],
            "[open](https://runbooks.example/heap)"
        );
        assert!(first["description"]
            .as_str()
            .unwrap()
            .starts_with("Heap is high on bot-0"));
        assert_eq!(message["allowed_mentions"]["parse"], json!([]));
    }
}
