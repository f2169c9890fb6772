//! Starting, following and stopping actions on this node, with the safety
//! rules: the off switch, one action per shard (a lock), a node-wide cap on
//! unavailable shards, node-wide runbooks exclusive, idempotency keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use opsdeck_runbooks::execute::now_ms;
use opsdeck_runbooks::{
    plan, ActionControl, ActionRecord, ActionStatus, Announcer, Executor, Journal, Observer, Plan,
    PlanError, Runbook, Tracker,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::probe::StoreProbe;
use super::ActionsConfig;
use crate::api::ActionSummary;
use crate::state::AgentState;

/// Actions kept in the snapshot's `actions` list (running ones first).
const SNAPSHOT_ACTIONS: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pub runbook: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The caller already confirmed: `confirm` steps pass.
    #[serde(default)]
    pub confirmed: bool,
}

#[derive(Debug, Serialize)]
pub struct StartResponse {
    /// Absent for a dry run.
    pub action: Option<ActionRecord>,
    pub plan: Option<Plan>,
    /// True when the idempotency key matched an earlier action.
    pub existing: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("actions are disabled in this agent's config (`actions: disabled`)")]
    Disabled,
    #[error("no runbook `{0}` (GET /api/v1/runbooks lists them)")]
    UnknownRunbook(String),
    #[error("no action `{0}`")]
    UnknownAction(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Internal(String),
}

enum Admission {
    Admitted(Tracker),
    Existing(Box<ActionRecord>),
}

struct Live {
    tracker: Tracker,
    control: Arc<ActionControl>,
    /// Empty for a node-wide runbook, which runs alone.
    shards: Vec<String>,
    unavailable: usize,
}

pub struct ActionService {
    config: ActionsConfig,
    trusted: BTreeMap<String, String>,
    runbooks: Vec<Runbook>,
    journal: Journal,
    executor: Arc<Executor>,
    probe: Arc<StoreProbe>,
    live: Mutex<HashMap<String, Live>>,
    state: Arc<AgentState>,
}

/// Finished actions the journal (and so the audit) keeps, newest first.
const JOURNAL_KEEP: usize = 5_000;

impl ActionService {
    /// Opens the journal and marks whatever was running when the agent
    /// last stopped as interrupted.
    pub(crate) fn start(
        config: ActionsConfig,
        app_url: Option<String>,
        node: String,
        db: Arc<redb::Database>,
        state: Arc<AgentState>,
    ) -> Result<Arc<Self>, String> {
        let runbooks =
            opsdeck_runbooks::catalog::load(&config.runbook_dirs).map_err(|e| e.to_string())?;
        let journal = Journal::open(db).map_err(|e| e.to_string())?;
        for record in journal
            .mark_interrupted(now_ms())
            .map_err(|e| e.to_string())?
        {
            tracing::warn!(action = %record.id, runbook = %record.runbook,
                "action interrupted by an agent restart; not resumed (rollback offered)");
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let mut trusted = BTreeMap::new();
        trusted.insert("node".to_string(), node.clone());
        if let Some(url) = app_url {
            trusted.insert("app_url".to_string(), url);
        }
        let probe = Arc::new(StoreProbe {
            store: state.store.clone(),
        });
        let announcer = notice_announcer(state.clone(), node.clone());
        let service = Arc::new(ActionService {
            config,
            trusted,
            runbooks,
            executor: Arc::new(Executor {
                http,
                probe: probe.clone(),
                announcer: Some(announcer),
            }),
            probe,
            journal,
            live: Mutex::new(HashMap::new()),
            state,
        });
        service.prune_journal();
        service.publish();
        Ok(service)
    }

    pub fn runbooks(&self) -> &[Runbook] {
        &self.runbooks
    }

    fn runbook(&self, id: &str) -> Result<&Runbook, ActionError> {
        self.runbooks
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ActionError::UnknownRunbook(id.to_string()))
    }

    fn internal(err: impl std::fmt::Display) -> ActionError {
        ActionError::Internal(err.to_string())
    }

    pub fn start_action(
        self: &Arc<Self>,
        request: StartRequest,
        requested_by: &str,
    ) -> Result<StartResponse, ActionError> {
        if !self.config.enabled {
            return Err(ActionError::Disabled);
        }
        let runbook = self.runbook(&request.runbook)?.clone();
        if let Some(key) = &request.idempotency_key {
            if let Some(existing) = self.find_by_key(key, requested_by, "")? {
                return Ok(StartResponse {
                    action: Some(existing),
                    plan: None,
                    existing: true,
                });
            }
        }
        if !self.trusted.contains_key("app_url") {
            return Err(ActionError::Refused(
                "no app URL: set actions.app_url or a scrape target".into(),
            ));
        }
        let plan = plan(
            &runbook,
            &request.params,
            self.trusted.clone(),
            self.probe.as_ref(),
        )?;
        if request.dry_run {
            return Ok(StartResponse {
                action: None,
                plan: Some(plan),
                existing: false,
            });
        }
        let record = ActionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            runbook: runbook.id.clone(),
            params: plan.params.clone(),
            requested_by: requested_by.to_string(),
            idempotency_key: request.idempotency_key.clone(),
            shards: plan.shards.clone(),
            status: ActionStatus::Pending,
            created_at_ms: now_ms(),
            finished_at_ms: None,
            current_step: None,
            steps: Vec::new(),
            error: None,
            rollback_available: !runbook.rollback.is_empty(),
        };
        let control = Arc::new(ActionControl::new(request.confirmed));
        let tracker = match self.admit(record, &plan, control.clone())? {
            Admission::Admitted(tracker) => tracker,
            // The same key raced this request in: answer with that action.
            Admission::Existing(existing) => {
                return Ok(StartResponse {
                    action: Some(*existing),
                    plan: None,
                    existing: true,
                })
            }
        };
        let id = tracker.snapshot().id;
        let service = self.clone();
        let executor = self.executor.clone();
        let run_plan = plan.clone();
        let finished_id = id.clone();
        tokio::spawn(async move {
            executor.run(run_plan, tracker, control).await;
            service.finished(&finished_id);
        });
        Ok(StartResponse {
            action: Some(self.get(&id)?),
            plan: Some(plan),
            existing: false,
        })
    }

    /// Takes the shard locks and the unavailability budget, or refuses.
    /// The idempotency key is checked again under the lock, so two
    /// requests with one key start one action.
    fn admit(
        self: &Arc<Self>,
        record: ActionRecord,
        plan: &Plan,
        control: Arc<ActionControl>,
    ) -> Result<Admission, ActionError> {
        let mut live = self.live.lock();
        if let Some(key) = &record.idempotency_key {
            if let Some(existing) = self.find_by_key(key, &record.requested_by, &record.id)? {
                return Ok(Admission::Existing(Box::new(existing)));
            }
        }
        if let Some((id, _)) = live.iter().find(|(_, l)| l.shards.is_empty()) {
            return Err(ActionError::Refused(format!(
                "node-wide action {id} is running"
            )));
        }
        if plan.shards.is_empty() {
            if let Some(id) = live.keys().next() {
                return Err(ActionError::Refused(format!(
                    "a node-wide runbook runs alone; action {id} is running"
                )));
            }
        }
        for shard in &plan.shards {
            if let Some((id, _)) = live.iter().find(|(_, l)| l.shards.contains(shard)) {
                return Err(ActionError::Refused(format!(
                    "shard {shard} is locked by action {id}"
                )));
            }
        }
        // A safe runbook (a resume) takes nothing out of service.
        let unavailable = if plan.risk == opsdeck_runbooks::Risk::Safe {
            0
        } else {
            plan.blast_radius.max_unavailable
        };
        let in_use: usize = live.values().map(|l| l.unavailable).sum();
        let cap = self.config.max_unavailable as usize;
        if in_use + unavailable > cap {
            return Err(ActionError::Refused(format!(
                "{in_use} shard(s) already unavailable by other actions; \
                 {unavailable} more would exceed actions.max_unavailable {cap}"
            )));
        }
        let observer: Observer = {
            let service = Arc::downgrade(self);
            Arc::new(move |record: &ActionRecord| {
                if let Some(service) = service.upgrade() {
                    service.observe(record);
                }
            })
        };
        let tracker = Tracker::new(record, self.journal.clone(), Some(observer));
        tracker.update(|_| {});
        let id = tracker.snapshot().id;
        live.insert(
            id,
            Live {
                tracker: tracker.clone(),
                control,
                shards: plan.shards.clone(),
                unavailable,
            },
        );
        Ok(Admission::Admitted(tracker))
    }

    fn finished(&self, id: &str) {
        self.live.lock().remove(id);
        self.prune_journal();
        self.publish();
    }

    fn prune_journal(&self) {
        match self.journal.prune(JOURNAL_KEEP) {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "oldest finished actions pruned from the journal"),
            Err(err) => tracing::warn!(%err, "cannot prune the action journal"),
        }
    }

    /// An action other than `exclude` that `by` started with `key`.
    fn find_by_key(
        &self,
        key: &str,
        by: &str,
        exclude: &str,
    ) -> Result<Option<ActionRecord>, ActionError> {
        let records = self.journal.all().map_err(Self::internal)?;
        Ok(records.into_iter().find(|r| {
            r.idempotency_key.as_deref() == Some(key) && r.requested_by == by && r.id != exclude
        }))
    }

    pub fn get(&self, id: &str) -> Result<ActionRecord, ActionError> {
        if let Some(live) = self.live.lock().get(id) {
            return Ok(live.tracker.snapshot());
        }
        self.journal
            .get(id)
            .map_err(Self::internal)?
            .ok_or_else(|| ActionError::UnknownAction(id.to_string()))
    }

    pub fn cancel(&self, id: &str) -> Result<ActionRecord, ActionError> {
        let live = self.live.lock();
        match live.get(id) {
            Some(l) => {
                l.control.cancel();
                Ok(l.tracker.snapshot())
            }
            None => {
                drop(live);
                let record = self.get(id)?;
                Err(ActionError::Refused(format!(
                    "action {id} is {}, not running",
                    record.status.as_str()
                )))
            }
        }
    }

    pub fn approve(&self, id: &str) -> Result<ActionRecord, ActionError> {
        let live = self.live.lock();
        let l = live
            .get(id)
            .ok_or_else(|| ActionError::Refused(format!("action {id} is not running")))?;
        l.control.approve();
        Ok(l.tracker.snapshot())
    }

    /// Runs the rollback of an interrupted action, under the same locks.
    pub fn rollback(self: &Arc<Self>, id: &str) -> Result<ActionRecord, ActionError> {
        if !self.config.enabled {
            return Err(ActionError::Disabled);
        }
        let record = self.get(id)?;
        if record.status != ActionStatus::Interrupted || !record.rollback_available {
            return Err(ActionError::Refused(format!(
                "action {id} is {}; only an interrupted action's rollback can be run",
                record.status.as_str()
            )));
        }
        let runbook = self.runbook(&record.runbook)?.clone();
        let plan = plan(
            &runbook,
            &record.params,
            self.trusted.clone(),
            self.probe.as_ref(),
        )?;
        let control = Arc::new(ActionControl::new(true));
        let Admission::Admitted(tracker) = self.admit(record, &plan, control)? else {
            return Err(ActionError::Refused(format!(
                "action {id}'s idempotency key belongs to another action"
            )));
        };
        let service = self.clone();
        let executor = self.executor.clone();
        let finished_id = id.to_string();
        tokio::spawn(async move {
            executor.run_rollback(plan, tracker).await;
            service.finished(&finished_id);
        });
        self.get(id)
    }

    pub fn audit(&self, limit: usize) -> Result<Vec<ActionRecord>, ActionError> {
        let mut records = self.journal.all().map_err(Self::internal)?;
        records.truncate(limit);
        Ok(records)
    }

    /// Puts one changed record into the snapshot's `actions` list,
    /// without reading the journal: this runs on every step change.
    fn observe(&self, record: &ActionRecord) {
        let updated = summary(record);
        let mut list = self.state.actions.write();
        match list.iter_mut().find(|a| a.id == updated.id) {
            Some(entry) => *entry = updated,
            None => list.insert(0, updated),
        }
    }

    /// Rebuilds the snapshot's `actions` list from the journal: running ones, then the
    /// most recent finished ones.
    fn publish(&self) {
        // The journal holds every record, live ones included, as of their
        // last change.
        let mut records = match self.journal.all() {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(%err, "snapshot actions not refreshed");
                return;
            }
        };
        records.sort_by_key(|r| (r.status.is_terminal(), std::cmp::Reverse(r.created_at_ms)));
        records.truncate(SNAPSHOT_ACTIONS);
        *self.state.actions.write() = records.iter().map(summary).collect();
    }
}

fn summary(record: &ActionRecord) -> ActionSummary {
    ActionSummary {
        id: record.id.clone(),
        runbook: record.runbook.clone(),
        status: record.status.as_str().to_string(),
        started_at_ms: record.created_at_ms,
        step: record.current_step.clone(),
        requested_by: record.requested_by.clone(),
    }
}

/// Runbook `notify` steps go to the receivers the notifier routes them
/// to, labelled with this node as well (nowhere once it has shut down).
fn notice_announcer(state: Arc<AgentState>, node: String) -> Announcer {
    Arc::new(move |mut labels, message| {
        labels.insert("node".to_string(), node.clone());
        state
            .notifier
            .lock()
            .as_ref()
            .map(|notifier| notifier.announce(labels, message))
            .unwrap_or_default()
    })
}
