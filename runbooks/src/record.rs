//! The journal record of one action: who asked, with what, each step's
//! start, end, result and (bounded) output, and the outcome. This is also
//! the wire shape of `GET /api/v1/actions/{id}` and `GET /api/v1/audit`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Step output kept in the journal, at most.
pub const MAX_OUTPUT_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Pending,
    Running,
    AwaitingConfirmation,
    RollingBack,
    Succeeded,
    Failed,
    Cancelled,
    RolledBack,
    /// The agent stopped while this ran; it is never resumed by itself.
    Interrupted,
}

impl ActionStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ActionStatus::Succeeded
                | ActionStatus::Failed
                | ActionStatus::Cancelled
                | ActionStatus::RolledBack
                | ActionStatus::Interrupted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Running => "running",
            ActionStatus::AwaitingConfirmation => "awaiting_confirmation",
            ActionStatus::RollingBack => "rolling_back",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Cancelled => "cancelled",
            ActionStatus::RolledBack => "rolled_back",
            ActionStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Running,
    Succeeded,
    /// Failed, and the runbook said to go on.
    FailedContinued,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub kind: String,
    /// `main` or `rollback`.
    pub phase: String,
    pub target: Option<String>,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub attempts: u32,
    pub result: StepResult,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub id: String,
    pub runbook: String,
    pub params: BTreeMap<String, String>,
    /// The name of the token that asked.
    pub requested_by: String,
    pub idempotency_key: Option<String>,
    /// Shards this action holds locks on.
    pub shards: Vec<String>,
    pub status: ActionStatus,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// The step now running, if any.
    pub current_step: Option<String>,
    pub steps: Vec<StepRecord>,
    /// Why it failed, was cancelled or was interrupted.
    pub error: Option<String>,
    /// True when the action has rollback steps that have not run: offered
    /// after an interruption.
    pub rollback_available: bool,
}

/// Cuts `text` to [`MAX_OUTPUT_BYTES`] on a character boundary.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.to_string();
    }
    let mut end = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end)
}
