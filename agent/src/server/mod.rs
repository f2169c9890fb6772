//! The agent's HTTP API (documented in `docs/api.md`).

mod auth;
mod exposition;
mod query;
mod silences;
mod stream;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{middleware, Json, Router};
use tokio_util::sync::CancellationToken;

use crate::api::prom::{AlertsData, PromResponse, RulesData};
use crate::config::AuthConfig;
use crate::state::AgentState;

pub use auth::{Caller, Role};

#[derive(Clone)]
pub(crate) struct AppState {
    pub state: Arc<AgentState>,
    pub cancel: CancellationToken,
    pub started_at_ms: i64,
    pub actions: Arc<crate::actions::ActionService>,
}

pub(crate) fn router(app: AppState, auth: &AuthConfig, open_reads: bool) -> Router {
    let store = app.state.store.clone();
    let queries = Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .with_state(store);
    let actions = crate::actions::routes(app.actions.clone());
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/stream", get(stream::stream))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/rules", get(rules))
        .route(
            "/api/v1/silences",
            get(silences::list).post(silences::create),
        )
        .route("/api/v1/silences/{id}", delete(silences::expire))
        .with_state(app)
        .merge(queries)
        .merge(actions)
        .layer(middleware::from_fn_with_state(
            auth::Auth::new(auth, open_reads),
            auth::require_token,
        ))
}

async fn readyz(State(app): State<AppState>) -> Response {
    if app.state.is_ready() {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn snapshot(State(app): State<AppState>) -> Response {
    match app.state.published.load_full() {
        Some(published) => (
            [(header::CONTENT_TYPE, "application/json")],
            published.json.clone(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "the first snapshot is not built yet"})),
        )
            .into_response(),
    }
}

async fn alerts(State(app): State<AppState>) -> Json<PromResponse<AlertsData>> {
    Json(PromResponse::Success {
        data: AlertsData {
            alerts: crate::rules::prom_alerts(&app.state.rules),
        },
        warnings: Vec::new(),
    })
}

async fn rules(State(app): State<AppState>) -> Json<PromResponse<RulesData>> {
    Json(PromResponse::Success {
        data: RulesData {
            groups: crate::rules::prom_rules(&app.state.rules),
        },
        warnings: Vec::new(),
    })
}

async fn metrics(State(app): State<AppState>) -> Response {
    let published = app.state.published.load_full();
    let facts = exposition::AgentFacts {
        version: env!("CARGO_PKG_VERSION"),
        started_at_ms: app.started_at_ms,
        store: app.state.store.stats(),
        sources: app.state.sources.read().values().cloned().collect(),
        snapshot: published.as_deref().map(|p| &p.snapshot),
    };
    let mut text = exposition::render(&facts);
    if let Some(notifier) = app.state.notifier.lock().as_ref() {
        text.push_str(&notifier.metrics_text());
    }
    ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], text).into_response()
}
