//! The dashboard's outside world: agent clients, requests the app asks
//! for, desktop notifications. All of it runs on the tokio runtime, off
//! the UI thread; results come back as events.

use std::sync::mpsc::Sender;

use tokio::runtime::Handle;

use crate::app::Effect;
use crate::client::{self, AgentTarget};
use crate::event::AppEvent;
use crate::fleet::{FleetHandle, FleetState};
use crate::notify::{self, CriticalAlertWatch};

pub struct Services {
    runtime: Handle,
    http: reqwest::Client,
    targets: Vec<AgentTarget>,
    events: Sender<AppEvent>,
    /// `Some` when desktop notifications are enabled.
    critical_watch: Option<CriticalAlertWatch>,
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
        }
    }

    /// Starts one stream-following task per agent.
    pub fn follow_agents(&self, fleet: &FleetHandle) {
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
        }
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
