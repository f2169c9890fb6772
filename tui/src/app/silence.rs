//! The silence dialog: duration and comment for one alert, producing the
//! `POST /api/v1/silences` request when confirmed. The comment field has
//! focus first; Cancel comes before Silence in the tab order, and Esc
//! always cancels.

use std::time::Duration;

use opsdeck_agent::api::{AlertSummary, SilenceMatcher, SilenceRequest};

use crate::fleet::AgentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceField {
    Duration,
    Comment,
    Cancel,
    Confirm,
}

impl SilenceField {
    const ORDER: [SilenceField; 4] = [
        SilenceField::Duration,
        SilenceField::Comment,
        SilenceField::Cancel,
        SilenceField::Confirm,
    ];

    fn step(self, forward: bool) -> SilenceField {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        let n = Self::ORDER.len();
        Self::ORDER[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SilenceForm {
    pub agent: AgentId,
    pub node: String,
    pub alert_name: String,
    pub matchers: Vec<SilenceMatcher>,
    pub duration: String,
    pub comment: String,
    pub focus: SilenceField,
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Debug, PartialEq)]
pub enum FormOutcome {
    Editing,
    Cancelled,
    Submit(SilenceRequest),
}

impl SilenceForm {
    /// A form matching the alert's labels exactly (its `alertname` included).
    pub fn for_alert(agent: AgentId, node: &str, alert: &AlertSummary) -> Self {
        let mut labels = alert.labels.clone();
        labels
            .entry("alertname".into())
            .or_insert_with(|| alert.name.clone());
        SilenceForm {
            agent,
            node: node.to_string(),
            alert_name: alert.name.clone(),
            matchers: labels
                .into_iter()
                .map(|(name, value)| SilenceMatcher {
                    name,
                    value,
                    is_regex: false,
                    is_equal: true,
                })
                .collect(),
            duration: "2h".into(),
            comment: String::new(),
            // The duration has a sensible default; the comment is required.
            focus: SilenceField::Comment,
            error: None,
        }
    }

    pub fn focus_step(&mut self, forward: bool) {
        self.focus = self.focus.step(forward);
    }

    pub fn type_char(&mut self, c: char) {
        match self.focus {
            SilenceField::Duration => self.duration.push(c),
            SilenceField::Comment => self.comment.push(c),
            SilenceField::Cancel | SilenceField::Confirm => {}
        }
    }

    pub fn backspace(&mut self) {
        match self.focus {
            SilenceField::Duration => {
                self.duration.pop();
            }
            SilenceField::Comment => {
                self.comment.pop();
            }
            SilenceField::Cancel | SilenceField::Confirm => {}
        }
    }

    /// Enter: moves on from a text field, or acts on a button.
    pub fn enter(&mut self, now_ms: i64, created_by: &str) -> FormOutcome {
        match self.focus {
            SilenceField::Duration | SilenceField::Comment => {
                self.focus_step(true);
                FormOutcome::Editing
            }
            SilenceField::Cancel => FormOutcome::Cancelled,
            SilenceField::Confirm => match self.request(now_ms, created_by) {
                Ok(request) => FormOutcome::Submit(request),
                Err(error) => {
                    self.error = Some(error);
                    FormOutcome::Editing
                }
            },
        }
    }

    fn request(&self, now_ms: i64, created_by: &str) -> Result<SilenceRequest, String> {
        let duration = parse_duration(&self.duration)?;
        if self.comment.trim().is_empty() {
            return Err("comment: say why (it is shown to whoever sees the silence)".into());
        }
        Ok(SilenceRequest {
            matchers: self.matchers.clone(),
            starts_at_ms: now_ms,
            ends_at_ms: now_ms.saturating_add(duration.as_millis() as i64),
            created_by: created_by.to_string(),
            comment: self.comment.trim().to_string(),
        })
    }
}

/// At most a week: longer silences hide problems.
const MAX_SILENCE: Duration = Duration::from_secs(7 * 24 * 3600);

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("duration {text:?}: {e} (e.g. 30m, 2h, 1d)"))?;
    if duration.is_zero() || duration > MAX_SILENCE {
        return Err(format!("duration {text:?}: must be between 1s and 7d"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{alert, NOW_MS};
    use opsdeck_agent::api::AlertState;

    fn form() -> SilenceForm {
        let alert = alert(
            "ShardDown",
            "critical",
            AlertState::Firing,
            Some("7"),
            1_000,
        );
        SilenceForm::for_alert(1, "bot-2", &alert)
    }

    #[test]
    fn matchers_are_the_alert_labels() {
        let names: Vec<String> = form()
            .matchers
            .iter()
            .map(|m| format!("{}={}", m.name, m.value))
            .collect();
        assert_eq!(
            names,
            vec!["alertname=ShardDown", "severity=critical", "shard=7"]
        );
    }

    #[test]
    fn comment_is_required_and_duration_checked() {
        let mut form = form();
        form.focus = SilenceField::Confirm;
        assert_eq!(form.enter(NOW_MS, "me"), FormOutcome::Editing);
        assert!(form.error.as_deref().unwrap_or("").starts_with("comment"));
        form.comment = "deploying".into();
        form.duration = "forever".into();
        assert_eq!(form.enter(NOW_MS, "me"), FormOutcome::Editing);
        assert!(form.error.as_deref().unwrap_or("").contains("forever"));
        form.duration = "30d".into();
        assert_eq!(form.enter(NOW_MS, "me"), FormOutcome::Editing);
        form.duration = "90m".into();
        match form.enter(NOW_MS, "me") {
            FormOutcome::Submit(request) => {
                assert_eq!(request.ends_at_ms - request.starts_at_ms, 90 * 60 * 1000);
                assert_eq!(request.comment, "deploying");
                assert_eq!(request.created_by, "me");
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }
}
