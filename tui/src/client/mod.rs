//! Agent clients: one task per agent on the tokio runtime, off the UI
//! thread, following the agent's SSE stream into the fleet state.

pub mod actions;
mod backoff;
mod decode;
mod silence;
mod stream;

pub use silence::create_silence;
pub use stream::follow_agent;

use std::time::Duration;

/// Where and how to reach one agent.
#[derive(Clone)]
pub struct AgentTarget {
    pub id: crate::fleet::AgentId,
    /// Base URL, e.g. `http://127.0.0.1:9464`.
    pub url: String,
    pub token: Option<String>,
}

// The token stays out of debug output and therefore out of the logs.
impl std::fmt::Debug for AgentTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTarget")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AgentTarget {
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    pub(crate) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("no data for {} s", .0.as_secs())]
    Idle(Duration),
    #[error("stream closed by the agent")]
    Closed,
    #[error("{0}")]
    Stream(String),
}

/// One HTTP client shared by all agents. No overall timeout: the stream
/// is long-lived; idleness is detected per event instead.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("opsdeck-tui/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Reads an error response's body, cut short for display.
async fn error_status(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    let mut body = response.text().await.unwrap_or_default();
    if body.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| body.is_char_boundary(*i))
            .unwrap_or(0);
        body.truncate(cut);
        body.push('…');
    }
    ClientError::Status {
        status,
        body: body.trim().to_string(),
    }
}
