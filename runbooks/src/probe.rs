//! How runbooks read the live store: a PromQL instant query. The agent
//! implements this over its series store.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub trait Probe: Send + Sync {
    /// Evaluates `expr` now. A scalar comes back as one sample without
    /// labels when non-zero, and as no samples when zero.
    fn query(&self, expr: &str) -> Result<Vec<ProbeSample>, String>;
}
