//! The notification log: per receiver and group, which alerts the last
//! notification reported firing and resolved, and when. It decides
//! whether a group flush must notify, exactly as Alertmanager's dedup
//! stage does, and it is persisted so that a restart does not re-notify.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alert::Fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct NflogEntry {
    pub firing: BTreeSet<Fingerprint>,
    pub resolved: BTreeSet<Fingerprint>,
    /// Unix milliseconds of the notification.
    pub at_ms: i64,
}

/// The key of a group's entry: `receiver \0 group key`.
pub(crate) fn key(receiver: &str, group_key: &str) -> String {
    format!("{receiver}\0{group_key}")
}

/// Alertmanager's `needsUpdate`.
pub(crate) fn needs_update(
    last: Option<&NflogEntry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    send_resolved: bool,
    repeat_interval: Duration,
    now_ms: i64,
) -> bool {
    let Some(last) = last else {
        // Never notified: only when something fires.
        return !firing.is_empty();
    };
    if !firing.is_subset(&last.firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the receiver only if it heard about
        // something firing (done whatever send_resolved says, so that the
        // log forgets the firing alerts).
        return !last.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&last.resolved) {
        return true;
    }
    let repeat_ms = i64::try_from(repeat_interval.as_millis()).unwrap_or(i64::MAX);
    last.at_ms.saturating_add(repeat_ms) <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(fps: &[u64]) -> BTreeSet<Fingerprint> {
        fps.iter().map(|f| Fingerprint(*f)).collect()
    }

    #[test]
    fn follows_alertmanager_dedup_rules() {
        let hour = Duration::from_secs(3600);
        assert!(needs_update(None, &set(&[1]), &set(&[]), false, hour, 0));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, hour, 0));
        let last = NflogEntry {
            firing: set(&[1, 2]),
            resolved: set(&[]),
            at_ms: 0,
        };
        // Same or fewer firing, within the repeat interval: quiet.
        assert!(!needs_update(
            Some(&last),
            &set(&[1, 2]),
            &set(&[]),
            true,
            hour,
            1000
        ));
        // A new firing alert.
        assert!(needs_update(
            Some(&last),
            &set(&[1, 3]),
            &set(&[]),
            false,
            hour,
            1000
        ));
        // One resolved: only with send_resolved.
        assert!(needs_update(
            Some(&last),
            &set(&[1]),
            &set(&[2]),
            true,
            hour,
            1000
        ));
        assert!(!needs_update(
            Some(&last),
            &set(&[1]),
            &set(&[2]),
            false,
            hour,
            1000
        ));
        // All resolved: always, to clear the log.
        assert!(needs_update(
            Some(&last),
            &set(&[]),
            &set(&[1, 2]),
            false,
            hour,
            1000
        ));
        // The repeat interval passed.
        assert!(needs_update(
            Some(&last),
            &set(&[1, 2]),
            &set(&[]),
            false,
            hour,
            3_600_000
        ));
    }
}
