//! Idle cost of the dashboard with 200 agents connected: CPU (percent of
//! one core) and RSS of this process while nothing changes. The 200 agents
//! are SSE endpoints on one in-process axum server that send a 64-shard
//! snapshot on connect and then only heartbeats, as a quiet agent does;
//! their own (small) cost is included in the figures, so they are an upper
//! bound. Linux only (reads /proc/self). Run:
//! `cargo bench -p opsdeck-tui --bench idle`

use std::convert::Infallible;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::Router;
use futures::stream::{self, Stream, StreamExt};
use opsdeck_agent::api::StreamEvent;
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::App;
use opsdeck_tui::client::{http_client, AgentTarget};
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::fixtures::snapshot;
use opsdeck_tui::fleet::{FleetHandle, FleetState};
use opsdeck_tui::services::Services;
use opsdeck_tui::ui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const AGENTS: usize = 200;
const SHARDS: usize = 64;
const MEASURE: Duration = Duration::from_secs(20);
/// Linux's USER_HZ, the unit of /proc/self/stat times.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

async fn stream_of(Path(i): Path<usize>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut snap = snapshot(&format!("node-{i}"), SHARDS, i);
    snap.node.interval_ms = 1_000;
    let first = Event::default()
        .event("snapshot")
        .id(snap.seq.to_string())
        .data(serde_json::to_string(&StreamEvent::Snapshot(Box::new(snap))).unwrap_or_default());
    let heartbeats = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let event = Event::default()
            .event("heartbeat")
            .data(r#"{"type":"heartbeat","seq":1,"at_ms":0}"#);
        Some((Ok(event), ()))
    });
    Sse::new(stream::once(async { Ok(first) }).chain(heartbeats))
}

/// (user + system CPU seconds, RSS bytes) of this process.
fn usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; index 11 and 12 after the name.
    let cpu = (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    (cpu, rss_kib * 1024)
}

fn main() {
    // Agents' server: its own runtime, like agents on other machines.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().route("/n/{i}/api/v1/stream", get(stream_of));
    server.spawn(async move { axum::serve(listener, app).await });

    // The dashboard, wired as `opsdeck tui` wires it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("dashboard runtime");
    let (tx, rx) = mpsc::channel();
    let urls: Vec<String> = (0..AGENTS)
        .map(|i| format!("http://{addr}/n/{i}"))
        .collect();
    let fleet = FleetHandle::new(
        FleetState::new(urls.iter().map(|u| (u.clone(), u.clone()))),
        tx.clone(),
    );
    let targets = urls
        .iter()
        .enumerate()
        .map(|(id, url)| AgentTarget {
            id,
            url: url.clone(),
            token: None,
        })
        .collect();
    let mut services = Services::new(
        runtime.handle().clone(),
        http_client().expect("http"),
        targets,
        tx.clone(),
        false,
    );
    services.follow_agents(&fleet);
    opsdeck_tui::spawn_clock(&runtime, tx.clone());
    let ui_fleet = fleet.clone();
    std::thread::spawn(move || {
        let mut app = App::new(Keymap::default(), "bench".into());
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        let theme = Theme::resolve(ThemeName::Dark, false);
        let _ = opsdeck_tui::runtime::run_loop(
            &mut terminal,
            &mut app,
            &ui_fleet,
            &rx,
            &mut services,
            &theme,
        );
    });

    let start = Instant::now();
    while fleet.read().agents.iter().any(|a| a.snapshot.is_none()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "agents did not connect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "{AGENTS} agents × {SHARDS} shards connected in {:?}",
        start.elapsed()
    );
    // Let start-up work settle.
    std::thread::sleep(Duration::from_secs(2));
    let (cpu_before, _) = usage();
    std::thread::sleep(MEASURE);
    let (cpu_after, rss) = usage();
    let cpu_percent = (cpu_after - cpu_before) / MEASURE.as_secs_f64() * 100.0;
    println!(
        "idle over {MEASURE:?}: CPU {cpu_percent:.2}% of one core (budget 1%), RSS {:.1} MiB (budget 60 MB)",
        rss as f64 / (1024.0 * 1024.0)
    );
    drop(tx);
}
