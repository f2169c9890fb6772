//! `/api/v1/query` and `/api/v1/query_range`, with the Prometheus HTTP
//! API's parameters (GET query string or POST form) and response shapes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opsdeck_metrics::promql::{Engine, Query, RangeSeries, Value};
use opsdeck_metrics::{Labels, SeriesStore};

use crate::api::prom::{InstantSample, PromPoint, PromResponse, QueryData, RangeSamples};
use crate::collect::now_ms;

/// Prometheus refuses range queries with more points per series than this.
const MAX_POINTS: i64 = 11_000;
/// Upper bound on one query's evaluation time.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "bad_data",
            message: message.into(),
        }
    }

    fn execution(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error_type: "execution",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body: PromResponse<QueryData> = PromResponse::Error {
            error_type: self.error_type.into(),
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// The request's parameters from the query string and, for POST, the
/// form body; the body wins, as in Prometheus.
struct Params(BTreeMap<String, String>);

impl Params {
    fn new(query: Option<String>, body: &[u8]) -> Self {
        let mut params: BTreeMap<String, String> = query
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        params.extend(url::form_urlencoded::parse(body).into_owned());
        Params(params)
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::bad_data(format!("missing parameter {name:?}")))
    }

    /// A time as unix seconds (float) or RFC 3339; `None` when absent.
    fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.0.get(name) else {
            return Ok(None);
        };
        if let Ok(seconds) = text.parse::<f64>() {
            if seconds.is_finite() {
                return Ok(Some((seconds * 1000.0).round() as i64));
            }
        }
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| {
                ApiError::bad_data(format!(
                    "invalid parameter {name:?}: {text:?} is not a unix time or RFC 3339 time"
                ))
            })
    }

    /// A duration as float seconds or a Prometheus duration (`15s`, `1m`).
    fn duration_ms(&self, name: &str) -> Result<i64, ApiError> {
        let text = self.required(name)?;
        let ms = match text.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() => (seconds * 1000.0).round() as i64,
            _ => humantime::parse_duration(text)
                .map(|d| d.as_millis() as i64)
                .map_err(|_| {
                    ApiError::bad_data(format!(
                        "invalid parameter {name:?}: {text:?} is not a duration"
                    ))
                })?,
        };
        if ms <= 0 {
            return Err(ApiError::bad_data(format!(
                "invalid parameter {name:?}: zero or negative step is not accepted"
            )));
        }
        Ok(ms)
    }
}

fn parse_query(params: &Params) -> Result<Query, ApiError> {
    Query::parse(params.required("query")?).map_err(|err| ApiError::bad_data(err.to_string()))
}

/// Runs the engine off the async workers, bounded in time.
async fn evaluate<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, opsdeck_metrics::promql::QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    let task = tokio::task::spawn_blocking(work);
    match tokio::time::timeout(QUERY_TIMEOUT, task).await {
        Err(_) => Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error_type: "timeout",
            message: format!("query timed out after {QUERY_TIMEOUT:?}"),
        }),
        Ok(Err(join)) => Err(ApiError::execution(format!("query failed: {join}"))),
        Ok(Ok(result)) => result.map_err(|err| ApiError::execution(err.to_string())),
    }
}

pub(crate) async fn instant(
    State(store): State<Arc<SeriesStore>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<PromResponse<QueryData>>, ApiError> {
    let params = Params::new(query, &body);
    let q = parse_query(&params)?;
    let t = params.time("time")?.unwrap_or_else(now_ms);
    let value = evaluate(move || Engine::default().instant(store.as_ref(), &q, t)).await?;
    Ok(Json(success(instant_data(value))))
}

pub(crate) async fn range(
    State(store): State<Arc<SeriesStore>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<PromResponse<QueryData>>, ApiError> {
    let params = Params::new(query, &body);
    let q = parse_query(&params)?;
    let start = params
        .time("start")?
        .ok_or_else(|| ApiError::bad_data("missing parameter \"start\""))?;
    let end = params
        .time("end")?
        .ok_or_else(|| ApiError::bad_data("missing parameter \"end\""))?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = params.duration_ms("step")?;
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(format!(
            "exceeded maximum resolution of {MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)"
        )));
    }
    let series =
        evaluate(move || Engine::default().range(store.as_ref(), &q, start, end, step)).await?;
    Ok(Json(success(QueryData::Matrix(
        series.into_iter().map(range_samples).collect(),
    ))))
}

fn success(data: QueryData) -> PromResponse<QueryData> {
    PromResponse::Success {
        data,
        warnings: Vec::new(),
    }
}

fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

fn range_samples(series: RangeSeries) -> RangeSamples {
    RangeSamples {
        metric: label_map(&series.labels),
        values: series
            .samples
            .iter()
            .map(|s| PromPoint {
                t_ms: s.t,
                value: s.v,
            })
            .collect(),
    }
}

fn instant_data(value: Value) -> QueryData {
    match value {
        Value::Scalar { t, v } => QueryData::Scalar(PromPoint { t_ms: t, value: v }),
        Value::String { t, s } => QueryData::String((t as f64 / 1000.0, s)),
        Value::Vector(samples) => QueryData::Vector(
            samples
                .into_iter()
                .map(|s| InstantSample {
                    metric: label_map(&s.labels),
                    value: PromPoint {
                        t_ms: s.t,
                        value: s.v,
                    },
                })
                .collect(),
        ),
        Value::Matrix(series) => QueryData::Matrix(series.into_iter().map(range_samples).collect()),
    }
}
