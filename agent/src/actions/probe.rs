//! Runbook checks read the agent's own store through its PromQL engine,
//! the same definitions the alert rules and the snapshot use.

use std::sync::Arc;

use opsdeck_metrics::promql::{Engine, Query, Value};
use opsdeck_metrics::SeriesStore;
use opsdeck_runbooks::{Probe, ProbeSample};

pub(crate) struct StoreProbe {
    pub store: Arc<SeriesStore>,
}

impl Probe for StoreProbe {
    fn query(&self, expr: &str) -> Result<Vec<ProbeSample>, String> {
        let query = Query::parse(expr).map_err(|e| e.to_string())?;
        let now = crate::collect::now_ms();
        let value = Engine::default()
            .instant(self.store.as_ref(), &query, now)
            .map_err(|e| e.to_string())?;
        Ok(match value {
            Value::Vector(samples) => samples
                .into_iter()
                .map(|s| ProbeSample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    value: s.v,
                })
                .collect(),
            Value::Scalar { v, .. } if v != 0.0 && !v.is_nan() => vec![ProbeSample {
                labels: Default::default(),
                value: v,
            }],
            Value::Scalar { .. } | Value::String { .. } => Vec::new(),
            Value::Matrix(_) => return Err(format!("{expr}: a range vector is not a condition")),
        })
    }
}
