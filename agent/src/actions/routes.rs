//! `/api/v1/runbooks`, `/api/v1/actions…` and `/api/v1/audit`. The auth
//! middleware has already refused non-operators on every POST here.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::service::{ActionError, ActionService, StartRequest};
use crate::server::Caller;

pub(crate) fn routes(service: Arc<ActionService>) -> Router {
    Router::new()
        .route("/api/v1/runbooks", get(runbooks))
        .route("/api/v1/actions", post(start))
        .route("/api/v1/actions/{id}", get(show))
        .route("/api/v1/actions/{id}/cancel", post(cancel))
        .route("/api/v1/actions/{id}/approve", post(approve))
        .route("/api/v1/actions/{id}/rollback", post(rollback))
        .route("/api/v1/audit", get(audit))
        .with_state(service)
}

impl IntoResponse for ActionError {
    fn into_response(self) -> Response {
        let status = match &self {
            ActionError::Disabled => StatusCode::FORBIDDEN,
            ActionError::UnknownRunbook(_) | ActionError::UnknownAction(_) => StatusCode::NOT_FOUND,
            ActionError::Plan(opsdeck_runbooks::PlanError::Param(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ActionError::Plan(_) | ActionError::Refused(_) => StatusCode::CONFLICT,
            ActionError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

async fn runbooks(State(service): State<Arc<ActionService>>) -> Response {
    Json(serde_json::json!({ "runbooks": service.runbooks() })).into_response()
}

async fn start(
    State(service): State<Arc<ActionService>>,
    caller: Option<Extension<Caller>>,
    Json(request): Json<StartRequest>,
) -> Result<Response, ActionError> {
    let Some(Extension(caller)) = caller else {
        // Unreachable behind the auth layer; refuse rather than record "nobody".
        return Err(ActionError::Refused("an operator token is required".into()));
    };
    let dry_run = request.dry_run;
    let response = service.start_action(request, &caller.name)?;
    let status = if dry_run || response.existing {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(response)).into_response())
}

async fn show(
    State(service): State<Arc<ActionService>>,
    Path(id): Path<String>,
) -> Result<Response, ActionError> {
    Ok(Json(service.get(&id)?).into_response())
}

async fn cancel(
    State(service): State<Arc<ActionService>>,
    Path(id): Path<String>,
) -> Result<Response, ActionError> {
    Ok((StatusCode::ACCEPTED, Json(service.cancel(&id)?)).into_response())
}

async fn approve(
    State(service): State<Arc<ActionService>>,
    Path(id): Path<String>,
) -> Result<Response, ActionError> {
    Ok((StatusCode::ACCEPTED, Json(service.approve(&id)?)).into_response())
}

async fn rollback(
    State(service): State<Arc<ActionService>>,
    Path(id): Path<String>,
) -> Result<Response, ActionError> {
    Ok((StatusCode::ACCEPTED, Json(service.rollback(&id)?)).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn audit(
    State(service): State<Arc<ActionService>>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ActionError> {
    Ok(Json(serde_json::json!({ "actions": service.audit(query.limit)? })).into_response())
}
