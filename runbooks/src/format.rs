//! The runbook file format (documented in `docs/runbooks.md`). Pure data:
//! every struct denies unknown keys so a typo is an error, not a no-op.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub description: String,
    pub risk: Risk,
    /// Alertnames this runbook answers; front ends offer it on those alerts.
    #[serde(default)]
    pub alerts: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    /// For runbooks over many shards: where the shard list comes from.
    #[serde(default)]
    pub targets: Option<Targets>,
    /// How to measure what a shard carries, for the blast radius.
    #[serde(default)]
    pub load: Option<LoadSpec>,
    /// Checked once, before anything runs.
    #[serde(default)]
    pub preconditions: Vec<Check>,
    /// Checked before the start and again between every step.
    #[serde(default)]
    pub guards: Vec<Check>,
    /// Alertnames that stop the run when they fire partway through.
    #[serde(default)]
    pub abort_on_alerts: Vec<String>,
    pub steps: Vec<Step>,
    /// Run after a failure routed to rollback, and after a cancel.
    #[serde(default)]
    pub rollback: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Safe,
    Disruptive,
    Destructive,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "safe",
            Risk::Disruptive => "disruptive",
            Risk::Destructive => "destructive",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// A shard id: digits only.
    Shard,
    Int,
    String,
    /// A humantime duration such as `30s`.
    Duration,
    /// One of `enum`.
    Enum,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    /// A regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default, rename = "enum")]
    pub choices: Vec<String>,
}

/// The shards a many-shard runbook walks, in batches.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// PromQL; every series' `label` value is one target.
    pub query: String,
    #[serde(default = "default_target_label")]
    pub label: String,
    /// Targets per batch: a number (`1`) or a share of them (`"25%"`).
    #[serde(default)]
    pub batch: Batch,
    /// At most this many targets may be unavailable at once.
    #[serde(default = "default_max_unavailable")]
    pub max_unavailable: u32,
}

fn default_target_label() -> String {
    "shard".to_string()
}

fn default_max_unavailable() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Batch {
    Count(u32),
    Percent(u32),
}

impl Default for Batch {
    fn default() -> Self {
        Batch::Count(1)
    }
}

impl Batch {
    /// Targets per batch out of `total`, never below one.
    pub fn size(self, total: usize) -> usize {
        match self {
            Batch::Count(n) => n.max(1) as usize,
            Batch::Percent(p) => (total * p as usize).div_ceil(100).max(1),
        }
    }
}

/// Written back the way it is read: `1` or `"25%"`.
impl Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Batch::Count(n) => s.serialize_u32(*n),
            Batch::Percent(p) => s.serialize_str(&format!("{p}%")),
        }
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) if n > 0 => Ok(Batch::Count(n)),
            Raw::Count(_) => Err(serde::de::Error::custom("batch must be at least 1")),
            Raw::Text(text) => {
                let percent = text
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<u32>().ok())
                    .filter(|p| (1..=100).contains(p));
                percent.map(Batch::Percent).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "batch {text:?}: expected a number or a percentage 1%..100%"
                    ))
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// PromQL (templated with the params) whose series, one per shard
    /// (by the `shard` label), say what each affected shard carries.
    pub query: String,
    /// What the number counts, e.g. `guilds`.
    pub unit: String,
}

/// A PromQL condition: it holds when the query returns a non-empty vector
/// (or a non-zero scalar), the same as an alert rule's expression.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub expr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Abort,
    Continue,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    #[serde(default, with = "opt_duration")]
    pub backoff: Option<Duration>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Run once per target of the current batch (many-shard runbooks).
    #[serde(default)]
    pub per_target: bool,
    // Exactly one of the step kinds below is set (checked by validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<WaitStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<SleepStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<ConfirmStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyStep>,
}

/// What a step does: the one kind its YAML sets.
#[derive(Debug, Clone, Copy)]
pub enum StepAction<'a> {
    Http(&'a HttpStep),
    Exec(&'a ExecStep),
    WaitUntil(&'a WaitStep),
    Sleep(&'a SleepStep),
    Confirm(&'a ConfirmStep),
    Notify(&'a NotifyStep),
}

impl Step {
    /// Every kind the step sets; validation requires exactly one.
    pub fn actions(&self) -> Vec<StepAction<'_>> {
        let kinds = [
            self.http.as_ref().map(StepAction::Http),
            self.exec.as_ref().map(StepAction::Exec),
            self.wait_until.as_ref().map(StepAction::WaitUntil),
            self.sleep.as_ref().map(StepAction::Sleep),
            self.confirm.as_ref().map(StepAction::Confirm),
            self.notify.as_ref().map(StepAction::Notify),
        ];
        kinds.into_iter().flatten().collect()
    }
}

impl StepAction<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Http(_) => "http",
            StepAction::Exec(_) => "exec",
            StepAction::WaitUntil(_) => "wait_until",
            StepAction::Sleep(_) => "sleep",
            StepAction::Confirm(_) => "confirm",
            StepAction::Notify(_) => "notify",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sent as JSON; template values are inserted as JSON strings.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Accepted statuses; any 2xx when empty.
    #[serde(default)]
    pub expect_status: Vec<u16>,
}

fn default_method() -> String {
    "POST".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecStep {
    /// Program and arguments; each element stays one argument. No shell.
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    pub expr: String,
    #[serde(default = "default_poll", with = "duration")]
    pub poll: Duration,
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SleepStep {
    /// A humantime duration, or a template naming a `duration` param.
    pub duration: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmStep {
    pub prompt: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyStep {
    pub message: String,
}

/// Durations are written the humantime way: `500ms`, `30s`, `2m`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map_err(|err| serde::de::Error::custom(format!("duration {text:?}: {err}")))
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => humantime::parse_duration(&text)
                .map(Some)
                .map_err(|err| serde::de::Error::custom(format!("duration {text:?}: {err}"))),
            None => Ok(None),
        }
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::duration::serialize(v, s),
            None => s.serialize_none(),
        }
    }
}
