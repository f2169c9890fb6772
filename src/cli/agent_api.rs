//! The agent's HTTP API as the command line uses it: where the agent is
//! (`--agent`, `--token`) and JSON calls with errors that say what to do.

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where the agent is and how to authenticate.
#[derive(Debug, clap::Args)]
pub struct AgentTarget {
    /// Agent base URL, e.g. http://127.0.0.1:9464.
    #[arg(long, value_name = "URL")]
    pub agent: String,
    /// Bearer token. Changes (silences, actions) need an operator token;
    /// reads need a viewer token only when the agent listens beyond
    /// loopback.
    #[arg(
        long,
        env = "OPSDECK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

/// One agent's `/api/v1/...` routes.
pub struct AgentApi {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl AgentApi {
    pub fn new(target: &AgentTarget) -> anyhow::Result<AgentApi> {
        let base = Url::parse(&target.agent)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .with_context(|| format!("--agent {:?}: expected an http(s) URL", target.agent))?;
        Ok(AgentApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .context("HTTP client")?,
            base,
            token: target.token.clone(),
        })
    }

    /// `api/v1/<segments>` under the agent's URL; each segment (an id
    /// included) is percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> anyhow::Result<T> {
        self.call(Method::GET, segments, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, segments, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, segments: &[&str]) -> anyhow::Result<T> {
        self.call(Method::DELETE, segments, None::<&()>).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<T> {
        let changes = method != Method::GET;
        let mut request = self.http.request(method, self.url(segments));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("cannot reach the agent at {}", self.base))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {}", self.base))?;
        if !status.is_success() {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            let hint = match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if changes => {
                    " (this needs an operator token: --token or OPSDECK_TOKEN)"
                }
                StatusCode::UNAUTHORIZED => " (give a token: --token or OPSDECK_TOKEN)",
                _ => "",
            };
            bail!(
                "the agent at {} answered {status}: {message}{hint}",
                self.base
            );
        }
        serde_json::from_str(&text)
            .with_context(|| format!("unexpected answer from the agent at {}", self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded_under_the_base_path() {
        let target = AgentTarget {
            agent: "http://127.0.0.1:9464/prefix/".into(),
            token: None,
        };
        let api = AgentApi::new(&target).unwrap();
        assert_eq!(
            api.url(&["silences", "a/b?c"]).as_str(),
            "http://127.0.0.1:9464/prefix/api/v1/silences/a%2Fb%3Fc"
        );
        assert_eq!(
            api.url(&["silences"]).as_str(),
            "http://127.0.0.1:9464/prefix/api/v1/silences"
        );
        let bad = AgentTarget {
            agent: "127.0.0.1:9464".into(),
            token: None,
        };
        assert!(AgentApi::new(&bad).is_err());
    }
}
