//! Bearer-token roles. Probes (`/healthz`, `/readyz`) are open; reads need
//! a viewer (or operator) token unless the agent listens on loopback only;
//! anything that changes state (any other method, except POSTed queries)
//! needs an operator token, always. Tokens are
//! compared in constant time and never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::{Choice, ConstantTimeEq};

use crate::config::{AuthConfig, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

/// Who made a request, put in the request's extensions for handlers that
/// record it (audit). `name` is the token's configured name.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

struct Token {
    name: String,
    role: Role,
    secret: Secret,
}

#[derive(Clone)]
pub(crate) struct Auth {
    tokens: Arc<Vec<Token>>,
    /// True when listening on loopback only: reads need no token.
    open_reads: bool,
}

impl Auth {
    pub(crate) fn new(config: &AuthConfig, open_reads: bool) -> Self {
        let tokens = config
            .viewer_tokens
            .iter()
            .map(|t| (t, Role::Viewer))
            .chain(config.operator_tokens.iter().map(|t| (t, Role::Operator)))
            .filter_map(|(t, role)| {
                t.token.clone().map(|secret| Token {
                    name: t.name.clone(),
                    role,
                    secret,
                })
            })
            .collect();
        Auth {
            tokens: Arc::new(tokens),
            open_reads,
        }
    }

    /// The token's owner. Every configured token is compared, so the time
    /// taken does not tell which one (or whether any) matched.
    fn identify(&self, presented: &[u8]) -> Option<Caller> {
        let mut found: Option<&Token> = None;
        let mut any = Choice::from(0);
        for token in self.tokens.iter() {
            let matched = token.secret.expose().as_bytes().ct_eq(presented);
            if bool::from(matched & !any) {
                found = Some(token);
            }
            any |= matched;
        }
        found.map(|t| Caller {
            name: t.name.clone(),
            role: t.role,
        })
    }
}

fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Reads: GET and HEAD, and the Prometheus query endpoints, which clients
/// (Grafana among them) call with POST for long expressions.
fn is_read(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        || (*method == Method::POST && matches!(path, "/api/v1/query" | "/api/v1/query_range"))
}

fn denied(status: StatusCode, message: &str) -> Response {
    let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

pub(crate) async fn require_token(
    State(auth): State<Auth>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_probe(request.uri().path()) {
        return next.run(request).await;
    }
    let needed = if is_read(request.method(), request.uri().path()) {
        (!auth.open_reads).then_some(Role::Viewer)
    } else {
        Some(Role::Operator)
    };
    let caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .and_then(|token| auth.identify(token));
    match (needed, caller) {
        (None, caller) => {
            if let Some(caller) = caller {
                request.extensions_mut().insert(caller);
            }
            next.run(request).await
        }
        (Some(_), None) => denied(StatusCode::UNAUTHORIZED, "a valid bearer token is required"),
        (Some(role), Some(caller)) if caller.role < role => {
            denied(StatusCode::FORBIDDEN, "this needs an operator token")
        }
        (Some(_), Some(caller)) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenConfig;

    #[test]
    fn identifies_by_role_and_rejects_others() {
        let config = AuthConfig {
            viewer_tokens: vec![TokenConfig::new("grafana", "view-secret")],
            operator_tokens: vec![TokenConfig::new("oncall", "op-secret")],
        };
        let auth = Auth::new(&config, false);
        assert_eq!(auth.identify(b"view-secret").unwrap().role, Role::Viewer);
        let op = auth.identify(b"op-secret").unwrap();
        assert_eq!((op.name.as_str(), op.role), ("oncall", Role::Operator));
        assert!(auth.identify(b"op-secre").is_none());
        assert!(auth.identify(b"").is_none());
    }
}
