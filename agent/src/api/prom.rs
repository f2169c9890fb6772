//! The Prometheus HTTP API's response shapes, as served by
//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/alerts` and
//! `/api/v1/rules`, so that curl, Grafana and the TUI read an agent the
//! same way they read Prometheus.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The envelope of every Prometheus API response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PromResponse<T> {
    Success {
        data: T,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

/// `data` of a query: `{"resultType": "vector", "result": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "snake_case")]
pub enum QueryData {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSamples>),
    /// `[unix seconds, "value"]`.
    Scalar(PromPoint),
    String((f64, String)),
}

/// A point as Prometheus writes it: unix seconds (float) and the value as a
/// string, so that NaN and ±Inf survive JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(f64, String)", into = "(f64, String)")]
pub struct PromPoint {
    pub t_ms: i64,
    pub value: f64,
}

impl From<(f64, String)> for PromPoint {
    fn from((seconds, value): (f64, String)) -> Self {
        PromPoint {
            t_ms: (seconds * 1000.0).round() as i64,
            value: parse_prom_float(&value),
        }
    }
}

impl From<PromPoint> for (f64, String) {
    fn from(point: PromPoint) -> Self {
        (point.t_ms as f64 / 1000.0, format_prom_float(point.value))
    }
}

/// Formats a value as Prometheus does in JSON (`NaN`, `+Inf`, `-Inf`).
pub fn format_prom_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

fn parse_prom_float(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstantSample {
    pub metric: BTreeMap<String, String>,
    pub value: PromPoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeSamples {
    pub metric: BTreeMap<String, String>,
    pub values: Vec<PromPoint>,
}

/// `data` of `GET /api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsData {
    pub alerts: Vec<PromAlert>,
}

/// One active alert as Prometheus lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
    /// RFC 3339.
    pub active_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// The value as a string, as Prometheus writes it.
    pub value: String,
}

/// `data` of `GET /api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesData {
    pub groups: Vec<PromRuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromRuleGroup {
    pub name: String,
    pub file: String,
    /// Seconds.
    pub interval: f64,
    pub limit: usize,
    pub rules: Vec<PromRule>,
    /// RFC 3339, or Go's zero time when never evaluated.
    pub last_evaluation: String,
    /// Seconds.
    pub evaluation_time: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PromRule {
    #[serde(rename_all = "camelCase")]
    Alerting {
        name: String,
        query: String,
        /// `for`, seconds.
        duration: f64,
        /// Seconds.
        keep_firing_for: f64,
        alerts: Vec<PromAlert>,
        /// `firing`, `pending` or `inactive`.
        state: String,
        /// `ok`, `err` or `unknown` (not evaluated yet).
        health: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
        last_evaluation: String,
        evaluation_time: f64,
    },
    #[serde(rename_all = "camelCase")]
    Recording {
        name: String,
        query: String,
        labels: BTreeMap<String, String>,
        health: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
        last_evaluation: String,
        evaluation_time: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_response_has_prometheus_shape() {
        let response: PromResponse<QueryData> = PromResponse::Success {
            data: QueryData::Vector(vec![InstantSample {
                metric: BTreeMap::from([("__name__".into(), "up".into())]),
                value: PromPoint {
                    t_ms: 1_500,
                    value: f64::INFINITY,
                },
            }]),
            warnings: vec![],
        };
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up"},"value":[1.5,"+Inf"]}]}})
        );
        let back: PromResponse<QueryData> = serde_json::from_value(json).unwrap();
        assert_eq!(back, response);
    }

    #[test]
    fn error_response_has_prometheus_shape() {
        let response: PromResponse<QueryData> = PromResponse::Error {
            error_type: "bad_data".into(),
            error: "parse error".into(),
        };
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status":"error","errorType":"bad_data","error":"parse error"})
        );
    }
}
