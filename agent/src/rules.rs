//! Alert and recording rules: the alerts crate's evaluator, driven over
//! the store as collections land (each group runs when its interval has
//! passed, on the scrape nearest its due time), with its state saved to the database after each evaluation and
//! restored at start, so `for` survives a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_alerts::notify::{self, SilenceStore};
use opsdeck_alerts::rules::Rule;
use opsdeck_alerts::{Alert, AlertState as RuleAlertState, Evaluator, EvaluatorOptions};
use opsdeck_alerts::{RestoreOptions, StateSnapshot};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::api::prom::{PromAlert, PromRule, PromRuleGroup};
use crate::api::{AlertState, AlertSummary};
use crate::collect::now_ms;
use crate::config::{AgentConfig, ConfigError, RulesConfig};
use crate::persist;
use crate::state::AgentState;

/// The longest the rule loop sleeps without groups to run (it wakes for
/// every collection anyway).
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// The longest the first evaluation waits for the first collections.
const FIRST_COLLECTION_WAIT: Duration = Duration::from_secs(10);
/// The database document holding the alert state.
const STATE_DOCUMENT: &str = "alerts";

/// Loads the default pack (unless disabled) and the configured files.
/// Every rule file error is reported, with its file and position.
pub(crate) fn build_evaluator(config: &RulesConfig) -> Result<Evaluator, ConfigError> {
    let mut evaluator = Evaluator::new(EvaluatorOptions {
        default_interval_ms: config.interval.as_millis() as i64,
        hold_speedup: config.hold_speedup,
        concurrency: config.concurrency,
        ..EvaluatorOptions::default()
    });
    let report = |key: String, errors: Vec<opsdeck_alerts::rulefmt::RuleFileError>| {
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        ConfigError::invalid(key, messages.join("; "))
    };
    if config.default_pack {
        evaluator
            .add_default_pack()
            .map_err(|e| report("rules.default_pack".into(), e))?;
    }
    for (i, file) in config.files.iter().enumerate() {
        evaluator
            .add_file(file)
            .map_err(|e| report(format!("rules.files[{i}]"), e))?;
    }
    Ok(evaluator)
}

/// Puts the last saved alert state back, if any.
pub(crate) fn restore(evaluator: &mut Evaluator, db: &persist::Store) {
    let saved = match db.document(STATE_DOCUMENT) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(%err, "cannot read the saved alert state");
            return;
        }
    };
    match serde_json::from_slice::<StateSnapshot>(&saved) {
        Ok(snapshot) => {
            let restored = evaluator.restore(&snapshot, now_ms(), RestoreOptions::default());
            tracing::info!(restored, "alert state restored");
        }
        Err(err) => tracing::warn!(%err, "saved alert state is unreadable; starting afresh"),
    }
}

/// Runs rule groups right after a collection lands when they are due
/// within `early`, so an alert fires on the scrape that shows its
/// condition instead of up to an evaluation interval later. Without a
/// collection it sleeps until a group is overdue by `early` (or a tenth
/// of its interval, if less) and runs it then, which keeps evaluations
/// just after scrapes rather than racing them.
/// See [`Evaluator::eval_due_early`].
pub(crate) async fn run(
    state: Arc<AgentState>,
    db: Arc<persist::Store>,
    early: Duration,
    cancel: CancellationToken,
) {
    // Rules like `absent(up)` would go pending if evaluated before the
    // first scrapes landed: wait for them, within reason.
    let deadline = tokio::time::Instant::now() + FIRST_COLLECTION_WAIT;
    while !state.all_sources_collected() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let early_ms = i64::try_from(early.as_millis()).unwrap_or(i64::MAX);
    let mut saved_empty = false;
    loop {
        // Asleep until a group is due (held by `early`) or samples land:
        // no polling between evaluations.
        let next_due = state.rules.lock().next_due(-early_ms);
        let wait = next_due.map_or(IDLE_WAIT, |due| {
            Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0))
                .min(IDLE_WAIT)
        });
        let early_ms = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => -early_ms,
            _ = state.fresh_samples.notified() => early_ms,
        };
        evaluate(&state, &db, early_ms, &mut saved_empty);
    }
}

/// One pass over the due groups; hands their alerts to the notifier and
/// saves the alert state when any group ran. `saved_empty` tells whether
/// the state saved last held no alerts: restoring an empty state does
/// nothing, so another empty one is not written, and an agent without
/// alerts does not commit to its database every evaluation.
fn evaluate(state: &AgentState, db: &persist::Store, early_ms: i64, saved_empty: &mut bool) {
    let now = now_ms();
    let snapshot = {
        let mut evaluator = state.rules.lock();
        let ran = evaluator.eval_due_early(&state.store, now, early_ms);
        if ran > 0 {
            if let Some(notifier) = state.notifier.lock().as_ref() {
                notifier.ingest(notifications(&evaluator, now));
            }
        }
        (ran > 0)
            .then(|| evaluator.snapshot(now))
            .filter(|snapshot| !(*saved_empty && snapshot.alerts.is_empty()))
    };
    let Some(snapshot) = snapshot else { return };
    match serde_json::to_vec(&snapshot) {
        Ok(bytes) => match db.set_document(STATE_DOCUMENT, &bytes) {
            Ok(()) => *saved_empty = snapshot.alerts.is_empty(),
            Err(err) => tracing::warn!(%err, "cannot save the alert state"),
        },
        Err(err) => tracing::warn!(%err, "alert state does not serialize"),
    }
}

/// How far a group's evaluation may move to sit just after a collection:
/// half the shortest collection interval, so that with scrapes every `s`
/// an evaluation lands on the one scrape nearest its due time, jitter of
/// up to `s`/2 included. Zero without scraped sources.
pub(crate) fn early_margin(config: &AgentConfig) -> Duration {
    let scrapes = config.scrape.iter().map(|t| t.interval);
    let json = config.json_stats.iter().map(|e| e.interval);
    scrapes.chain(json).min().map_or(Duration::ZERO, |s| s / 2)
}

/// What the notifier is told after an evaluation: firing alerts, which
/// expire unless re-sent (as Prometheus sends them, ends = now + 4 ×
/// the longest group interval), and resolved ones while the evaluator
/// keeps them (15 minutes). Pending alerts are not notified.
fn notifications(evaluator: &Evaluator, now: i64) -> Vec<notify::Alert> {
    let longest = evaluator
        .groups()
        .iter()
        .map(|g| g.interval_ms())
        .max()
        .unwrap_or(0);
    evaluator
        .alerts()
        .into_iter()
        .filter_map(|view| {
            let alert = view.alert;
            let (status, ends_at_ms) = match alert.state {
                RuleAlertState::Firing => (notify::AlertStatus::Firing, Some(now + 4 * longest)),
                RuleAlertState::Inactive => (notify::AlertStatus::Resolved, alert.resolved_at),
                RuleAlertState::Pending => return None,
            };
            Some(notify::Alert {
                labels: labels_map(alert),
                annotations: alert.annotations.clone(),
                status,
                starts_at_ms: alert.fired_at.unwrap_or(alert.active_at),
                ends_at_ms,
                value: Some(alert.value),
                generator_url: None,
            })
        })
        .collect()
}

fn labels_map(alert: &Alert) -> BTreeMap<String, String> {
    alert
        .labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// Pending and firing alerts for the snapshot, marked when a silence
/// mutes them.
pub(crate) fn active_alerts(
    evaluator: &Mutex<Evaluator>,
    silences: Option<&SilenceStore>,
    now: i64,
) -> Vec<AlertSummary> {
    let evaluator = evaluator.lock();
    evaluator
        .alerts()
        .into_iter()
        .filter_map(|view| {
            let alert = view.alert;
            let state = match alert.state {
                RuleAlertState::Pending => AlertState::Pending,
                RuleAlertState::Firing => AlertState::Firing,
                RuleAlertState::Inactive => return None,
            };
            let labels = labels_map(alert);
            let silenced = silences.is_some_and(|s| s.muting(&labels, now).is_some());
            Some(AlertSummary {
                name: view.rule.to_string(),
                state,
                severity: alert.labels.get("severity").map(str::to_string),
                labels,
                annotations: alert.annotations.clone(),
                value: alert.value,
                active_at_ms: alert.active_at,
                fired_at_ms: alert.fired_at,
                silenced,
            })
        })
        .collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Prometheus writes Go's zero time for "never".
const NEVER: &str = "0001-01-01T00:00:00Z";

fn prom_alert(alert: &Alert) -> PromAlert {
    PromAlert {
        labels: labels_map(alert),
        annotations: alert.annotations.clone(),
        state: alert.state.as_str().to_string(),
        active_at: rfc3339(alert.active_at),
        keep_firing_since: alert.keep_firing_since.map(rfc3339),
        value: crate::api::prom::format_prom_float(alert.value),
    }
}

/// `/api/v1/alerts`: pending and firing alerts.
pub(crate) fn prom_alerts(evaluator: &Mutex<Evaluator>) -> Vec<PromAlert> {
    let evaluator = evaluator.lock();
    evaluator
        .alerts()
        .into_iter()
        .filter(|view| view.alert.state != RuleAlertState::Inactive)
        .map(|view| prom_alert(view.alert))
        .collect()
}

/// `/api/v1/rules`: every group and rule with its health.
pub(crate) fn prom_rules(evaluator: &Mutex<Evaluator>) -> Vec<PromRuleGroup> {
    let evaluator = evaluator.lock();
    evaluator
        .groups()
        .iter()
        .map(|group| {
            let rules: Vec<PromRule> = group
                .rules()
                .iter()
                .map(|entry| {
                    let health = match (&entry.last_error, entry.last_eval) {
                        (Some(_), _) => "err",
                        (None, Some(_)) => "ok",
                        (None, None) => "unknown",
                    }
                    .to_string();
                    let last_error = entry.last_error.as_ref().map(ToString::to_string);
                    let last_evaluation = entry.last_eval.map(rfc3339).unwrap_or(NEVER.into());
                    match &entry.rule {
                        Rule::Alerting(rule) => {
                            let alerts: Vec<PromAlert> =
                                rule.active_alerts().map(prom_alert).collect();
                            let state = if alerts.iter().any(|a| a.state == "firing") {
                                "firing"
                            } else if alerts.is_empty() {
                                "inactive"
                            } else {
                                "pending"
                            };
                            PromRule::Alerting {
                                name: rule.name().to_string(),
                                query: rule.query().text().to_string(),
                                duration: rule.hold_ms() as f64 / 1000.0,
                                keep_firing_for: rule.keep_firing_for_ms() as f64 / 1000.0,
                                alerts,
                                state: state.to_string(),
                                health,
                                last_error,
                                last_evaluation,
                                evaluation_time: entry.last_duration_s,
                            }
                        }
                        Rule::Recording(rule) => PromRule::Recording {
                            name: rule.name().to_string(),
                            query: rule.query().text().to_string(),
                            labels: rule.labels().clone(),
                            health,
                            last_error,
                            last_evaluation,
                            evaluation_time: entry.last_duration_s,
                        },
                    }
                })
                .collect();
            PromRuleGroup {
                name: group.name().to_string(),
                file: group.file().display().to_string(),
                interval: group.interval_ms() as f64 / 1000.0,
                limit: group.limit(),
                evaluation_time: group.rules().iter().map(|r| r.last_duration_s).sum(),
                last_evaluation: group.last_eval().map(rfc3339).unwrap_or(NEVER.into()),
                rules,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_loads_and_a_bad_file_names_itself() {
        let evaluator = build_evaluator(&RulesConfig::default()).unwrap();
        assert!(!evaluator.groups().is_empty());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yml");
        std::fs::write(
            &file,
            "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: 'sum('\n",
        )
        .unwrap();
        let config = RulesConfig {
            default_pack: false,
            files: vec![file],
            interval: Duration::from_secs(1),
            ..RulesConfig::default()
        };
        let err = build_evaluator(&config).err().unwrap().to_string();
        assert!(
            err.contains("rules.files[0]") && err.contains("bad.yml"),
            "{err}"
        );
    }
}
