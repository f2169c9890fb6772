//! Errors of the demo node: starting it, and refusing admin requests.

use crate::config::ConfigError;

/// Why a node could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("cannot set up the metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the HTTP server of node {node} failed: {message}")]
    Server { node: String, message: String },
}

/// Why an admin request was refused. Each maps to an HTTP status and is
/// sent as `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No such shard, pool or incident kind: 404.
    #[error("{0}")]
    NotFound(String),
    /// The request is valid but not in the current state: 409.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed: 400.
    #[error("{0}")]
    BadRequest(String),
    /// The node failed to do what it should have been able to: 500.
    #[error("{0}")]
    Internal(String),
}
