//! opsdeck-alerts: Prometheus rule files, the alert state machine, alert
//! templates and promtool-compatible rule checks and unit tests.
//!
//! The agent builds an [`Evaluator`], calls [`Evaluator::eval_due`] on its
//! interval, reads [`Evaluator::alerts`], and persists
//! [`Evaluator::snapshot`] to hand back to [`Evaluator::restore`] after a
//! restart.

pub mod check;
pub mod duration;
pub mod evaluator;
pub mod notify;
pub mod rulefmt;
pub mod rules;
pub mod state;
pub mod template;
pub mod unittest;

pub use evaluator::{AlertView, Evaluator, EvaluatorOptions};
pub use rules::{Alert, AlertState, RuleGroup};
pub use state::{RestoreOptions, StateSnapshot};

/// opsdeck's default rule pack (`alerts/rules/*.yml`): `(file name,
/// contents)`. Their promtool tests are in `alerts/rules/tests/`.
pub const DEFAULT_RULE_PACK: &[(&str, &str)] = &[
    ("runtime.yml", include_str!("../rules/runtime.yml")),
    ("http.yml", include_str!("../rules/http.yml")),
    ("pools.yml", include_str!("../rules/pools.yml")),
    ("shards.yml", include_str!("../rules/shards.yml")),
    ("targets.yml", include_str!("../rules/targets.yml")),
];
