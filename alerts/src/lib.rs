//! opsdeck-alerts
