//! The executor: runs a plan step by step, checking guards and alerts
//! between steps, with per-step timeouts, retries with backoff and failure
//! routing; runs the rollback after a failure routed to it or a cancel.
//! Every change to the record is written to the journal at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::format::{OnFailure, StepAction};
use crate::journal::Journal;
use crate::plan::{evaluate_check, Plan, PlannedStep};
use crate::probe::Probe;
use crate::record::{bounded, ActionRecord, ActionStatus, StepRecord, StepResult};
use crate::template::{self, Context};

/// A step without `timeout` gets this long.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a caller steers a running action.
#[derive(Default)]
pub struct ActionControl {
    cancel: CancellationToken,
    approved: AtomicBool,
    approval: Notify,
}

impl ActionControl {
    /// `pre_approved`: the caller already confirmed (CLI `--yes`, a TUI dialog).
    pub fn new(pre_approved: bool) -> Self {
        let control = ActionControl::default();
        control.approved.store(pre_approved, Ordering::Release);
        control
    }

    /// Stops the action between steps (waits are cut short) and rolls back.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Lets the action past its `confirm` steps.
    pub fn approve(&self) {
        self.approved.store(true, Ordering::Release);
        self.approval.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Told of every change to a record (the agent's live snapshot list).
pub type Observer = Arc<dyn Fn(&ActionRecord) + Send + Sync>;

/// The record as shared by the executor and readers; every update is
/// persisted, then shown to the observer.
#[derive(Clone)]
pub struct Tracker {
    pub record: Arc<Mutex<ActionRecord>>,
    journal: Journal,
    observer: Option<Observer>,
}

impl Tracker {
    pub fn new(record: ActionRecord, journal: Journal, observer: Option<Observer>) -> Self {
        Tracker {
            record: Arc::new(Mutex::new(record)),
            journal,
            observer,
        }
    }

    pub fn update(&self, change: impl FnOnce(&mut ActionRecord)) {
        let snapshot = {
            let mut record = self.record.lock();
            change(&mut record);
            record.clone()
        };
        if let Err(err) = self.journal.save(&snapshot) {
            tracing::error!(%err, action = %snapshot.id, "action journal not written");
        }
        if let Some(observer) = &self.observer {
            observer(&snapshot);
        }
    }

    pub fn snapshot(&self) -> ActionRecord {
        self.record.lock().clone()
    }
}

/// Sends a `notify` step's message, labelled with the runbook and the
/// action, to the receivers those labels route to; returns their names.
pub type Announcer = Arc<dyn Fn(BTreeMap<String, String>, String) -> Vec<String> + Send + Sync>;

pub struct Executor {
    pub http: reqwest::Client,
    pub probe: Arc<dyn Probe>,
    /// `None` where no notifications are configured: notices are logged.
    pub announcer: Option<Announcer>,
}

enum Outcome {
    Done,
    Failed(String, OnFailure),
    Cancelled,
}

impl Executor {
    /// Runs `plan` to the end; the final state is in the tracker.
    pub async fn run(&self, plan: Plan, tracker: Tracker, control: Arc<ActionControl>) {
        tracker.update(|r| r.status = ActionStatus::Running);
        let failing_pre = plan
            .preconditions
            .iter()
            .map(|c| evaluate_check(c, "precondition", &plan.base_vars, self.probe.as_ref()))
            .find(|c| !c.holds);
        if let Some(check) = failing_pre {
            return finish(
                &tracker,
                ActionStatus::Failed,
                Some(format!(
                    "precondition `{}` does not hold ({}); nothing was run",
                    check.name, check.value
                )),
            );
        }

        let mut touched = BTreeSet::new();
        // Nothing to undo until a main step has started.
        let mut started_any = false;
        let mut outcome = Outcome::Done;
        for planned in &plan.steps {
            if control.is_cancelled() {
                outcome = Outcome::Cancelled;
                break;
            }
            if let Some(reason) = self.stop_reason(&plan) {
                outcome = Outcome::Failed(reason, OnFailure::Rollback);
                break;
            }
            started_any = true;
            if let Some(target) = &planned.target {
                touched.insert(target.clone());
            }
            match self.run_step(planned, "main", &tracker, &control).await {
                Ok(()) => {}
                Err(StepError::Cancelled) => {
                    outcome = Outcome::Cancelled;
                    break;
                }
                Err(StepError::Failed(_)) if planned.step.on_failure == OnFailure::Continue => {}
                Err(StepError::Failed(message)) => {
                    outcome = Outcome::Failed(
                        format!("step `{}` failed: {message}", planned.name),
                        planned.step.on_failure,
                    );
                    break;
                }
            }
        }

        match outcome {
            Outcome::Done => finish(&tracker, ActionStatus::Succeeded, None),
            Outcome::Failed(reason, _) if !started_any => finish(
                &tracker,
                ActionStatus::Failed,
                Some(format!("{reason}; nothing was run")),
            ),
            Outcome::Cancelled if !started_any => finish(
                &tracker,
                ActionStatus::Cancelled,
                Some("cancelled before any step ran".into()),
            ),
            Outcome::Failed(reason, OnFailure::Rollback) if !plan.rollback.is_empty() => {
                self.rollback(&plan, &touched, &tracker).await;
                finish(&tracker, ActionStatus::RolledBack, Some(reason));
            }
            Outcome::Failed(reason, _) => finish(&tracker, ActionStatus::Failed, Some(reason)),
            Outcome::Cancelled => {
                self.rollback(&plan, &touched, &tracker).await;
                finish(
                    &tracker,
                    ActionStatus::Cancelled,
                    Some("cancelled; rollback run".into()),
                );
            }
        }
    }

    /// Runs only the rollback (offered after an interruption).
    pub async fn run_rollback(&self, plan: Plan, tracker: Tracker) {
        let all: BTreeSet<String> = plan.shards.iter().cloned().collect();
        self.rollback(&plan, &all, &tracker).await;
        finish(&tracker, ActionStatus::RolledBack, None);
    }

    /// Rollback steps of touched targets (and target-less ones); a failing
    /// rollback step does not stop the others.
    async fn rollback(&self, plan: &Plan, touched: &BTreeSet<String>, tracker: &Tracker) {
        tracker.update(|r| {
            r.status = ActionStatus::RollingBack;
            r.rollback_available = false;
        });
        // Rollback is not cancellable: it is what a cancel asks for.
        let control = Arc::new(ActionControl::new(true));
        for planned in &plan.rollback {
            if planned
                .target
                .as_ref()
                .is_some_and(|t| !touched.contains(t))
            {
                continue;
            }
            let _ = self.run_step(planned, "rollback", tracker, &control).await;
        }
    }

    /// A failing guard or a firing abort alert, checked between steps.
    fn stop_reason(&self, plan: &Plan) -> Option<String> {
        for guard in &plan.guards {
            let value = evaluate_check(guard, "guard", &plan.base_vars, self.probe.as_ref());
            if !value.holds {
                return Some(format!("guard `{}` failed ({})", guard.name, value.value));
            }
        }
        for alert in &plan.abort_on_alerts {
            let mut vars = plan.base_vars.clone();
            vars.params.insert("__alert".into(), alert.clone());
            let expr = template::render(
                r#"ALERTS{alertstate="firing",alertname="{{ __alert }}"}"#,
                Context::Promql,
                &vars,
            );
            if let Ok(expr) = expr {
                if self.probe.query(&expr).is_ok_and(|s| !s.is_empty()) {
                    return Some(format!("alert {alert} is firing"));
                }
            }
        }
        None
    }

    async fn run_step(
        &self,
        planned: &PlannedStep,
        phase: &str,
        tracker: &Tracker,
        control: &ActionControl,
    ) -> Result<(), StepError> {
        let index = {
            let mut index = 0;
            tracker.update(|r| {
                r.current_step = Some(planned.name.clone());
                r.steps.push(StepRecord {
                    name: planned.name.clone(),
                    kind: planned.kind.to_string(),
                    phase: phase.to_string(),
                    target: planned.target.clone(),
                    started_at_ms: now_ms(),
                    ended_at_ms: None,
                    attempts: 0,
                    result: StepResult::Running,
                    output: String::new(),
                });
                index = r.steps.len() - 1;
            });
            index
        };
        let step = &planned.step;
        let timeout = step.timeout.unwrap_or(DEFAULT_STEP_TIMEOUT);
        let mut backoff = step.backoff.unwrap_or(Duration::from_secs(1));
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            tracker.update(|r| r.steps[index].attempts = attempt);
            let result = match tokio::time::timeout(
                timeout,
                self.attempt(planned, tracker, control),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(StepError::Failed(format!(
                    "timed out after {}",
                    humantime::format_duration(timeout)
                ))),
            };
            match result {
                Err(StepError::Failed(message)) if attempt <= step.retries => {
                    tracing::info!(step = %planned.name, attempt, %message, "step failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = control.cancel.cancelled() => break Err(StepError::Cancelled),
                    }
                    backoff = backoff.saturating_mul(2);
                }
                other => break other,
            }
        };
        let (step_result, output) = match &result {
            Ok(output) => (StepResult::Succeeded, output.clone()),
            Err(StepError::Failed(m)) if step.on_failure == OnFailure::Continue => {
                (StepResult::FailedContinued, m.clone())
            }
            Err(StepError::Failed(m)) => (StepResult::Failed, m.clone()),
            Err(StepError::Cancelled) => (StepResult::Failed, "cancelled".to_string()),
        };
        tracker.update(|r| {
            let record = &mut r.steps[index];
            record.ended_at_ms = Some(now_ms());
            record.result = step_result;
            record.output = bounded(&output);
            r.current_step = None;
            if r.status == ActionStatus::AwaitingConfirmation {
                r.status = ActionStatus::Running;
            }
        });
        result.map(|_| ())
    }

    async fn attempt(
        &self,
        planned: &PlannedStep,
        tracker: &Tracker,
        control: &ActionControl,
    ) -> Result<String, StepError> {
        let vars = &planned.vars;
        let render = |text: &str, context| {
            template::render(text, context, vars).map_err(|e| StepError::Failed(e.to_string()))
        };
        let actions = planned.step.actions();
        let Some(action) = actions.first() else {
            return Err(StepError::Failed("the step sets no kind".into()));
        };
        match *action {
            StepAction::Http(http) => {
                let url = render(&http.url, Context::Url)?;
                let method = reqwest::Method::from_bytes(http.method.as_bytes())
                    .map_err(|e| StepError::Failed(e.to_string()))?;
                let mut request = self.http.request(method, &url);
                for (name, value) in &http.headers {
                    request = request.header(name, render(value, Context::Text)?);
                }
                if let Some(body) = &http.body {
                    let body = template::render_json(body, vars)
                        .map_err(|e| StepError::Failed(e.to_string()))?;
                    request = request.json(&body);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| StepError::Failed(format!("{url}: {e}")))?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let expected = if http.expect_status.is_empty() {
                    status.is_success()
                } else {
                    http.expect_status.contains(&status.as_u16())
                };
                let output = format!("{} {url} → {status}: {}", http.method, text.trim());
                if expected {
                    Ok(output)
                } else {
                    Err(StepError::Failed(output))
                }
            }
            StepAction::Exec(exec) => {
                let argv = exec
                    .argv
                    .iter()
                    .map(|a| render(a, Context::Text))
                    .collect::<Result<Vec<_>, _>>()?;
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| StepError::Failed("empty argv".into()))?;
                let mut command = tokio::process::Command::new(program);
                command
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true);
                for (name, value) in &exec.env {
                    command.env(name, render(value, Context::Text)?);
                }
                let output = command
                    .output()
                    .await
                    .map_err(|e| StepError::Failed(format!("{program}: {e}")))?;
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                if output.status.success() {
                    Ok(text)
                } else {
                    Err(StepError::Failed(format!("{}: {text}", output.status)))
                }
            }
            StepAction::WaitUntil(wait) => {
                let expr = render(&wait.expr, Context::Promql)?;
                loop {
                    match self.probe.query(&expr) {
                        Ok(samples) if !samples.is_empty() => {
                            return Ok(format!("{expr} holds"));
                        }
                        Ok(_) => {}
                        Err(err) => return Err(StepError::Failed(format!("{expr}: {err}"))),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait.poll) => {}
                        _ = control.cancel.cancelled() => return Err(StepError::Cancelled),
                    }
                }
            }
            StepAction::Sleep(sleep) => {
                let text = render(&sleep.duration, Context::Text)?;
                let duration = humantime::parse_duration(&text)
                    .map_err(|e| StepError::Failed(format!("{text:?}: {e}")))?;
                tokio::select! {
                    _ = tokio::time::sleep(duration) => Ok(String::new()),
                    _ = control.cancel.cancelled() => Err(StepError::Cancelled),
                }
            }
            StepAction::Confirm(confirm) => {
                let prompt = render(&confirm.prompt, Context::Text)?;
                if !control.approved.load(Ordering::Acquire) {
                    tracker.update(|r| r.status = ActionStatus::AwaitingConfirmation);
                }
                loop {
                    let notified = control.approval.notified();
                    if control.approved.load(Ordering::Acquire) {
                        return Ok(format!("confirmed: {prompt}"));
                    }
                    tokio::select! {
                        _ = notified => {}
                        _ = control.cancel.cancelled() => return Err(StepError::Cancelled),
                    }
                }
            }
            StepAction::Notify(notify) => {
                let message = render(&notify.message, Context::Text)?;
                let (action, runbook) = {
                    let record = tracker.record.lock();
                    (record.id.clone(), record.runbook.clone())
                };
                tracing::info!(%action, %message, "runbook notice");
                let labels = BTreeMap::from([
                    ("action".to_string(), action),
                    ("runbook".to_string(), runbook),
                ]);
                let receivers = match &self.announcer {
                    Some(announce) => announce(labels, message.clone()),
                    None => Vec::new(),
                };
                Ok(if receivers.is_empty() {
                    format!("{message} (no receiver routes notices; logged only)")
                } else {
                    format!("{message} (sent to {})", receivers.join(", "))
                })
            }
        }
    }
}

#[derive(Debug)]
enum StepError {
    Failed(String),
    Cancelled,
}

fn finish(tracker: &Tracker, status: ActionStatus, error: Option<String>) {
    tracker.update(|r| {
        r.status = status;
        r.error = error;
        r.current_step = None;
        r.finished_at_ms = Some(now_ms());
    });
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use opsdeck_metrics::SeriesStore;

    use super::*;
    use crate::record::StepResult;
    use crate::test_support::StoreProbe;

    const RUNBOOK: &str = r#"
id: t
title: T
description: d
risk: safe
params:
  reason: { type: string, required: true }
steps:
  - name: echo
    exec: { argv: [printf, '%s|', '{{ reason }}', 'x'] }
  - name: flaky
    retries: 2
    backoff: 10ms
    on_failure: continue
    exec: { argv: ['false'] }
  - name: broken
    on_failure: rollback
    exec: { argv: ['false'] }
  - name: never
    notify: { message: unreachable }
rollback:
  - name: undo
    notify: { message: 'undo {{ reason }}' }
"#;

    fn new_record(params: BTreeMap<String, String>) -> ActionRecord {
        ActionRecord {
            id: "a1".into(),
            runbook: "t".into(),
            params,
            requested_by: "test".into(),
            idempotency_key: None,
            shards: Vec::new(),
            status: ActionStatus::Pending,
            created_at_ms: now_ms(),
            finished_at_ms: None,
            current_step: None,
            steps: Vec::new(),
            error: None,
            rollback_available: true,
        }
    }

    /// What an announcer was asked to send: labels and message.
    type Announced = Arc<Mutex<Vec<(BTreeMap<String, String>, String)>>>;

    /// Runs `runbook` over `store` to the end; the journal's record and
    /// the notices announced (to one receiver, `chat`).
    async fn run(
        runbook: &str,
        params: BTreeMap<String, String>,
        store: SeriesStore,
    ) -> (ActionRecord, Announced) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(redb::Database::create(dir.path().join("t.redb")).unwrap());
        let journal = Journal::open(db).unwrap();
        let runbook = crate::load::parse("t.yaml", runbook).unwrap();
        let probe = Arc::new(StoreProbe(store));
        let plan = crate::plan::plan(&runbook, &params, BTreeMap::new(), probe.as_ref()).unwrap();
        let tracker = Tracker::new(new_record(params), journal.clone(), None);
        let announced = Announced::default();
        let seen = announced.clone();
        let executor = Executor {
            http: reqwest::Client::new(),
            probe,
            announcer: Some(Arc::new(move |labels, message| {
                seen.lock().push((labels, message));
                vec!["chat".to_string()]
            })),
        };
        executor
            .run(plan, tracker, Arc::new(ActionControl::new(false)))
            .await;
        (journal.get("a1").unwrap().unwrap(), announced)
    }

    #[tokio::test]
    async fn argv_is_inert_retries_continue_and_failure_rolls_back() {
        let hostile = "$(id); rm -rf ../x `true`";
        let params = BTreeMap::from([("reason".to_string(), hostile.to_string())]);
        let (record, announced) = run(RUNBOOK, params, SeriesStore::default()).await;
        assert_eq!(record.status, ActionStatus::RolledBack, "{record:?}");
        let steps: Vec<(&str, StepResult, u32)> = record
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.result, s.attempts))
            .collect();
        assert_eq!(
            steps,
            [
                ("echo", StepResult::Succeeded, 1),
                ("flaky", StepResult::FailedContinued, 3),
                ("broken", StepResult::Failed, 1),
                ("undo", StepResult::Succeeded, 1),
            ]
        );
        // One argv element each, no shell: the hostile text comes back verbatim.
        assert_eq!(record.steps[0].output, format!("{hostile}|x|"));
        assert_eq!(
            record.steps[3].output,
            format!("undo {hostile} (sent to chat)")
        );
        let labels = BTreeMap::from([
            ("action".to_string(), "a1".to_string()),
            ("runbook".to_string(), "t".to_string()),
        ]);
        assert_eq!(*announced.lock(), [(labels, format!("undo {hostile}"))]);
        assert!(record.error.unwrap().contains("broken"));
    }

    #[tokio::test]
    async fn a_firing_abort_alert_stops_the_run_before_any_step() {
        let store = SeriesStore::default();
        let labels = opsdeck_metrics::Labels::from_pairs([
            ("__name__", "ALERTS"),
            ("alertname", "TargetDown"),
            ("alertstate", "firing"),
        ]);
        store.append(&labels, now_ms(), 1.0).unwrap();
        let runbook = RUNBOOK.replace("steps:", "abort_on_alerts: [TargetDown]\nsteps:");
        let params = BTreeMap::from([("reason".to_string(), "r".to_string())]);
        let (record, _) = run(&runbook, params, store).await;
        assert_eq!(record.status, ActionStatus::Failed, "{record:?}");
        assert!(record.steps.is_empty(), "{record:?}");
        assert!(record.error.unwrap().contains("alert TargetDown is firing"));
    }
}
