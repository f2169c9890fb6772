//! opsdeck-alerts: Prometheus rule files, the alert state machine, alert
//! templates and promtool-compatible rule unit tests.

pub mod duration;
pub mod notify;
pub mod template;
