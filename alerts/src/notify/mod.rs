//! Alert notifications: routing, grouping, inhibition and silences as in
//! Alertmanager, and durable, rate-limit-aware delivery to Slack, Discord,
//! generic webhooks (Alertmanager webhook JSON v4) and Alertmanager's API.
//!
//! ```text
//! Notifier::ingest ─► dispatcher ─► outbox (redb) ─► one sender per receiver ─► HTTP
//!                     route, group,  written before    pacing, retries, 429s
//!                     silence, inhibit, sending; removed
//!                     notification log  on 2xx
//! ```
//!
//! Documented for users in `docs/notifications.md`.

pub mod alert;
pub mod config;
pub mod delivery;
mod dispatch;
mod inhibit;
pub mod matcher;
mod nflog;
mod notifier;
mod outbox;
pub mod payload;
pub mod probe;
mod route;
pub mod secret;
mod sender;
pub mod silence;
pub mod status;
mod store;

pub use alert::{Alert, AlertStatus, Fingerprint};
pub use config::{NotificationsConfig, ReceiverConfig, ReceiverKind};
pub use matcher::Matcher;
pub use notifier::{Notifier, NotifyError};
pub use secret::Secret;
pub use silence::{NewSilence, Silence, SilenceError, SilenceState, SilenceStore};
pub use status::{DeliveryError, ReceiverStatus};
pub use store::{DatabaseHandle, SharedDatabase, StoreError};

/// Wall-clock Unix milliseconds, the unit of every timestamp here.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
