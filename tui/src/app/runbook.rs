//! Running a runbook from the TUI: pick one for the selected shard (or
//! node), read its dry-run plan and blast radius, confirm, follow it.
//!
//! The confirmation dialog opens with Cancel focused, so a stray Enter
//! never starts anything; a destructive runbook also wants the target
//! typed out. Replies from the agent arrive as [`RunbookReply`] events.

use std::collections::BTreeMap;

use crossterm::event::KeyCode;
use opsdeck_agent::api::{AlertState, Snapshot};
use opsdeck_runbooks::format::ParamType;
use opsdeck_runbooks::{ActionRecord, ActionStatus, Risk};

use super::Effect;
use crate::client::actions::{PlanView, RunbookSummary};
use crate::fleet::AgentId;

/// What a runbook will act on: one shard of a node, or the node.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookTarget {
    pub agent: AgentId,
    pub node: String,
    pub shard: Option<String>,
    /// Firing alerts on the target, by name, with their `runbook` annotation.
    pub alerts: BTreeMap<String, Option<String>>,
}

impl RunbookTarget {
    /// The target with the alerts that fire on it: those labelled with the
    /// shard, and node-wide ones (no `shard` label).
    pub fn new(
        agent: AgentId,
        node: &str,
        shard: Option<String>,
        snapshot: Option<&Snapshot>,
    ) -> Self {
        let alerts = snapshot
            .map(|s| s.alerts.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .filter(|a| match (a.labels.get("shard"), &shard) {
                (None, _) => true,
                (Some(label), Some(shard)) => label == shard,
                (Some(_), None) => false,
            })
            .map(|a| (a.name.clone(), a.annotations.get("runbook").cloned()))
            .collect();
        RunbookTarget {
            agent,
            node: node.to_string(),
            shard,
            alerts,
        }
    }

    fn label(&self) -> String {
        match &self.shard {
            Some(shard) => format!("shard {shard} on {}", self.node),
            None => format!("node {}", self.node),
        }
    }
}

/// One runbook offered in the picker.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookChoice {
    pub id: String,
    pub title: String,
    pub risk: Risk,
    /// The firing alert that names this runbook, if any.
    pub suggested_by: Option<String>,
    pub params: BTreeMap<String, String>,
    /// The shard it acts on; `None` for a node-wide runbook.
    pub shard: Option<String>,
}

/// The runbooks that fit the target, those an alert names first. A shard
/// target is offered runbooks that take a shard (filled in) and node-wide
/// ones; a node target only node-wide ones.
pub fn choices(runbooks: &[RunbookSummary], target: &RunbookTarget) -> Vec<RunbookChoice> {
    let mut choices: Vec<RunbookChoice> = runbooks
        .iter()
        .filter_map(|runbook| {
            let shard_param = runbook
                .params
                .iter()
                .find(|(_, spec)| spec.kind == ParamType::Shard)
                .map(|(name, _)| name.clone());
            let mut params = BTreeMap::new();
            match (&shard_param, &target.shard) {
                (Some(name), Some(shard)) => {
                    params.insert(name.clone(), shard.clone());
                }
                (Some(_), None) => return None,
                (None, _) => {}
            }
            let suggested_by = target
                .alerts
                .iter()
                .find(|(name, annotation)| {
                    annotation.as_deref() == Some(runbook.id.as_str())
                        || runbook.alerts.contains(name)
                })
                .map(|(name, _)| name.clone());
            Some(RunbookChoice {
                id: runbook.id.clone(),
                title: runbook.title.clone(),
                risk: runbook.risk,
                suggested_by,
                shard: shard_param.and(target.shard.clone()),
                params,
            })
        })
        .collect();
    // Stable: suggested first, otherwise the agent's order.
    choices.sort_by_key(|c| c.suggested_by.is_none());
    choices
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmButton {
    Cancel,
    Start,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDialog {
    pub choice: RunbookChoice,
    pub plan: PlanView,
    pub focus: ConfirmButton,
    /// What has been typed for a destructive runbook.
    pub typed: String,
    /// What must be typed: the shard id, or the node for a node-wide runbook.
    pub expected: String,
}

impl ConfirmDialog {
    pub fn new(choice: RunbookChoice, plan: PlanView, node: &str) -> Self {
        ConfirmDialog {
            expected: choice.shard.clone().unwrap_or_else(|| node.to_string()),
            choice,
            plan,
            focus: ConfirmButton::Cancel,
            typed: String::new(),
        }
    }

    pub fn needs_typing(&self) -> bool {
        self.plan.risk == Risk::Destructive
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Waiting for the agent's runbook list.
    Loading,
    Picker,
    /// Waiting for the dry run.
    Planning(RunbookChoice),
    Confirm(Box<ConfirmDialog>),
    /// Waiting for the agent to accept the action.
    Starting,
}

/// The picker and confirmation dialog, as one mode.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookFlow {
    pub target: RunbookTarget,
    pub choices: Vec<RunbookChoice>,
    /// The picker's cursor.
    pub selected: usize,
    pub stage: Stage,
    pub error: Option<String>,
}

/// What a key did to the flow.
#[derive(Debug, PartialEq)]
pub enum FlowOutcome {
    Stay,
    Close,
    Request(Effect),
}

impl RunbookFlow {
    pub fn new(target: RunbookTarget) -> Self {
        RunbookFlow {
            target,
            choices: Vec::new(),
            selected: 0,
            stage: Stage::Loading,
            error: None,
        }
    }

    pub fn key(&mut self, code: KeyCode) -> FlowOutcome {
        if code == KeyCode::Esc {
            return FlowOutcome::Close;
        }
        let agent = self.target.agent;
        match &mut self.stage {
            Stage::Loading | Stage::Planning(_) | Stage::Starting => FlowOutcome::Stay,
            Stage::Picker => match code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.selected = self.selected.saturating_sub(1);
                    FlowOutcome::Stay
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    self.selected = (self.selected + 1).min(self.choices.len().saturating_sub(1));
                    FlowOutcome::Stay
                }
                KeyCode::Enter => match self.choices.get(self.selected).cloned() {
                    Some(choice) => {
                        let effect = Effect::DryRun {
                            agent,
                            runbook: choice.id.clone(),
                            params: choice.params.clone(),
                        };
                        self.error = None;
                        self.stage = Stage::Planning(choice);
                        FlowOutcome::Request(effect)
                    }
                    None => FlowOutcome::Stay,
                },
                _ => FlowOutcome::Stay,
            },
            Stage::Confirm(dialog) => {
                match code {
                    KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                        dialog.focus = match dialog.focus {
                            ConfirmButton::Cancel => ConfirmButton::Start,
                            ConfirmButton::Start => ConfirmButton::Cancel,
                        };
                    }
                    KeyCode::Backspace if dialog.needs_typing() => {
                        dialog.typed.pop();
                    }
                    KeyCode::Char(c) if dialog.needs_typing() => dialog.typed.push(c),
                    KeyCode::Enter => return self.choose(),
                    _ => {}
                }
                FlowOutcome::Stay
            }
        }
    }

    /// Enter in the confirmation dialog: the focused button.
    fn choose(&mut self) -> FlowOutcome {
        let Stage::Confirm(dialog) = &self.stage else {
            return FlowOutcome::Stay;
        };
        if dialog.focus == ConfirmButton::Cancel {
            return FlowOutcome::Close;
        }
        let expected = &dialog.expected;
        if dialog.needs_typing() && &dialog.typed != expected {
            self.error = Some(format!(
                "{} is destructive: type {expected:?} to confirm",
                dialog.choice.id
            ));
            return FlowOutcome::Stay;
        }
        let effect = Effect::StartAction {
            agent: self.target.agent,
            node: self.target.node.clone(),
            runbook: dialog.choice.id.clone(),
            params: dialog.choice.params.clone(),
        };
        self.error = None;
        self.stage = Stage::Starting;
        FlowOutcome::Request(effect)
    }

    /// The runbook list arrived.
    pub fn runbooks_loaded(&mut self, result: Result<Vec<RunbookSummary>, String>) {
        match result {
            Ok(runbooks) => {
                self.choices = choices(&runbooks, &self.target);
                if self.choices.is_empty() {
                    self.error = Some(format!(
                        "no runbook on this agent fits {}",
                        self.target.label()
                    ));
                }
            }
            Err(error) => self.error = Some(format!("runbooks: {error}")),
        }
        self.selected = 0;
        self.stage = Stage::Picker;
    }

    /// The dry run came back; a failed one returns to the picker with why.
    pub fn plan_ready(&mut self, result: Result<PlanView, String>) {
        let Stage::Planning(choice) = &self.stage else {
            return;
        };
        match result {
            Ok(plan) => {
                self.stage = Stage::Confirm(Box::new(ConfirmDialog::new(
                    choice.clone(),
                    plan,
                    &self.target.node,
                )))
            }
            Err(error) => {
                self.error = Some(format!("dry run of {}: {error}", choice.id));
                self.stage = Stage::Picker;
            }
        }
    }

    pub fn title(&self) -> String {
        format!(" Runbook for {} ", self.target.label())
    }
}

/// The live progress pane of one action the TUI started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressPane {
    pub agent: AgentId,
    pub node: String,
    pub action: String,
}

/// The audit view: an agent's recent actions.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPane {
    pub agent: AgentId,
    pub node: String,
    /// `None` until the agent answers.
    pub records: Option<Result<Vec<ActionRecord>, String>>,
    pub selected: usize,
    /// The interrupted action whose rollback waits for `y`.
    pub confirm_rollback: Option<String>,
}

impl AuditPane {
    /// The selected action, when an agent restart interrupted it and its
    /// rollback is on offer.
    pub fn rollback_candidate(&self) -> Option<&ActionRecord> {
        let record = self.records.as_ref()?.as_ref().ok()?.get(self.selected)?;
        (record.status == ActionStatus::Interrupted && record.rollback_available).then_some(record)
    }
}

/// An agent's answer to a runbook request.
#[derive(Debug)]
pub enum RunbookReply {
    Runbooks {
        agent: AgentId,
        result: Result<Vec<RunbookSummary>, String>,
    },
    Plan {
        agent: AgentId,
        result: Result<PlanView, String>,
    },
    Started {
        agent: AgentId,
        node: String,
        result: Result<ActionRecord, String>,
    },
    Cancelled {
        result: Result<ActionRecord, String>,
    },
    Audit {
        agent: AgentId,
        result: Result<Vec<ActionRecord>, String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::actions::ParamSummary;

    fn runbook(id: &str, alerts: &[&str], shard_param: bool) -> RunbookSummary {
        RunbookSummary {
            id: id.into(),
            title: id.into(),
            risk: Risk::Disruptive,
            alerts: alerts.iter().map(|a| a.to_string()).collect(),
            params: if shard_param {
                BTreeMap::from([(
                    "shard".to_string(),
                    ParamSummary {
                        kind: ParamType::Shard,
                    },
                )])
            } else {
                BTreeMap::new()
            },
        }
    }

    fn target(alerts: &[(&str, Option<&str>)]) -> RunbookTarget {
        RunbookTarget {
            agent: 0,
            node: "bot-1".into(),
            shard: Some("3".into()),
            alerts: alerts
                .iter()
                .map(|(name, runbook)| (name.to_string(), runbook.map(String::from)))
                .collect(),
        }
    }

    #[test]
    fn an_alert_annotation_names_a_runbook_too() {
        let runbooks = [
            runbook("drain-shard", &[], true),
            runbook("recycle-pool", &[], false),
        ];
        let choices = choices(
            &runbooks,
            &target(&[("PoolSaturated", Some("recycle-pool"))]),
        );
        assert_eq!(choices[0].id, "recycle-pool");
        assert_eq!(choices[0].suggested_by.as_deref(), Some("PoolSaturated"));
        assert_eq!(choices[0].shard, None, "node-wide: nothing filled in");
        assert_eq!(
            choices[1].params.get("shard").map(String::as_str),
            Some("3")
        );
        assert_eq!(choices[1].shard.as_deref(), Some("3"));
    }

    #[test]
    fn destructive_node_wide_runbook_wants_the_node_name() {
        let choice = RunbookChoice {
            id: "restart-node".into(),
            title: String::new(),
            risk: Risk::Destructive,
            suggested_by: None,
            params: BTreeMap::new(),
            shard: None,
        };
        let plan: PlanView = serde_json::from_value(serde_json::json!({
            "runbook": "restart-node", "title": "", "risk": "destructive", "steps": [],
            "blast_radius": {"shards": [], "total_load": 0.0, "unit": "", "max_unavailable": 1}
        }))
        .unwrap();
        let mut flow = RunbookFlow::new(target(&[]));
        flow.stage = Stage::Confirm(Box::new(ConfirmDialog::new(choice, plan, "bot-1")));
        flow.key(KeyCode::Tab);
        for c in "3".chars() {
            flow.key(KeyCode::Char(c));
        }
        assert_eq!(flow.key(KeyCode::Enter), FlowOutcome::Stay);
        flow.key(KeyCode::Backspace);
        for c in "bot-1".chars() {
            flow.key(KeyCode::Char(c));
        }
        assert!(matches!(
            flow.key(KeyCode::Enter),
            FlowOutcome::Request(Effect::StartAction { .. })
        ));
    }
}
