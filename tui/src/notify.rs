//! Desktop notifications for critical alerts that start firing while the
//! dashboard is open. Off by default; failures (no notification daemon,
//! no D-Bus) are logged and otherwise ignored.

use std::collections::HashSet;

use opsdeck_agent::api::AlertState;

use crate::fleet::FleetState;
use crate::rows::severity_rank;

/// Remembers which critical alerts were already seen firing, so each is
/// announced once.
#[derive(Debug, Default)]
pub struct CriticalAlertWatch {
    seen: HashSet<String>,
    /// Alerts already firing when the dashboard opened are not announced.
    primed: HashSet<usize>,
}

/// One alert worth a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCritical {
    pub node: String,
    pub alert: String,
    pub summary: Option<String>,
}

impl CriticalAlertWatch {
    /// Returns the critical alerts firing now that were not firing (as far
    /// as this watch knows) before. An agent's first snapshot only primes
    /// the watch.
    pub fn observe(&mut self, fleet: &FleetState) -> Vec<NewCritical> {
        let mut fresh = Vec::new();
        for (id, agent) in fleet.agents.iter().enumerate() {
            let Some(snapshot) = &agent.snapshot else {
                continue;
            };
            let first_look = self.primed.insert(id);
            for alert in &snapshot.alerts {
                if alert.state != AlertState::Firing
                    || alert.silenced
                    || severity_rank(alert.severity.as_deref()) != 0
                {
                    continue;
                }
                let labels: Vec<String> = alert
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let key = format!("{id}\u{0}{}\u{0}{}", alert.name, labels.join(","));
                if self.seen.insert(key) && !first_look {
                    fresh.push(NewCritical {
                        node: agent.name().to_string(),
                        alert: alert.name.clone(),
                        summary: alert.annotations.get("summary").cloned(),
                    });
                }
            }
        }
        fresh
    }
}

/// Shows one notification. Blocking (it may talk to D-Bus), so callers run
/// it off the UI thread.
pub fn show(alert: &NewCritical) {
    let result = notify_rust::Notification::new()
        .appname("opsdeck")
        .summary(&format!("CRITICAL {} on {}", alert.alert, alert.node))
        .body(alert.summary.as_deref().unwrap_or(""))
        .show();
    if let Err(error) = result {
        tracing::warn!(%error, "desktop notification failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{alert, mixed_fleet};

    #[test]
    fn announces_only_new_critical_alerts() {
        let mut fleet = mixed_fleet();
        let mut watch = CriticalAlertWatch::default();
        assert!(
            watch.observe(&fleet).is_empty(),
            "alerts firing at start-up are not announced"
        );
        let snapshot = fleet.agents[0].snapshot.as_mut().unwrap();
        snapshot.alerts.push(alert(
            "HeapExhausted",
            "critical",
            AlertState::Firing,
            None,
            1_000,
        ));
        snapshot
            .alerts
            .push(alert("Slow", "warning", AlertState::Firing, None, 1_000));
        let fresh = watch.observe(&fleet);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].alert, "HeapExhausted");
        assert_eq!(fresh[0].node, "bot-1");
        assert!(watch.observe(&fleet).is_empty(), "announced once");
    }
}
