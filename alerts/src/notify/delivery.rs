//! One HTTP attempt to a receiver, and what its answer means: delivered,
//! rate limited (wait exactly as told), transient (back off and retry) or
//! permanent (give up and report). The URL never appears in a message.

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, StatusCode};

use super::config::ReceiverKind;
use super::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// HTTP 429 with a hint: send nothing to this webhook for `wait`.
    RateLimited {
        status: u16,
        wait: Duration,
    },
    /// 5xx, 408, a 429 without a hint, a timeout or a connection error.
    Transient {
        reason: String,
    },
    /// Any other 4xx, or a request that cannot be built: retrying
    /// would fail the same way.
    Permanent {
        status: Option<u16>,
        reason: String,
    },
}

/// An attempt's outcome and how long to leave the webhook alone before
/// the next message, when the service said so (Discord's buckets).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub outcome: Outcome,
    pub pause: Option<Duration>,
}

/// The address to post to for a receiver kind.
pub fn endpoint(kind: ReceiverKind, url: &Secret) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(url.expose()).map_err(|e| format!("invalid URL: {e}"))?;
    match kind {
        ReceiverKind::Discord => {
            // Without wait=true Discord answers 204 before validating, so
            // a message it drops would look delivered.
            if !url.query_pairs().any(|(k, _)| k == "wait") {
                url.query_pairs_mut().append_pair("wait", "true");
            }
        }
        ReceiverKind::Alertmanager => {
            let path = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        ReceiverKind::Slack | ReceiverKind::Webhook => {}
    }
    Ok(url)
}

pub async fn attempt(client: &Client, kind: ReceiverKind, url: &Secret, body: &[u8]) -> Attempt {
    let endpoint = match endpoint(kind, url) {
        Ok(endpoint) => endpoint,
        Err(reason) => {
            return Attempt {
                outcome: Outcome::Permanent {
                    status: None,
                    reason,
                },
                pause: None,
            }
        }
    };
    let response = client
        .post(endpoint)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(err) => {
            let kind_of = if err.is_timeout() {
                "timed out"
            } else if err.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            // The causes say what went wrong ("Connection refused");
            // the URL is stripped, it is a secret.
            let err = err.without_url();
            let mut reason = format!("{kind_of}: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                reason.push_str(": ");
                reason.push_str(&cause.to_string());
                source = cause.source();
            }
            return Attempt {
                outcome: Outcome::Transient { reason },
                pause: None,
            };
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let pause = (kind == ReceiverKind::Discord)
        .then(|| discord_bucket_pause(&headers))
        .flatten();
    // Error bodies are short JSON or text; read a little for the reason.
    let text = if status.is_success() {
        String::new()
    } else {
        response.text().await.unwrap_or_default()
    };
    let outcome = classify(kind, status, &headers, &text);
    Attempt { outcome, pause }
}

fn classify(kind: ReceiverKind, status: StatusCode, headers: &HeaderMap, body: &str) -> Outcome {
    let code = status.as_u16();
    if status.is_success() {
        return Outcome::Delivered { status: code };
    }
    let reason = || {
        format!(
            "HTTP {code}: {}",
            body.chars().take(300).collect::<String>().trim()
        )
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return match rate_limit_wait(kind, headers, body) {
            Some(wait) => Outcome::RateLimited { status: code, wait },
            None => Outcome::Transient { reason: reason() },
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Outcome::Transient { reason: reason() };
    }
    Outcome::Permanent {
        status: Some(code),
        reason: reason(),
    }
}

/// The wait a 429 asks for. Discord: the JSON `retry_after` (float
/// seconds), else `X-RateLimit-Reset-After`, else `Retry-After`. Slack
/// and the rest: `Retry-After` in seconds.
pub fn rate_limit_wait(kind: ReceiverKind, headers: &HeaderMap, body: &str) -> Option<Duration> {
    let header_secs = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let secs = match kind {
        ReceiverKind::Discord => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
            .or_else(|| header_secs("x-ratelimit-reset-after"))
            .or_else(|| header_secs(RETRY_AFTER.as_str())),
        _ => header_secs(RETRY_AFTER.as_str()),
    }?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Discord says when a bucket is empty: `X-RateLimit-Remaining: 0` and
/// `X-RateLimit-Reset-After` seconds until it refills.
fn discord_bucket_pause(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if get("x-ratelimit-remaining")? != "0" {
        return None;
    }
    let secs: f64 = get("x-ratelimit-reset-after")?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn reads_each_services_rate_limit_hint() {
        let discord_body =
            r#"{"message":"You are being rate limited.","retry_after":0.642,"global":false}"#;
        let h = headers(&[("retry-after", "1"), ("x-ratelimit-reset-after", "0.9")]);
        assert_eq!(
            rate_limit_wait(ReceiverKind::Discord, &h, discord_body),
            Some(Duration::from_millis(642))
        );
        assert_eq!(
            rate_limit_wait(ReceiverKind::Discord, &h, ""),
            Some(Duration::from_millis(900))
        );
        let slack_body = r#"{"ok":false,"error":"rate_limited"}"#;
        assert_eq!(
            rate_limit_wait(ReceiverKind::Slack, &h, slack_body),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            rate_limit_wait(ReceiverKind::Slack, &HeaderMap::new(), slack_body),
            None
        );
    }

    #[test]
    fn classifies_statuses() {
        let none = HeaderMap::new();
        assert_eq!(
            classify(ReceiverKind::Slack, StatusCode::OK, &none, ""),
            Outcome::Delivered { status: 200 }
        );
        assert!(matches!(
            classify(ReceiverKind::Slack, StatusCode::BAD_GATEWAY, &none, ""),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            classify(ReceiverKind::Slack, StatusCode::BAD_REQUEST, &none, "invalid_blocks"),
            Outcome::Permanent { status: Some(400), reason } if reason.contains("invalid_blocks")
        ));
        assert!(matches!(
            classify(
                ReceiverKind::Webhook,
                StatusCode::TOO_MANY_REQUESTS,
                &none,
                ""
            ),
            Outcome::Transient { .. }
        ));
    }

    #[test]
    fn discord_posts_wait_true_and_alertmanager_its_api_path() {
        let url = endpoint(
            ReceiverKind::Discord,
            &Secret::new("https://d.example/api/webhooks/1/x"),
        )
        .unwrap();
        assert_eq!(url.query(), Some("wait=true"));
        let url = endpoint(
            ReceiverKind::Alertmanager,
            &Secret::new("http://127.0.0.1:9093/"),
        )
        .unwrap();
        assert_eq!(url.path(), "/api/v2/alerts");
    }
}
