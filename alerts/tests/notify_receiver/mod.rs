//! A local HTTP receiver that behaves like Slack's and Discord's webhooks
//! and like a generic webhook: it validates payload shapes and limits
//! (answering 400 as the services do), and follows a script of answers:
//! 429 with each service's retry hints, 500s, and hanging.

#![allow(dead_code)] // each test file uses its own part of it

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};

/// What the receiver does with the next request to a path.
#[derive(Debug, Clone)]
pub enum Answer {
    Ok,
    Status(u16),
    /// Slack: `Retry-After: secs`, body `{"ok":false,"error":"rate_limited"}`.
    SlackRateLimited {
        retry_after_secs: u64,
    },
    /// Discord: JSON `retry_after` (float seconds) plus headers that say
    /// something else, so a test can tell which one was honoured.
    DiscordRateLimited {
        retry_after: f64,
    },
    /// Discord: 200, but the bucket is empty for `reset_after` seconds
    /// (`X-RateLimit-Remaining: 0`).
    DiscordBucketEmpty {
        reset_after: f64,
    },
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Request {
    /// `slack`, `discord` or `webhook`.
    pub service: String,
    pub query: Option<String>,
    pub body: Value,
    pub at: Instant,
    /// Why the payload would be rejected by the real service, if it would.
    pub violations: Vec<String>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Request>>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{service}/{*rest}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { base, shared }
    }

    /// Answers for the next requests, in order; `Ok` once it runs out.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().extend(answers);
    }

    pub fn url(&self, service: &str) -> String {
        format!("{}/{service}/T0/B0/secret-token", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after 10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {}: {requests:#?}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((service, _rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let violations = match service.as_str() {
        "slack" => slack_violations(&parsed),
        "discord" => discord_violations(&parsed, query.as_deref()),
        _ => webhook_violations(&parsed),
    };
    shared.requests.lock().push(Request {
        service: service.clone(),
        query,
        body: parsed,
        at: Instant::now(),
        violations: violations.clone(),
    });
    if !violations.is_empty() {
        return match service.as_str() {
            "slack" => (StatusCode::BAD_REQUEST, "invalid_blocks").into_response(),
            _ => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 50035, "message": "Invalid Form Body"})),
            )
                .into_response(),
        };
    }
    let answer = shared.script.lock().pop_front().unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => match service.as_str() {
            "slack" => (StatusCode::OK, "ok").into_response(),
            "discord" => {
                (StatusCode::OK, axum::Json(json!({"id": "1", "type": 0}))).into_response()
            }
            _ => StatusCode::OK.into_response(),
        },
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            (
                status,
                if service == "slack" {
                    "invalid_payload"
                } else {
                    "error"
                },
            )
                .into_response()
        }
        Answer::SlackRateLimited { retry_after_secs } => {
            let mut headers = HeaderMap::new();
            headers.insert(
                "retry-after",
                HeaderValue::from_str(&retry_after_secs.to_string()).unwrap(),
            );
            (
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                axum::Json(json!({"ok": false, "error": "rate_limited"})),
            )
                .into_response()
        }
        Answer::DiscordRateLimited { retry_after } => {
            let mut headers = HeaderMap::new();
            // Rounded up, as Discord's header is: the body is the exact one.
            headers.insert(
                "retry-after",
                HeaderValue::from_str(&(retry_after.ceil() as u64 + 1).to_string()).unwrap(),
            );
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert(
                "x-ratelimit-reset-after",
                HeaderValue::from_str(&format!("{retry_after:.3}")).unwrap(),
            );
            let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false});
            (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response()
        }
        Answer::DiscordBucketEmpty { reset_after } => {
            let mut headers = HeaderMap::new();
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert(
                "x-ratelimit-reset-after",
                HeaderValue::from_str(&format!("{reset_after:.3}")).unwrap(),
            );
            (
                StatusCode::OK,
                headers,
                axum::Json(json!({"id": "1", "type": 0})),
            )
                .into_response()
        }
        Answer::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
    }
}

fn utf16(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

fn check(violations: &mut Vec<String>, ok: bool, what: impl Into<String>) {
    if !ok {
        violations.push(what.into());
    }
}

/// Slack's Block Kit limits, and the shape of a coloured message.
fn slack_violations(body: &Value) -> Vec<String> {
    let mut v = Vec::new();
    check(&mut v, body["text"].is_string(), "text fallback missing");
    check(&mut v, utf16(&body["text"]) <= 40_000, "text over 40000");
    let blocks = body["attachments"][0]["blocks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check(&mut v, !blocks.is_empty(), "no blocks");
    check(&mut v, blocks.len() <= 50, "more than 50 blocks");
    check(
        &mut v,
        body["attachments"][0]["color"].is_string(),
        "no colour",
    );
    for block in &blocks {
        match block["type"].as_str() {
            Some("header") => {
                check(
                    &mut v,
                    block["text"]["type"] == "plain_text",
                    "header must be plain_text",
                );
                check(
                    &mut v,
                    utf16(&block["text"]["text"]) <= 150,
                    "header over 150",
                );
            }
            Some("section") => {
                check(
                    &mut v,
                    utf16(&block["text"]["text"]) <= 3000,
                    "section text over 3000",
                );
                let fields = block["fields"].as_array().cloned().unwrap_or_default();
                check(&mut v, fields.len() <= 10, "more than 10 fields");
                for f in &fields {
                    check(&mut v, utf16(&f["text"]) <= 2000, "field over 2000");
                }
            }
            Some("context") => {}
            other => v.push(format!("unexpected block type {other:?}")),
        }
    }
    v
}

/// Discord's documented limits, and `?wait=true`.
fn discord_violations(body: &Value, query: Option<&str>) -> Vec<String> {
    let mut v = Vec::new();
    check(
        &mut v,
        query == Some("wait=true"),
        "not posted with ?wait=true",
    );
    check(&mut v, utf16(&body["content"]) <= 2000, "content over 2000");
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    check(&mut v, embeds.len() <= 10, "more than 10 embeds");
    let mut total = 0;
    for e in &embeds {
        check(&mut v, utf16(&e["title"]) <= 256, "title over 256");
        check(
            &mut v,
            utf16(&e["description"]) <= 4096,
            "description over 4096",
        );
        check(
            &mut v,
            utf16(&e["footer"]["text"]) <= 2048,
            "footer over 2048",
        );
        check(
            &mut v,
            utf16(&e["author"]["name"]) <= 256,
            "author over 256",
        );
        total += utf16(&e["title"])
            + utf16(&e["description"])
            + utf16(&e["footer"]["text"])
            + utf16(&e["author"]["name"]);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        check(&mut v, fields.len() <= 25, "more than 25 fields");
        for f in &fields {
            check(
                &mut v,
                utf16(&f["name"]) <= 256 && utf16(&f["name"]) > 0,
                "field name empty or over 256",
            );
            check(
                &mut v,
                utf16(&f["value"]) <= 1024 && utf16(&f["value"]) > 0,
                "field value empty or over 1024",
            );
            total += utf16(&f["name"]) + utf16(&f["value"]);
        }
    }
    check(
        &mut v,
        total <= 6000,
        format!("embeds total {total} over 6000"),
    );
    v
}

/// Alertmanager webhook JSON version 4.
fn webhook_violations(body: &Value) -> Vec<String> {
    let mut v = Vec::new();
    check(&mut v, body["version"] == "4", "version is not \"4\"");
    for key in ["groupKey", "status", "receiver", "externalURL"] {
        check(&mut v, body[key].is_string(), format!("{key} missing"));
    }
    for key in ["groupLabels", "commonLabels", "commonAnnotations"] {
        check(&mut v, body[key].is_object(), format!("{key} missing"));
    }
    check(&mut v, body["alerts"].is_array(), "alerts missing");
    v
}
