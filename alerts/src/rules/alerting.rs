//! An alerting rule and its alerts' lifecycle, as Prometheus runs it:
//! inactive → pending → firing → resolved, with `for` and
//! `keep_firing_for`; a pending alert whose series vanishes is dropped at
//! once; resolved alerts are kept for 15 minutes so they can be re-sent.

use std::collections::{BTreeMap, HashMap};

use opsdeck_metrics::promql::{Query, VectorSample};
use opsdeck_metrics::{Labels, METRIC_NAME};
use serde::{Deserialize, Serialize};

use super::RuleError;
use crate::template::{AlertContext, AlertTemplate, TemplateQuerier};

/// How long a resolved alert is kept (and reported) after it resolves.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved: no longer active, kept until the retention passes.
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert: a label set produced by a rule. Times are milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The sample's labels without `__name__`, plus the rule's labels and
    /// `alertname`.
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// The value of the expression at the last evaluation that returned it.
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// Since when the series has been missing while `keep_firing_for` holds
    /// the alert firing.
    pub keep_firing_since: Option<i64>,
}

/// What templates need besides the sample.
pub struct TemplateEnv<'a> {
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    pub querier: &'a dyn TemplateQuerier,
}

#[derive(Debug, Clone)]
pub struct AlertingRule {
    name: String,
    query: Query,
    hold_ms: i64,
    keep_firing_for_ms: i64,
    labels: Vec<(String, AlertTemplate)>,
    annotations: Vec<(String, AlertTemplate)>,
    active: HashMap<Labels, Alert>,
}

impl AlertingRule {
    pub fn new(
        name: &str,
        query: Query,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<AlertingRule, RuleError> {
        let compile =
            |map: &BTreeMap<String, String>| -> Result<Vec<(String, AlertTemplate)>, RuleError> {
                map.iter()
                    .map(|(k, v)| {
                        AlertTemplate::parse(name, v)
                            .map(|t| (k.clone(), t))
                            .map_err(|e| RuleError::Template(k.clone(), e))
                    })
                    .collect()
            };
        Ok(AlertingRule {
            name: name.to_string(),
            query,
            hold_ms,
            keep_firing_for_ms,
            labels: compile(labels)?,
            annotations: compile(annotations)?,
            active: HashMap::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    pub fn hold_ms(&self) -> i64 {
        self.hold_ms
    }

    pub fn keep_firing_for_ms(&self) -> i64 {
        self.keep_firing_for_ms
    }

    /// Every alert this rule tracks (pending, firing, and resolved within
    /// the retention), ordered by labels.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut alerts: Vec<&Alert> = self.active.values().collect();
        alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
        alerts
    }

    /// Pending and firing alerts, as Prometheus's `ActiveAlerts`.
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
    }

    pub(crate) fn active_mut(&mut self) -> &mut HashMap<Labels, Alert> {
        &mut self.active
    }

    /// Advances the alerts with the expression's result at `ts` and
    /// returns the `ALERTS` and `ALERTS_FOR_STATE` samples to record.
    pub fn eval(
        &mut self,
        result: Vec<VectorSample>,
        ts: i64,
        limit: usize,
        env: &TemplateEnv<'_>,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let mut current: HashMap<Labels, Alert> = HashMap::with_capacity(result.len());
        for sample in result {
            let alert = self.build_alert(sample, ts, env);
            if current.contains_key(&alert.labels) {
                return Err(RuleError::DuplicateAlertLabels);
            }
            current.insert(alert.labels.clone(), alert);
        }

        for (labels, fresh) in &current {
            match self.active.get_mut(labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = fresh.value;
                    existing.annotations = fresh.annotations.clone();
                }
                _ => {
                    self.active.insert(labels.clone(), fresh.clone());
                }
            }
        }

        let mut out = Vec::new();
        let mut active_count = 0;
        let keep_firing_for = self.keep_firing_for_ms;
        let hold = self.hold_ms;
        self.active.retain(|labels, alert| {
            if !current.contains_key(labels) {
                let keep_firing = alert.state == AlertState::Firing
                    && keep_firing_for > 0
                    && ts - *alert.keep_firing_since.get_or_insert(ts) < keep_firing_for;
                let expired = alert
                    .resolved_at
                    .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS);
                if alert.state == AlertState::Pending || expired {
                    return false;
                }
                if !keep_firing {
                    if alert.state != AlertState::Inactive {
                        alert.state = AlertState::Inactive;
                        alert.resolved_at = Some(ts);
                    }
                    return true;
                }
            } else {
                alert.keep_firing_since = None;
            }
            active_count += 1;
            if alert.state == AlertState::Pending && ts - alert.active_at >= hold {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(ts);
            }
            out.push(alerts_sample(alert));
            out.push(for_state_sample(alert));
            true
        });
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(RuleError::AlertLimit {
                limit,
                count: active_count,
            });
        }
        Ok(out)
    }

    fn build_alert(&self, sample: VectorSample, ts: i64, env: &TemplateEnv<'_>) -> Alert {
        let template_labels: BTreeMap<String, String> = sample
            .labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        let ctx = AlertContext::new(
            template_labels,
            env.external_labels,
            env.external_url,
            sample.v,
            Some(env.querier),
        );
        let mut labels = sample.labels.without_metric_name();
        for (name, template) in &self.labels {
            labels.set(name.clone(), template.expand(&ctx));
        }
        labels.set("alertname", self.name.clone());
        let annotations = self
            .annotations
            .iter()
            .map(|(name, template)| (name.clone(), template.expand(&ctx)))
            .collect();
        Alert {
            labels,
            annotations,
            state: AlertState::Pending,
            value: sample.v,
            active_at: ts,
            fired_at: None,
            resolved_at: None,
            keep_firing_since: None,
        }
    }
}

/// The series an alerting rule writes for each active alert, and for its
/// `for` state.
pub(super) const ALERTS_METRIC: &str = "ALERTS";
pub(super) const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

fn alerts_sample(alert: &Alert) -> (Labels, f64) {
    let mut labels = alert.labels.clone();
    labels.set(METRIC_NAME, ALERTS_METRIC);
    labels.set("alertstate", alert.state.as_str());
    (labels, 1.0)
}

fn for_state_sample(alert: &Alert) -> (Labels, f64) {
    let mut labels = alert.labels.clone();
    labels.set(METRIC_NAME, ALERTS_FOR_STATE_METRIC);
    (labels, (alert.active_at / 1000) as f64)
}
