//! JSON stats endpoints (an app's `/pool/stats`): each configured JSON
//! pointer becomes a gauge. A missing or non-numeric value is reported
//! with its pointer; the other values of the document are still stored.

use std::sync::Arc;
use std::time::Instant;

use opsdeck_metrics::{Labels, METRIC_NAME};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::fetch::{fetch, FetchError};
use super::{every, now_ms, redacted_url};
use crate::config::JsonStatsConfig;
use crate::state::AgentState;

#[derive(Debug, thiserror::Error)]
enum JsonStatsError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Mapping(String),
}

pub(crate) struct JsonStatsCollector {
    endpoint: JsonStatsConfig,
    client: reqwest::Client,
    state: Arc<AgentState>,
    /// Per metric: its full label set, `__name__` included.
    series: Vec<Labels>,
}

impl JsonStatsCollector {
    pub(crate) fn new(
        endpoint: JsonStatsConfig,
        client: reqwest::Client,
        state: Arc<AgentState>,
    ) -> Self {
        state.register_source(&endpoint.name, &redacted_url(&endpoint.url));
        let series = endpoint
            .metrics
            .iter()
            .map(|metric| {
                let mut labels = Labels::from_pairs(endpoint.labels.iter());
                for (name, value) in &metric.labels {
                    labels.set(name.clone(), value.clone());
                }
                labels.set("job", endpoint.name.clone());
                labels.set(METRIC_NAME, metric.name.clone());
                labels
            })
            .collect();
        JsonStatsCollector {
            endpoint,
            client,
            state,
            series,
        }
    }

    pub(crate) async fn run(self, cancel: CancellationToken) {
        every(self.endpoint.interval, &cancel, || self.collect_once()).await;
        self.state
            .store
            .mark_source_stale(&self.endpoint.name, now_ms());
    }

    async fn collect_once(&self) {
        let started = Instant::now();
        let t = now_ms();
        let result = self.fetch_and_store(t).await;
        let up = if result.is_ok() { 1.0 } else { 0.0 };
        if let Err(err) = &result {
            tracing::warn!(source = %self.endpoint.name, error = %err, "JSON stats collection failed");
        }
        let mut up_labels = Labels::from_pairs(self.endpoint.labels.iter());
        up_labels.set("job", self.endpoint.name.clone());
        up_labels.set(METRIC_NAME, "up");
        if let Err(err) = self.state.store.append(&up_labels, t, up) {
            tracing::debug!(%err, "up not stored");
        }
        self.state.record_scrape(
            &self.endpoint.name,
            t,
            started.elapsed().as_secs_f64(),
            result.map_err(|e| e.to_string()),
        );
    }

    /// Stores what maps; errors name each pointer that did not.
    async fn fetch_and_store(&self, t: i64) -> Result<u64, JsonStatsError> {
        let request = self
            .client
            .get(self.endpoint.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        let mut body = Vec::new();
        let fetched = fetch(
            request,
            self.endpoint.timeout,
            self.endpoint.body_size_limit.bytes(),
            &mut body,
        )
        .await;
        if let Err(err) = fetched {
            self.state.store.mark_source_stale(&self.endpoint.name, t);
            return Err(err.into());
        }
        let document: Value = match serde_json::from_slice(&body) {
            Ok(document) => document,
            Err(err) => {
                self.state.store.mark_source_stale(&self.endpoint.name, t);
                return Err(err.into());
            }
        };
        let (values, problems) = extract(&document, &self.endpoint, &self.series);
        let stored = values.len() as u64;
        self.state
            .store
            .ingest_scrape(&self.endpoint.name, t, values);
        if problems.is_empty() {
            Ok(stored)
        } else {
            Err(JsonStatsError::Mapping(problems.join("; ")))
        }
    }
}

/// The values the pointers find, and a message for each that finds none.
fn extract<'a>(
    document: &Value,
    endpoint: &JsonStatsConfig,
    series: &'a [Labels],
) -> (Vec<(&'a Labels, f64)>, Vec<String>) {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (metric, labels) in endpoint.metrics.iter().zip(series) {
        match document.pointer(&metric.pointer) {
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) => values.push((labels, v)),
                None => problems.push(format!("{}: number out of range", metric.pointer)),
            },
            Some(Value::Bool(b)) => values.push((labels, if *b { 1.0 } else { 0.0 })),
            Some(other) => problems.push(format!(
                "{}: expected a number or boolean, found {}",
                metric.pointer,
                kind(other)
            )),
            None => problems.push(format!("{}: not found", metric.pointer)),
        }
    }
    (values, problems)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JsonMetricConfig;

    #[test]
    fn pointers_map_numbers_and_report_the_rest() {
        let endpoint = JsonStatsConfig {
            name: "pool".into(),
            url: "http://127.0.0.1:1/pool".parse().unwrap(),
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            body_size_limit: crate::config::ByteSize(1024),
            labels: Default::default(),
            metrics: ["/totalCount", "/ready", "/name", "/missing"]
                .iter()
                .map(|p| JsonMetricConfig {
                    name: "x".into(),
                    pointer: p.to_string(),
                    labels: Default::default(),
                })
                .collect(),
        };
        let series = vec![Labels::new(); 4];
        let doc = serde_json::json!({"totalCount": 7, "ready": true, "name": "main"});
        let (values, problems) = extract(&doc, &endpoint, &series);
        let numbers: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        assert_eq!(numbers, vec![7.0, 1.0]);
        assert_eq!(
            problems,
            vec![
                "/name: expected a number or boolean, found a string".to_string(),
                "/missing: not found".to_string()
            ]
        );
    }
}
