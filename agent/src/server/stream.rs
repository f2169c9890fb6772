//! `GET /api/v1/stream`: server-sent events. On connect the current
//! snapshot (event `snapshot`, id = its `seq`), then every snapshot whose
//! content changed, and a `heartbeat` event every [`HEARTBEAT`]. A client reconnecting with `Last-Event-ID` equal to the
//! current snapshot's seq is not sent that snapshot again.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use futures::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use super::AppState;
use crate::api::StreamEvent;
use crate::collect::now_ms;
use crate::state::Published;

pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);

fn snapshot_event(published: &Published) -> Event {
    // The snapshot JSON is already serialized; wrap it in the tagged enum
    // form `{"type":"snapshot", ...}` without parsing it again.
    let json = &published.json;
    let body = match json.strip_prefix(b"{") {
        Some(rest) if !rest.starts_with(b"}") => {
            format!(r#"{{"type":"snapshot",{}"#, String::from_utf8_lossy(rest))
        }
        _ => r#"{"type":"snapshot"}"#.to_string(),
    };
    Event::default()
        .event("snapshot")
        .id(published.snapshot.seq.to_string())
        .data(body)
}

fn heartbeat_event(seq: u64) -> Option<Event> {
    let event = StreamEvent::Heartbeat {
        seq,
        at_ms: now_ms(),
    };
    serde_json::to_string(&event)
        .ok()
        .map(|json| Event::default().event("heartbeat").data(json))
}

pub(crate) async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last_seen: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    // Subscribe before reading the current snapshot so none is missed.
    let updates = BroadcastStream::new(app.state.updates.subscribe());
    let current = app.state.published.load_full();
    let first: Option<Arc<Published>> = current.filter(|p| Some(p.snapshot.seq) != last_seen);
    // Updates at or below what the client has (or is about to get) are skipped.
    let floor = first
        .as_ref()
        .map(|p| p.snapshot.seq)
        .or(last_seen)
        .unwrap_or(0);
    let snapshots = stream::iter(first)
        .chain(
            updates
                .filter_map(|item| async move { item.ok() })
                .filter(move |p| std::future::ready(p.snapshot.seq > floor)),
        )
        .map(Some);
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let heartbeats = IntervalStream::new(ticks).skip(1).map(|_| None);

    let latest = app.state.clone();
    let events = stream::select(snapshots, heartbeats)
        .filter_map(move |item| {
            let event = match item {
                Some(published) => Some(snapshot_event(&published)),
                None => {
                    let seq = latest
                        .published
                        .load()
                        .as_ref()
                        .map(|p| p.snapshot.seq)
                        .unwrap_or(0);
                    heartbeat_event(seq)
                }
            };
            async move { event.map(Ok) }
        })
        .take_until(app.cancel.clone().cancelled_owned());
    Sse::new(events)
}
