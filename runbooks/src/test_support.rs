//! A probe over a real series store, for the crate's tests.

use std::collections::BTreeMap;

use opsdeck_metrics::promql::{Engine, Query, Value};
use opsdeck_metrics::{Labels, SeriesStore};

use crate::execute::now_ms;
use crate::probe::{Probe, ProbeSample};

/// The real query engine over a store the test fills.
pub struct StoreProbe(pub SeriesStore);

impl StoreProbe {
    /// `app_shard_status_code{shard}` = `code` for each shard, now.
    pub fn with_shards(codes: &[(&str, f64)]) -> StoreProbe {
        let store = SeriesStore::default();
        for (shard, code) in codes {
            let labels =
                Labels::from_pairs([("__name__", "app_shard_status_code"), ("shard", *shard)]);
            store.append(&labels, now_ms(), *code).unwrap();
        }
        StoreProbe(store)
    }
}

impl Probe for StoreProbe {
    fn query(&self, expr: &str) -> Result<Vec<ProbeSample>, String> {
        let query = Query::parse(expr).map_err(|e| e.to_string())?;
        match Engine::default().instant(&self.0, &query, now_ms()) {
            Ok(Value::Vector(v)) => Ok(v
                .into_iter()
                .map(|s| ProbeSample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                    value: s.v,
                })
                .collect()),
            Ok(Value::Scalar { v, .. }) if v != 0.0 => Ok(vec![ProbeSample {
                labels: BTreeMap::new(),
                value: v,
            }]),
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}
