//! A typed HTTP client for an agent, used by the TUI and the CLI.

mod sse;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header;
use serde::de::DeserializeOwned;

use crate::api::prom::{PromResponse, QueryData};
use crate::api::{Snapshot, StreamEvent};

pub use sse::{SseDecoder, SseEvent};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid agent URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("cannot reach the agent: {0}")]
    Http(String),
    #[error("the agent answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("query failed ({error_type}): {error}")]
    Query { error_type: String, error: String },
    #[error("unexpected response from the agent: {0}")]
    Decode(String),
}

fn http_error(err: reqwest::Error) -> ClientError {
    ClientError::Http(err.without_url().to_string())
}

#[derive(Clone)]
pub struct AgentClient {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl AgentClient {
    /// `base` is the agent's URL, e.g. `http://127.0.0.1:9464`; `token` a
    /// viewer or operator token.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, ClientError> {
        let url_error = |message: String| ClientError::Url {
            url: base.to_string(),
            message,
        };
        let mut base_url = url::Url::parse(base).map_err(|e| url_error(e.to_string()))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(url_error("the scheme must be http or https".into()));
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(http_error)?;
        Ok(AgentClient {
            base: base_url,
            http,
            token,
        })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let url = self.base.join(path).map_err(|e| ClientError::Url {
            url: path.to_string(),
            message: e.to_string(),
        })?;
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        Ok(request)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or(body);
        Err(ClientError::Status {
            status: status.as_u16(),
            message,
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let request = self
            .request(reqwest::Method::GET, path)?
            .timeout(Duration::from_secs(10));
        let response = self.send(request).await?;
        let bytes = response.bytes().await.map_err(http_error)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /healthz` succeeded.
    pub async fn health(&self) -> Result<(), ClientError> {
        let request = self
            .request(reqwest::Method::GET, "healthz")?
            .timeout(Duration::from_secs(5));
        self.send(request).await.map(|_| ())
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get_json("api/v1/snapshot").await
    }

    /// An instant query at `time_ms` (unix milliseconds), or now.
    pub async fn query(&self, expr: &str, time_ms: Option<i64>) -> Result<QueryData, ClientError> {
        let mut form = vec![("query", expr.to_string())];
        if let Some(t) = time_ms {
            form.push(("time", format!("{}", t as f64 / 1000.0)));
        }
        self.prom("api/v1/query", &form).await
    }

    pub async fn query_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step: Duration,
    ) -> Result<QueryData, ClientError> {
        let form = [
            ("query", expr.to_string()),
            ("start", format!("{}", start_ms as f64 / 1000.0)),
            ("end", format!("{}", end_ms as f64 / 1000.0)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        self.prom("api/v1/query_range", &form).await
    }

    /// A Prometheus API call by POST form; API errors keep their type.
    async fn prom(&self, path: &str, form: &[(&str, String)]) -> Result<QueryData, ClientError> {
        let request = self
            .request(reqwest::Method::POST, path)?
            .form(form)
            .timeout(Duration::from_secs(35));
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http_error)?;
        match serde_json::from_slice::<PromResponse<QueryData>>(&bytes) {
            Ok(PromResponse::Success { data, .. }) => Ok(data),
            Ok(PromResponse::Error { error_type, error }) => {
                Err(ClientError::Query { error_type, error })
            }
            Err(_) => Err(ClientError::Status {
                status: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }

    /// `GET /api/v1/stream`: the current snapshot, then changes and
    /// heartbeats. Pass the last snapshot's `seq` to resume. The stream
    /// ends when the connection does; reconnecting is the caller's call.
    pub async fn stream(&self, last_seq: Option<u64>) -> Result<EventStream, ClientError> {
        let mut request = self
            .request(reqwest::Method::GET, "api/v1/stream")?
            .header(header::ACCEPT, "text/event-stream");
        if let Some(seq) = last_seq {
            request = request.header("Last-Event-ID", seq.to_string());
        }
        let response = self.send(request).await?;
        let mut decoder = SseDecoder::default();
        let events = response.bytes_stream().flat_map(move |chunk| {
            let decoded: Vec<Result<StreamEvent, ClientError>> = match chunk {
                Ok(bytes) => decoder
                    .push(&bytes)
                    .into_iter()
                    .map(|event| {
                        serde_json::from_str(&event.data)
                            .map_err(|e| ClientError::Decode(e.to_string()))
                    })
                    .collect(),
                Err(err) => vec![Err(http_error(err))],
            };
            futures::stream::iter(decoded)
        });
        Ok(EventStream {
            inner: Box::pin(events),
        })
    }
}

/// The events of `GET /api/v1/stream`; a [`Stream`], or read with
/// [`EventStream::next_event`].
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent, ClientError>> + Send>>,
}

impl EventStream {
    /// The next event; `None` when the agent closed the stream.
    pub async fn next_event(&mut self) -> Option<Result<StreamEvent, ClientError>> {
        self.inner.next().await
    }
}

impl Stream for EventStream {
    type Item = Result<StreamEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
