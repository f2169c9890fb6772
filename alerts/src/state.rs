//! Alert state that survives a restart. The agent stores a
//! [`StateSnapshot`] in its database and hands it back on start-up.
//!
//! Pending alerts get Prometheus's `ALERTS_FOR_STATE` treatment: time spent
//! pending before the outage counts, the outage itself does not, and an
//! alert never fires sooner than `for_grace_period` after the restart.
//! Firing alerts come back firing, with their `keep_firing_for` clock, which
//! Prometheus does not restore (prometheus#13957). Resolved alerts come back
//! too, so their resolution is still reported.

use std::collections::BTreeMap;

use opsdeck_metrics::Labels;
use serde::{Deserialize, Serialize};

use crate::rules::{Alert, AlertState, Rule, RuleGroup};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub group: String,
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
}

/// Every alert of every group at one moment (milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    pub saved_at: i64,
    pub alerts: Vec<AlertSnapshot>,
}

#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// A snapshot older than this is ignored (Prometheus's
    /// `rules.alert.for-outage-tolerance`, 1 h).
    pub outage_tolerance_ms: i64,
    /// The least time a restored pending alert waits before firing
    /// (`rules.alert.for-grace-period`, 10 m).
    pub for_grace_period_ms: i64,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            outage_tolerance_ms: 60 * 60 * 1000,
            for_grace_period_ms: 10 * 60 * 1000,
        }
    }
}

pub fn snapshot_groups<'a>(
    groups: impl IntoIterator<Item = &'a RuleGroup>,
    saved_at: i64,
) -> StateSnapshot {
    let mut alerts = Vec::new();
    for group in groups {
        for entry in group.rules() {
            let Rule::Alerting(rule) = &entry.rule else {
                continue;
            };
            for alert in rule.alerts() {
                alerts.push(AlertSnapshot {
                    group: group.name().to_string(),
                    rule: rule.name().to_string(),
                    labels: alert
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    annotations: alert.annotations.clone(),
                    state: alert.state,
                    value: alert.value,
                    active_at: alert.active_at,
                    fired_at: alert.fired_at,
                    resolved_at: alert.resolved_at,
                    keep_firing_since: alert.keep_firing_since,
                });
            }
        }
    }
    StateSnapshot { saved_at, alerts }
}

/// Puts the snapshot's alerts back into the groups' rules (matched by group
/// and rule name) as of `now`. Returns how many alerts were restored.
pub fn restore_groups<'a>(
    groups: impl IntoIterator<Item = &'a mut RuleGroup>,
    snapshot: &StateSnapshot,
    now: i64,
    options: RestoreOptions,
) -> usize {
    if now - snapshot.saved_at > options.outage_tolerance_ms {
        return 0;
    }
    let mut restored = 0;
    for group in groups {
        let group_name = group.name().to_string();
        for entry in group.rules_mut() {
            let Rule::Alerting(rule) = &mut entry.rule else {
                continue;
            };
            let hold = rule.hold_ms();
            let rule_name = rule.name().to_string();
            for saved in snapshot
                .alerts
                .iter()
                .filter(|a| a.group == group_name && a.rule == rule_name)
            {
                let mut alert = Alert {
                    labels: Labels::from_pairs(saved.labels.clone()),
                    annotations: saved.annotations.clone(),
                    state: saved.state,
                    value: saved.value,
                    active_at: saved.active_at,
                    fired_at: saved.fired_at,
                    resolved_at: saved.resolved_at,
                    keep_firing_since: saved.keep_firing_since,
                };
                if alert.state == AlertState::Pending {
                    alert.active_at =
                        restored_active_at(saved.active_at, snapshot.saved_at, now, hold, options);
                }
                rule.active_mut().insert(alert.labels.clone(), alert);
                restored += 1;
            }
        }
    }
    restored
}

/// Prometheus's `RestoreForState` arithmetic for a pending alert.
fn restored_active_at(
    active_at: i64,
    down_at: i64,
    now: i64,
    hold: i64,
    options: RestoreOptions,
) -> i64 {
    if hold < options.for_grace_period_ms {
        // A `for` shorter than the grace period restarts, as in Prometheus.
        return now;
    }
    let remaining = hold - (down_at - active_at);
    if remaining <= 0 {
        active_at
    } else if remaining < options.for_grace_period_ms {
        now + options.for_grace_period_ms - hold
    } else {
        active_at + (now - down_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn outage_does_not_count_towards_for() {
        let o = RestoreOptions::default();
        // 20m into a 60m `for`, down for 30m: 40m still to go after restart.
        assert_eq!(
            restored_active_at(0, 20 * MIN, 50 * MIN, 60 * MIN, o),
            30 * MIN
        );
        // 55m into a 60m `for`: fires no sooner than the grace period.
        assert_eq!(
            restored_active_at(0, 55 * MIN, 60 * MIN, 60 * MIN, o),
            60 * MIN + 10 * MIN - 60 * MIN
        );
        // Already past `for`: unchanged.
        assert_eq!(restored_active_at(0, 70 * MIN, 80 * MIN, 60 * MIN, o), 0);
        // Short `for`: restarts.
        assert_eq!(restored_active_at(0, 2 * MIN, 3 * MIN, 5 * MIN, o), 3 * MIN);
    }
}
