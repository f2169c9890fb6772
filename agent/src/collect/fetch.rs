//! One bounded HTTP GET, shared by the scrape and JSON collectors: a
//! timeout over the whole exchange, a body size limit checked while the
//! (decompressed) body streams in, and errors that never carry the URL,
//! because URLs can hold credentials.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("body exceeds the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the body failed: {0}")]
    Body(String),
}

/// The response body and its `Content-Type`.
pub(crate) struct Fetched {
    pub body: Bytes,
    pub content_type: Option<String>,
}

/// Sends `request` and reads at most `limit` bytes of body, all within `timeout`.
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    limit: u64,
) -> Result<Fetched, FetchError> {
    tokio::time::timeout(timeout, fetch_unbounded_time(request, limit))
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}

async fn fetch_unbounded_time(
    request: reqwest::RequestBuilder,
    limit: u64,
) -> Result<Fetched, FetchError> {
    let response = request.send().await.map_err(|err| {
        let err = err.without_url();
        FetchError::Connect(error_chain(&err))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(FetchError::TooLarge(limit));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| FetchError::Body(error_chain(&err.without_url())))?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        body: body.freeze(),
        content_type,
    })
}

/// "error sending request: connection refused": the error and its causes,
/// which is where reqwest keeps the useful part.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
