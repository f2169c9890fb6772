//! `/api/v1/silences`: list, create and expire silences (operator token
//! for the last two). The silences live in the notifier's store, in the
//! agent's database.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use opsdeck_alerts::notify::matcher::MatchOp;
use opsdeck_alerts::notify::{Matcher, NewSilence, Silence, SilenceError};

use super::{AppState, Caller};
use crate::api::{SilenceCreated, SilenceRequest};
use crate::collect::now_ms;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the agent is shutting down",
    )
}

fn silence_error(err: SilenceError) -> Response {
    let status = match &err {
        SilenceError::Invalid { .. } => StatusCode::BAD_REQUEST,
        SilenceError::NotFound(_) => StatusCode::NOT_FOUND,
        SilenceError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

pub(crate) async fn list(State(app): State<AppState>) -> Response {
    match app.state.silences() {
        Some(silences) => Json::<Vec<Silence>>(silences.list()).into_response(),
        None => unavailable(),
    }
}

pub(crate) async fn create(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    Json(request): Json<SilenceRequest>,
) -> Response {
    let Some(silences) = app.state.silences() else {
        return unavailable();
    };
    let mut matchers = Vec::with_capacity(request.matchers.len());
    for (i, m) in request.matchers.iter().enumerate() {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        match Matcher::new(&m.name, op, &m.value) {
            Ok(matcher) => matchers.push(matcher),
            Err(err) => return error(StatusCode::BAD_REQUEST, format!("matchers[{i}]: {err}")),
        }
    }
    // Who asked is the token's name when there is one; the body's
    // `created_by` is what the user typed.
    let created_by = match caller {
        Some(Extension(caller)) if request.created_by.is_empty() => caller.name,
        Some(Extension(caller)) => format!("{} ({})", request.created_by, caller.name),
        None => request.created_by,
    };
    let new = NewSilence {
        matchers,
        starts_at_ms: Some(request.starts_at_ms),
        ends_at_ms: request.ends_at_ms,
        created_by,
        comment: request.comment,
    };
    match silences.create(new, now_ms()) {
        Ok(silence) => {
            tracing::info!(id = %silence.id, by = %silence.created_by, "silence created");
            (StatusCode::CREATED, Json(SilenceCreated { id: silence.id })).into_response()
        }
        Err(err) => silence_error(err),
    }
}

pub(crate) async fn expire(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(silences) = app.state.silences() else {
        return unavailable();
    };
    match silences.expire(&id, now_ms()) {
        Ok(silence) => {
            tracing::info!(id = %silence.id, "silence expired");
            Json(silence).into_response()
        }
        Err(err) => silence_error(err),
    }
}
