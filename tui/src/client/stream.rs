//! Following one agent's `GET /api/v1/stream`: connect, apply events,
//! detect a silent connection, reconnect with backoff and `Last-Event-ID`.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;

use super::backoff::Backoff;
use super::decode::{decode, Decoded};
use super::{error_status, AgentTarget, ClientError};
use crate::clock::now_ms;
use crate::fleet::FleetHandle;

/// Runs until the runtime shuts down: one task per agent.
pub async fn follow_agent(target: AgentTarget, http: reqwest::Client, fleet: FleetHandle) {
    let mut backoff = Backoff::default();
    let mut last_event_id: Option<String> = None;
    loop {
        let error =
            match stream_once(&target, &http, &fleet, &mut backoff, &mut last_event_id).await {
                Ok(()) => ClientError::Closed,
                Err(error) => error,
            };
        tracing::info!(agent = %target.url, %error, "agent stream ended; reconnecting");
        let message = error.to_string();
        fleet.update(target.id, |entry| entry.mark_unreachable(message, now_ms()));
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

async fn stream_once(
    target: &AgentTarget,
    http: &reqwest::Client,
    fleet: &FleetHandle,
    backoff: &mut Backoff,
    last_event_id: &mut Option<String>,
) -> Result<(), ClientError> {
    let mut request = target
        .authorize(http.get(target.endpoint("/api/v1/stream")))
        .header(reqwest::header::ACCEPT, "text/event-stream");
    if let Some(id) = last_event_id.as_deref() {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(error_status(response).await);
    }
    backoff.reset();
    fleet.update(target.id, |entry| entry.mark_connected());
    let mut events = response.bytes_stream().eventsource();
    loop {
        let idle_limit = idle_limit(fleet, target.id);
        let next = tokio::time::timeout(idle_limit, events.next())
            .await
            .map_err(|_| ClientError::Idle(idle_limit))?;
        let event = match next {
            None => return Ok(()),
            Some(Err(error)) => return Err(ClientError::Stream(error.to_string())),
            Some(Ok(event)) => event,
        };
        if !event.id.is_empty() {
            *last_event_id = Some(event.id.clone());
        }
        match decode(&event.event, &event.data) {
            Ok(Decoded::Snapshot(snapshot)) => {
                fleet.update(target.id, |entry| entry.apply_snapshot(*snapshot, now_ms()));
            }
            Ok(Decoded::Heartbeat) => {
                fleet.update_quietly(target.id, |entry| entry.apply_heartbeat(now_ms()));
            }
            Ok(Decoded::Unknown(kind)) => {
                tracing::debug!(agent = %target.url, kind, "ignoring unknown stream event");
            }
            Err(error) => {
                // One bad event does not cost the connection.
                tracing::warn!(agent = %target.url, %error, "skipping malformed stream event");
            }
        }
    }
}

/// Silence for as long as it takes to call the agent stale means the
/// connection is hung (a live agent sends at least heartbeats).
fn idle_limit(fleet: &FleetHandle, agent: crate::fleet::AgentId) -> Duration {
    let limit_ms = fleet
        .read()
        .agents
        .get(agent)
        .map_or(0, |entry| entry.stale_after_ms());
    Duration::from_millis(limit_ms)
}
