//! One bounded HTTP GET, shared by the scrape and JSON collectors: a
//! timeout over the whole exchange, a body size limit checked while the
//! (decompressed) body streams in, and errors that never carry the URL,
//! because URLs can hold credentials.

use std::time::Duration;

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

/// Sends `request` and reads at most `limit` bytes of body into `body`
/// (cleared first), all within `timeout`; returns the `Content-Type`.
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    limit: u64,
    body: &mut Vec<u8>,
) -> Result<Option<String>, FetchError> {
    body.clear();
    tokio::time::timeout(timeout, fetch_unbounded_time(request, limit, body))
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}

async fn fetch_unbounded_time(
    request: reqwest::RequestBuilder,
    limit: u64,
    body: &mut Vec<u8>,
) -> Result<Option<String>, FetchError> {
    let response = request.send().await.map_err(|err| {
        let err = err.without_url();
        FetchError::Connect(error_chain(&err))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    let expected = response.content_length();
    if expected.is_some_and(|len| len > limit) {
        return Err(FetchError::TooLarge(limit));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The length is of the encoded body; with gzip the buffer still grows.
    if let Some(len) = expected.and_then(|len| usize::try_from(len).ok()) {
        body.reserve_exact(len);
    }
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| FetchError::Body(error_chain(&err.without_url())))?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(content_type)
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
