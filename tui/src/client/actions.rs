//! The agent's runbook actions API (`docs/runbooks.md`): list runbooks,
//! dry run, start, follow, cancel, and the audit record.
//!
//! Runbooks and the dry-run plan are mirrored here with only what the
//! picker and the confirmation dialog show: the agent's `Plan` type is
//! serialize-only, and its `Runbook` is strict about every field of the
//! YAML format, which its JSON form does not round-trip.

use std::collections::BTreeMap;
use std::time::Duration;

use opsdeck_runbooks::format::ParamType;
use opsdeck_runbooks::{ActionRecord, Risk};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{error_status, AgentTarget, ClientError};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST /api/v1/actions` body.
#[derive(Debug, Clone, Serialize)]
pub struct StartRequest<'a> {
    pub runbook: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub dry_run: bool,
    pub idempotency_key: Option<&'a str>,
    /// The operator confirmed the plan in the dialog, so `confirm` steps pass.
    pub confirmed: bool,
}

/// A runbook, as much as the picker needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunbookSummary {
    pub id: String,
    pub title: String,
    pub risk: Risk,
    #[serde(default)]
    pub alerts: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamSummary>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ParamSummary {
    #[serde(rename = "type")]
    pub kind: ParamType,
}

/// A dry run's plan, as much as the confirmation dialog shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanView {
    pub runbook: String,
    pub title: String,
    pub risk: Risk,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub shards: Vec<String>,
    pub steps: Vec<PlannedStepView>,
    #[serde(default)]
    pub checks: Vec<CheckView>,
    pub blast_radius: BlastRadiusView,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlannedStepView {
    pub name: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckView {
    pub name: String,
    pub role: String,
    pub holds: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BlastRadiusView {
    pub shards: Vec<ShardLoadView>,
    pub total_load: f64,
    pub unit: String,
    pub max_unavailable: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShardLoadView {
    pub shard: String,
    pub load: f64,
}

#[derive(Deserialize)]
struct RunbookList {
    runbooks: Vec<RunbookSummary>,
}

#[derive(Deserialize)]
struct StartResponse {
    action: Option<ActionRecord>,
    plan: Option<PlanView>,
}

#[derive(Deserialize)]
struct AuditList {
    actions: Vec<ActionRecord>,
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
    let response = request.timeout(REQUEST_TIMEOUT).send().await?;
    if !response.status().is_success() {
        return Err(error_status(response).await);
    }
    Ok(response)
}

/// Decodes a JSON body; the error says which answer and why.
async fn decode<T: DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ClientError> {
    let body = response.text().await?;
    serde_json::from_str(&body).map_err(|e| ClientError::Stream(format!("{what}: {e}")))
}

/// `GET /api/v1/runbooks`.
pub async fn list_runbooks(
    http: &reqwest::Client,
    target: &AgentTarget,
) -> Result<Vec<RunbookSummary>, ClientError> {
    let request = target.authorize(http.get(target.endpoint("/api/v1/runbooks")));
    let list: RunbookList = decode(send(request).await?, "the runbook list").await?;
    Ok(list.runbooks)
}

async fn post_start(
    http: &reqwest::Client,
    target: &AgentTarget,
    body: &StartRequest<'_>,
) -> Result<StartResponse, ClientError> {
    let request = target
        .authorize(http.post(target.endpoint("/api/v1/actions")))
        .json(body);
    decode(send(request).await?, "the action answer").await
}

/// `POST /api/v1/actions` with `dry_run: true`: the plan, nothing runs.
pub async fn dry_run(
    http: &reqwest::Client,
    target: &AgentTarget,
    runbook: &str,
    params: &BTreeMap<String, String>,
) -> Result<PlanView, ClientError> {
    let body = StartRequest {
        runbook,
        params,
        dry_run: true,
        idempotency_key: None,
        confirmed: false,
    };
    post_start(http, target, &body)
        .await?
        .plan
        .ok_or_else(|| ClientError::Stream("the dry run returned no plan".into()))
}

/// `POST /api/v1/actions`: starts the action (or finds the one started
/// earlier with the same idempotency key).
pub async fn start_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    runbook: &str,
    params: &BTreeMap<String, String>,
    idempotency_key: &str,
) -> Result<ActionRecord, ClientError> {
    let body = StartRequest {
        runbook,
        params,
        dry_run: false,
        idempotency_key: Some(idempotency_key),
        confirmed: true,
    };
    post_start(http, target, &body)
        .await?
        .action
        .ok_or_else(|| ClientError::Stream("the agent returned no action".into()))
}

/// `GET /api/v1/actions/{id}`.
pub async fn get_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    id: &str,
) -> Result<ActionRecord, ClientError> {
    let path = format!("/api/v1/actions/{}", path_segment(id));
    let request = target.authorize(http.get(target.endpoint(&path)));
    decode(send(request).await?, "the action").await
}

/// `POST /api/v1/actions/{id}/cancel`: stops between steps, then rolls back.
pub async fn cancel_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    id: &str,
) -> Result<ActionRecord, ClientError> {
    steer_action(http, target, id, "cancel", "the cancelled action").await
}

/// `POST /api/v1/actions/{id}/rollback`: runs the rollback an agent
/// restart left on offer for an interrupted action.
pub async fn rollback_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    id: &str,
) -> Result<ActionRecord, ClientError> {
    steer_action(http, target, id, "rollback", "the action rolling back").await
}

/// `POST /api/v1/actions/{id}/{verb}`; the agent answers with the record.
async fn steer_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    id: &str,
    verb: &str,
    what: &str,
) -> Result<ActionRecord, ClientError> {
    let path = format!("/api/v1/actions/{}/{verb}", path_segment(id));
    let request = target.authorize(http.post(target.endpoint(&path)));
    decode(send(request).await?, what).await
}

/// `GET /api/v1/audit`: the most recent actions, newest first.
pub async fn audit(
    http: &reqwest::Client,
    target: &AgentTarget,
    limit: usize,
) -> Result<Vec<ActionRecord>, ClientError> {
    let path = format!("/api/v1/audit?limit={limit}");
    let request = target.authorize(http.get(target.endpoint(&path)));
    let list: AuditList = decode(send(request).await?, "the audit").await?;
    Ok(list.actions)
}

/// Follows an action until it ends, calling `seen` with every record
/// (`GET /api/v1/actions/{id}` once a second). A failed poll is reported
/// and retried (the agent keeps the action whatever the TUI sees), except
/// a 404: the agent no longer knows the action, so there is nothing to follow.
pub async fn follow_action(
    http: &reqwest::Client,
    target: &AgentTarget,
    id: &str,
    mut seen: impl FnMut(Result<ActionRecord, String>),
) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match get_action(http, target, id).await {
            Ok(record) => {
                let done = record.status.is_terminal();
                seen(Ok(record));
                if done {
                    return;
                }
            }
            Err(error) => {
                let gone = matches!(error, ClientError::Status { status: 404, .. });
                seen(Err(error.to_string()));
                if gone {
                    return;
                }
            }
        }
    }
}

/// Action ids are agent-made, but a path segment is escaped all the same.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
