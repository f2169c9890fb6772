//! The dashboard's outside world: agent clients, requests the app asks
//! for, desktop notifications. All of it runs on the tokio runtime, off
//! the UI thread; results come back as events.

use std::sync::mpsc::Sender;

use opsdeck_runbooks::ActionRecord;
use tokio::runtime::Handle;

/// Actions shown in the audit view.
const AUDIT_LIMIT: usize = 200;

use crate::app::runbook::RunbookReply;
use crate::app::Effect;
use crate::client::actions;
use crate::client::{self, AgentTarget};
use crate::event::AppEvent;
use crate::fleet::{AgentId, FleetHandle, FleetState, FollowedAction};
use crate::notify::{self, CriticalAlertWatch};

pub struct Services {
    runtime: Handle,
    http: reqwest::Client,
    targets: Vec<AgentTarget>,
    events: Sender<AppEvent>,
    /// `Some` when desktop notifications are enabled.
    critical_watch: Option<CriticalAlertWatch>,
    /// Where followed actions' progress is written.
    fleet: Option<FleetHandle>,
}

impl Services {
    pub fn new(
        runtime: Handle,
        http: reqwest::Client,
        targets: Vec<AgentTarget>,
        events: Sender<AppEvent>,
        desktop_notifications: bool,
    ) -> Self {
        Services {
            runtime,
            http,
            targets,
            events,
            critical_watch: desktop_notifications.then(CriticalAlertWatch::default),
            fleet: None,
        }
    }

    /// Starts one stream-following task per agent.
    pub fn follow_agents(&mut self, fleet: &FleetHandle) {
        self.fleet = Some(fleet.clone());
        for target in &self.targets {
            self.runtime.spawn(client::follow_agent(
                target.clone(),
                self.http.clone(),
                fleet.clone(),
            ));
        }
    }

    /// Carries out an effect; its result arrives later as an event.
    pub fn perform(&self, effect: Effect) {
        match effect {
            Effect::CreateSilence {
                agent,
                node,
                request,
            } => {
                let Some(target) = self.targets.get(agent).cloned() else {
                    return;
                };
                let http = self.http.clone();
                let events = self.events.clone();
                self.runtime.spawn(async move {
                    let result = client::create_silence(&http, &target, &request)
                        .await
                        .map_err(|e| e.to_string());
                    if let Err(error) = &result {
                        tracing::warn!(agent = %target.url, %error, "silence failed");
                    }
                    let _ = events.send(AppEvent::SilenceDone { node, result });
                });
            }
            Effect::LoadRunbooks { agent } => self.request(agent, move |http, target| async move {
                let result = actions::list_runbooks(&http, &target).await;
                RunbookReply::Runbooks {
                    agent,
                    result: result.map_err(|e| e.to_string()),
                }
            }),
            Effect::DryRun {
                agent,
                runbook,
                params,
            } => self.request(agent, move |http, target| async move {
                let result = actions::dry_run(&http, &target, &runbook, &params).await;
                RunbookReply::Plan {
                    agent,
                    result: result.map_err(|e| e.to_string()),
                }
            }),
            Effect::StartAction {
                agent,
                node,
                runbook,
                params,
            } => {
                // A retried request (same key) finds the action instead of starting a second.
                let key = format!("tui-{:016x}", rand::random::<u64>());
                self.follow(agent, node, move |http, target| async move {
                    actions::start_action(&http, &target, &runbook, &params, &key).await
                })
            }
            Effect::RollbackAction {
                agent,
                node,
                action,
            } => self.follow(agent, node, move |http, target| async move {
                actions::rollback_action(&http, &target, &action).await
            }),
            Effect::CancelAction { agent, action } => {
                self.request(agent, move |http, target| async move {
                    let result = actions::cancel_action(&http, &target, &action).await;
                    RunbookReply::Cancelled {
                        result: result.map_err(|e| e.to_string()),
                    }
                })
            }
            Effect::LoadAudit { agent } => self.request(agent, move |http, target| async move {
                let result = actions::audit(&http, &target, AUDIT_LIMIT).await;
                RunbookReply::Audit {
                    agent,
                    result: result.map_err(|e| e.to_string()),
                }
            }),
        }
    }

    /// Runs one runbook request on an agent's client task; its reply
    /// comes back as an event.
    fn request<F, Fut>(&self, agent: AgentId, call: F)
    where
        F: FnOnce(reqwest::Client, AgentTarget) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = RunbookReply> + Send + 'static,
    {
        let Some(target) = self.targets.get(agent).cloned() else {
            return;
        };
        let http = self.http.clone();
        let events = self.events.clone();
        self.runtime.spawn(async move {
            let reply = call(http, target).await;
            let _ = events.send(AppEvent::Runbook(Box::new(reply)));
        });
    }

    /// Starts an action, then polls it into the fleet state until it ends.
    /// Sends `call` (which starts an action, or its rollback) and then
    /// follows that action into the fleet state.
    fn follow<F, Fut>(&self, agent: AgentId, node: String, call: F)
    where
        F: FnOnce(reqwest::Client, AgentTarget) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<ActionRecord, client::ClientError>> + Send,
    {
        let (Some(target), Some(fleet)) = (self.targets.get(agent).cloned(), self.fleet.clone())
        else {
            return;
        };
        let http = self.http.clone();
        let events = self.events.clone();
        self.runtime.spawn(async move {
            let result = call(http.clone(), target.clone()).await;
            let started = result.as_ref().ok().map(|r| r.id.clone());
            if let Ok(record) = &result {
                let followed = FollowedAction {
                    record: record.clone(),
                    poll_error: None,
                };
                fleet.update(agent, |entry| {
                    entry.actions.insert(record.id.clone(), followed);
                });
            }
            let _ = events.send(AppEvent::Runbook(Box::new(RunbookReply::Started {
                agent,
                node,
                result: result.map_err(|e| e.to_string()),
            })));
            let Some(id) = started else {
                return;
            };
            actions::follow_action(&http, &target, &id, |polled| {
                fleet.update(agent, |entry| {
                    if let Some(followed) = entry.actions.get_mut(&id) {
                        match polled {
                            Ok(record) => {
                                followed.record = record;
                                followed.poll_error = None;
                            }
                            Err(error) => followed.poll_error = Some(error),
                        }
                    }
                });
            })
            .await;
        });
    }

    /// Announces critical alerts that started firing, if enabled.
    pub fn fleet_changed(&mut self, fleet: &FleetState) {
        let Some(watch) = self.critical_watch.as_mut() else {
            return;
        };
        for alert in watch.observe(fleet) {
            self.runtime.spawn_blocking(move || notify::show(&alert));
        }
    }
}
