//! The agent clients against real HTTP servers on 127.0.0.1: following the
//! SSE stream into the fleet state, resuming with `Last-Event-ID`, sending
//! the token, marking a dead agent unreachable, and creating a silence.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream;
use opsdeck_agent::api::{SilenceCreated, SilenceRequest, StreamEvent};
use opsdeck_tui::app::Effect;
use opsdeck_tui::client::{follow_agent, http_client, AgentTarget};
use opsdeck_tui::event::AppEvent;
use opsdeck_tui::fixtures::snapshot;
use opsdeck_tui::fleet::{FleetHandle, FleetState, Health, Link};
use opsdeck_tui::services::Services;

/// `Last-Event-ID` and `Authorization` of one stream request.
type StreamRequest = (Option<String>, Option<String>);
/// `Authorization` and body of one silence request.
type SilencePost = (Option<String>, SilenceRequest);

/// What the test agent saw.
#[derive(Clone, Default)]
struct Seen {
    stream_requests: Arc<Mutex<Vec<StreamRequest>>>,
    silences: Arc<Mutex<Vec<SilencePost>>>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// Serves one snapshot (id 41) and a heartbeat, then ends the stream, so
/// the client must reconnect.
async fn stream_handler(
    State(seen): State<Seen>,
    headers: HeaderMap,
) -> Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>> {
    seen.stream_requests.lock().unwrap().push((
        header(&headers, "last-event-id"),
        header(&headers, "authorization"),
    ));
    let mut snap = snapshot("agent-node", 3, 0);
    snap.seq = 41;
    let snapshot_event = Event::default()
        .event("snapshot")
        .id("41")
        .data(serde_json::to_string(&StreamEvent::Snapshot(Box::new(snap))).unwrap());
    let heartbeat = Event::default()
        .event("heartbeat")
        .data(r#"{"type":"heartbeat","seq":41,"at_ms":0}"#);
    Sse::new(stream::iter([Ok(snapshot_event), Ok(heartbeat)]))
}

async fn silence_handler(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(request): Json<SilenceRequest>,
) -> (StatusCode, Json<SilenceCreated>) {
    seen.silences
        .lock()
        .unwrap()
        .push((header(&headers, "authorization"), request));
    (StatusCode::OK, Json(SilenceCreated { id: "sil-1".into() }))
}

fn start_agent(runtime: &tokio::runtime::Runtime) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/api/v1/stream", get(stream_handler))
        .route("/api/v1/silences", post(silence_handler))
        .with_state(seen.clone());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `done` until it holds, for at most 10 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn follows_the_stream_and_resumes_with_last_event_id() {
    let runtime = runtime();
    let (addr, seen) = start_agent(&runtime);
    let (tx, rx) = mpsc::channel();
    let fleet = FleetHandle::new(
        FleetState::new([("configured".to_string(), format!("http://{addr}"))]),
        tx,
    );
    let target = AgentTarget {
        id: 0,
        url: format!("http://{addr}/"),
        token: Some("t0ken".into()),
    };
    runtime.spawn(follow_agent(target, http_client().unwrap(), fleet.clone()));

    wait_for("a second stream request", || {
        seen.stream_requests.lock().unwrap().len() >= 2
    });
    let requests = seen.stream_requests.lock().unwrap().clone();
    assert_eq!(requests[0], (None, Some("Bearer t0ken".into())));
    assert_eq!(
        requests[1].0.as_deref(),
        Some("41"),
        "resumes after the last snapshot"
    );

    let state = fleet.read();
    let agent = &state.agents[0];
    assert_eq!(agent.name(), "agent-node", "the snapshot names the node");
    assert_eq!(agent.snapshot.as_ref().map(|s| s.seq), Some(41));
    assert!(agent.last_update_ms.is_some());
    drop(state);
    assert!(
        matches!(rx.try_recv(), Ok(AppEvent::FleetChanged)),
        "the UI was woken"
    );
}

#[test]
fn an_agent_that_refuses_is_unreachable_and_keeps_nothing_made_up() {
    let runtime = runtime();
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (tx, _rx) = mpsc::channel();
    let url = format!("http://127.0.0.1:{port}");
    let fleet = FleetHandle::new(FleetState::new([("dead".to_string(), url.clone())]), tx);
    let target = AgentTarget {
        id: 0,
        url,
        token: None,
    };
    runtime.spawn(follow_agent(target, http_client().unwrap(), fleet.clone()));
    wait_for("the agent to be marked unreachable", || {
        matches!(fleet.read().agents[0].link, Link::Unreachable { .. })
    });
    let state = fleet.read();
    assert_eq!(state.agents[0].health(0), Health::Unreachable);
    assert!(state.agents[0].snapshot.is_none());
}

#[test]
fn silence_effect_posts_to_the_agent_and_reports_back() {
    let runtime = runtime();
    let (addr, seen) = start_agent(&runtime);
    let (tx, rx) = mpsc::channel();
    let services = Services::new(
        runtime.handle().clone(),
        http_client().unwrap(),
        vec![AgentTarget {
            id: 0,
            url: format!("http://{addr}"),
            token: Some("op".into()),
        }],
        tx,
        false,
    );
    let request = SilenceRequest {
        matchers: vec![],
        starts_at_ms: 1,
        ends_at_ms: 2,
        created_by: "tester".into(),
        comment: "deploy".into(),
    };
    services.perform(Effect::CreateSilence {
        agent: 0,
        node: "bot-1".into(),
        request: request.clone(),
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(AppEvent::SilenceDone { node, result }) => {
            assert_eq!(node, "bot-1");
            assert_eq!(result, Ok("sil-1".to_string()));
        }
        other => panic!("expected SilenceDone, got {other:?}"),
    }
    let silences = seen.silences.lock().unwrap();
    assert_eq!(silences.len(), 1);
    assert_eq!(silences[0].0.as_deref(), Some("Bearer op"));
    assert_eq!(silences[0].1, request);
}
