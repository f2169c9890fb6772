//! The node's HTTP surface: `/metrics`, `/healthz` and the JSON admin API.
//! Every request first brings the simulation up to the current time.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::error::AdminError;
use crate::incidents::IncidentKind;
use crate::metrics::CONTENT_TYPE;
use crate::sim::{IncidentRecord, NodeSim};
use crate::views::{IncidentsView, NodeView, PoolView, PoolsView, ShardView, ShardsView};

pub type SharedSim = Arc<Mutex<NodeSim>>;

pub fn router(sim: SharedSim) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/admin/node", get(node))
        .route("/admin/restart", post(restart_node))
        .route("/admin/shards", get(shards))
        .route("/admin/shards/{id}", get(shard))
        .route("/admin/shards/{id}/drain", post(drain))
        .route("/admin/shards/{id}/resume", post(resume))
        .route("/admin/shards/{id}/restart", post(restart_shard))
        .route("/admin/pools", get(pools))
        .route("/admin/pools/{name}/recycle", post(recycle_pool))
        .route("/admin/incidents", get(incidents))
        .route("/admin/incidents/{kind}", post(trigger_incident))
        .with_state(sim)
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = serde_json::json!({ "error": self.to_string() });
        (status, Json(body)).into_response()
    }
}

/// The simulation, caught up to now.
fn current(sim: &SharedSim) -> parking_lot::MutexGuard<'_, NodeSim> {
    let mut sim = sim.lock();
    sim.catch_up();
    sim
}

async fn metrics(State(sim): State<SharedSim>) -> Result<Response, AdminError> {
    let body = current(&sim)
        .render_metrics()
        .map_err(|err| AdminError::Internal(format!("cannot encode metrics: {err}")))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response())
}

async fn node(State(sim): State<SharedSim>) -> Json<NodeView> {
    Json(NodeView::of(&current(&sim)))
}

async fn restart_node(
    State(sim): State<SharedSim>,
) -> Result<(StatusCode, Json<NodeView>), AdminError> {
    let mut sim = current(&sim);
    sim.restart_node()?;
    tracing::info!(node = %sim.name(), "node restarting");
    Ok((StatusCode::ACCEPTED, Json(NodeView::of(&sim))))
}

async fn shards(State(sim): State<SharedSim>) -> Json<ShardsView> {
    Json(ShardsView::of(&current(&sim)))
}

async fn shard(
    State(sim): State<SharedSim>,
    Path(id): Path<String>,
) -> Result<Json<ShardView>, AdminError> {
    let sim = current(&sim);
    let id = sim.shard_id(&id)?;
    Ok(Json(ShardView::of(&sim, id)))
}

/// Applies a shard operation and answers 202 with the shard's new state.
fn shard_operation(
    sim: &SharedSim,
    raw_id: &str,
    name: &str,
    operation: fn(&mut NodeSim, u32) -> Result<(), AdminError>,
) -> Result<(StatusCode, Json<ShardView>), AdminError> {
    let mut sim = current(sim);
    let id = sim.shard_id(raw_id)?;
    operation(&mut sim, id)?;
    tracing::info!(node = %sim.name(), shard = id, operation = name, "shard operation");
    Ok((StatusCode::ACCEPTED, Json(ShardView::of(&sim, id))))
}

async fn drain(
    State(sim): State<SharedSim>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ShardView>), AdminError> {
    shard_operation(&sim, &id, "drain", NodeSim::drain)
}

async fn resume(
    State(sim): State<SharedSim>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ShardView>), AdminError> {
    shard_operation(&sim, &id, "resume", NodeSim::resume)
}

async fn restart_shard(
    State(sim): State<SharedSim>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ShardView>), AdminError> {
    shard_operation(&sim, &id, "restart", NodeSim::restart_shard)
}

async fn pools(State(sim): State<SharedSim>) -> Json<PoolsView> {
    Json(PoolsView::of(&current(&sim)))
}

async fn recycle_pool(
    State(sim): State<SharedSim>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<PoolView>), AdminError> {
    let mut sim = current(&sim);
    sim.recycle_pool(&name)?;
    tracing::info!(node = %sim.name(), pool = %name, "pool recycling");
    Ok((StatusCode::ACCEPTED, Json(PoolView::of(&sim))))
}

async fn incidents(State(sim): State<SharedSim>) -> Json<IncidentsView> {
    Json(IncidentsView::of(&current(&sim)))
}

/// The optional body of `POST /admin/incidents/{kind}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerRequest {
    shard: Option<u32>,
}

async fn trigger_incident(
    State(sim): State<SharedSim>,
    Path(kind): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<IncidentRecord>), AdminError> {
    let kind: IncidentKind =
        kind.parse()
            .map_err(|err: crate::incidents::UnknownIncidentKind| {
                AdminError::NotFound(err.to_string())
            })?;
    let request: TriggerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| AdminError::BadRequest(format!("request body: {err}")))?
    };
    let mut sim = current(&sim);
    let record = sim.trigger(kind, request.shard)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}
