//! Fixed, deterministic fleet states: the input of the snapshot tests,
//! the key-handling tests and the rendering benchmark. All times are
//! relative to [`NOW_MS`].

use std::collections::BTreeMap;

use opsdeck_agent::api::{
    AlertState, AlertSummary, HostStats, NodeIdentity, PoolStats, ProcessStats, ShardState,
    ShardStats, Snapshot, API_VERSION,
};

use crate::fleet::FleetState;

/// "Now" for every fixture: 2026-01-01T00:00:00Z.
pub const NOW_MS: i64 = 1_767_225_600_000;
const INTERVAL_MS: u64 = 1_000;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A node snapshot with `shards` shards, taken `age_ms` before [`NOW_MS`].
/// `variant` shifts the numbers so nodes differ.
pub fn snapshot(name: &str, shards: usize, variant: usize) -> Snapshot {
    let v = variant as f64;
    Snapshot {
        api_version: API_VERSION.into(),
        seq: 100 + variant as u64,
        taken_at_ms: NOW_MS - 1_000,
        node: NodeIdentity {
            name: name.into(),
            hostname: format!("{name}.internal"),
            agent_version: "0.1.0".into(),
            started_at_ms: NOW_MS - 3_600_000,
            interval_ms: INTERVAL_MS,
            profiles: vec!["nodejs".into(), "app_pool".into()],
        },
        host: Some(HostStats {
            cpu_percent: 20.0 + v * 7.0,
            cpu_per_core: vec![20.0 + v * 7.0; 4],
            load: [1.0 + v * 0.25, 0.9, 0.8],
            memory_total_bytes: 16 << 30,
            memory_used_bytes: (6 + variant as u64 % 8) << 30,
            memory_available_bytes: (10 - variant as u64 % 8) << 30,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            disk_read_bytes_per_sec: 0.0,
            disk_write_bytes_per_sec: 0.0,
            net_rx_bytes_per_sec: 0.0,
            net_tx_bytes_per_sec: 0.0,
            cgroup_limited: false,
        }),
        process: Some(ProcessStats {
            pids: vec![1000 + variant as u32],
            cpu_percent: Some(35.0 + (v * 17.0) % 60.0),
            rss_bytes: Some(((1.2 + v * 0.1) * GIB) as u64),
            virtual_bytes: None,
            threads: Some(24),
            open_fds: Some(180),
            start_time_ms: Some(NOW_MS - 3_600_000),
            restarts_seen: variant as u64 % 3,
            heap_used_bytes: Some((0.8 + (v * 0.13) % 1.0) * GIB),
            heap_total_bytes: Some(1.9 * GIB),
            heap_limit_bytes: Some(2.0 * GIB),
            gc_seconds_per_second: Some(0.01),
            event_loop_lag_seconds: Some(0.004),
        }),
        pools: vec![
            pool("db", 12.0 + (v * 3.0) % 8.0, 20.0, (variant % 4) as f64),
            pool("cache", 4.0, 16.0, 0.0),
        ],
        shards: (0..shards).map(|i| shard(i, variant)).collect(),
        targets: vec![],
        alerts: vec![],
        actions: vec![],
        receivers: vec![],
    }
}

fn receiver(
    name: &str,
    last_error: Option<opsdeck_agent::api::ReceiverError>,
) -> opsdeck_agent::api::ReceiverSummary {
    opsdeck_agent::api::ReceiverSummary {
        name: name.into(),
        kind: if name.contains("discord") {
            "discord"
        } else {
            "slack"
        }
        .into(),
        pending: usize::from(last_error.is_some()),
        delivered_total: 12,
        failed_total: u64::from(last_error.is_some()),
        rate_limited_total: 0,
        last_delivered_ms: Some(NOW_MS - 300_000),
        last_error,
    }
}

fn pool(name: &str, active: f64, max: f64, waiting: f64) -> PoolStats {
    PoolStats {
        name: name.into(),
        kind: "app_pool".into(),
        size: Some(max),
        active: Some(active),
        idle: Some(max - active),
        waiting: Some(waiting),
        max: Some(max),
        utilization: Some(active / max),
        acquire_timeouts_total: Some(0.0),
    }
}

fn shard(index: usize, variant: usize) -> ShardStats {
    let state = match (index + variant) % 29 {
        7 => ShardState::Draining,
        13 => ShardState::Disconnected,
        19 => ShardState::Starting,
        _ => ShardState::Ready,
    };
    ShardStats {
        id: (variant * 1000 + index).to_string(),
        state,
        load: Some(1000.0 + ((index * 37 + variant * 11) % 400) as f64),
        latency_seconds: Some((40 + ((index + variant) % 9) * 11) as f64 / 1000.0),
        last_heartbeat_ms: Some(NOW_MS - 1_000 - ((index % 5) as i64) * 1_000),
        ready_since_ms: Some(NOW_MS - 3_000_000),
        restarts: Some((index % 4) as f64),
    }
}

pub fn alert(
    name: &str,
    severity: &str,
    state: AlertState,
    shard: Option<&str>,
    age_ms: i64,
) -> AlertSummary {
    let mut labels = BTreeMap::from([
        ("alertname".to_string(), name.to_string()),
        ("severity".to_string(), severity.to_string()),
    ]);
    if let Some(shard) = shard {
        labels.insert("shard".into(), shard.into());
    }
    AlertSummary {
        name: name.into(),
        state,
        severity: Some(severity.into()),
        labels,
        annotations: BTreeMap::from([
            ("summary".to_string(), format!("{name} on this node")),
            (
                "runbook_url".to_string(),
                format!("https://runbooks.example/{}", name.to_lowercase()),
            ),
        ]),
        value: 0.93,
        active_at_ms: NOW_MS - age_ms,
        fired_at_ms: (state == AlertState::Firing).then_some(NOW_MS - age_ms + 60_000),
        silenced: false,
    }
}

/// Records `points` one-second samples so charts and sparklines have data.
fn with_history(fleet: &mut FleetState, agent: usize, points: usize) {
    let entry = &mut fleet.agents[agent];
    let Some(base) = entry.snapshot.clone() else {
        return;
    };
    entry.history = crate::fleet::History::default();
    for i in 0..points {
        let mut snap = base.clone();
        snap.taken_at_ms = NOW_MS - ((points - i) as i64) * 1_000;
        if let Some(process) = snap.process.as_mut() {
            let wave = ((i as f64) / 6.0).sin();
            process.cpu_percent = Some(40.0 + 25.0 * wave + agent as f64 * 3.0);
            process.heap_used_bytes = Some((0.9 + 0.2 * wave.abs()) * GIB);
        }
        entry.history.record(&snap);
    }
    entry.history.record(&base);
}

/// A small mixed fleet: three live nodes (one with alerts and a draining
/// shard), one stale, one unreachable with its last data, one never reached.
pub fn mixed_fleet() -> FleetState {
    let names = ["bot-1", "bot-2", "bot-3", "bot-4", "bot-5", "bot-6"];
    let mut fleet = FleetState::new(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), format!("http://10.0.0.{}:9464", i + 1))),
    );
    for (i, name) in names.iter().enumerate().take(5) {
        let entry = &mut fleet.agents[i];
        entry.apply_snapshot(snapshot(name, 8, i), NOW_MS - 1_000);
    }
    if let Some(s) = fleet.agents[1].snapshot.as_mut() {
        s.alerts = vec![
            alert(
                "ShardDown",
                "critical",
                AlertState::Firing,
                Some("1004"),
                300_000,
            ),
            alert(
                "PoolSaturated",
                "warning",
                AlertState::Firing,
                None,
                900_000,
            ),
            alert("HeapHigh", "warning", AlertState::Pending, None, 30_000),
        ];
        s.shards[3].state = ShardState::Dead;
        s.actions = vec![opsdeck_agent::api::ActionSummary {
            id: "act-7".into(),
            runbook: "restart-shard".into(),
            status: "running".into(),
            started_at_ms: NOW_MS - 20_000,
            step: Some("wait_until drained".into()),
            requested_by: "alice".into(),
        }];
        s.receivers = vec![
            receiver("oncall-slack", None),
            receiver(
                "discord-ops",
                Some(opsdeck_agent::api::ReceiverError {
                    at_ms: NOW_MS - 120_000,
                    permanent: true,
                    status: Some(404),
                    message: "Unknown Webhook".into(),
                    notification: "[FIRING:1] ShardDown".into(),
                }),
            ),
        ];
    }
    if let Some(s) = fleet.agents[2].snapshot.as_mut() {
        s.alerts = vec![alert(
            "ShardLatencyHigh",
            "warning",
            AlertState::Firing,
            Some("2005"),
            120_000,
        )];
    }
    for agent in 0..5 {
        with_history(&mut fleet, agent, 120);
    }
    // bot-4: connected but silent for 62 s (> 3 × the 15 s heartbeat).
    fleet.agents[3].last_update_ms = Some(NOW_MS - 62_000);
    // bot-5: down for 45 s; last data 50 s old.
    fleet.agents[4].last_update_ms = Some(NOW_MS - 50_000);
    fleet.agents[4].mark_unreachable(
        "error sending request: connection refused".into(),
        NOW_MS - 45_000,
    );
    // bot-6: never answered.
    fleet.agents[5].mark_unreachable("connection timed out".into(), NOW_MS - 5_000);
    fleet
}

/// `agents` live nodes of `shards` shards each, for the benchmark.
pub fn large_fleet(agents: usize, shards: usize) -> FleetState {
    let mut fleet = FleetState::new((0..agents).map(|i| {
        (
            format!("node-{}", i + 1),
            format!("http://10.1.{}.{}:9464", i / 250, i % 250),
        )
    }));
    for i in 0..agents {
        let name = format!("node-{}", i + 1);
        fleet.agents[i].apply_snapshot(snapshot(&name, shards, i), NOW_MS - 500);
        with_history(&mut fleet, i, 60);
        if i % 10 == 3 {
            if let Some(s) = fleet.agents[i].snapshot.as_mut() {
                s.alerts.push(alert(
                    "ShardDown",
                    "critical",
                    AlertState::Firing,
                    Some("7"),
                    60_000,
                ));
            }
        }
    }
    fleet
}
