//! The agent binary scrapes real HTTP targets serving fixture expositions
//! of each supported client library; the snapshot's heap, CPU, pool and
//! shard numbers must equal what the exposition says.

mod agent_support;

use agent_support::{exposition_value, Agent, Behavior, FixtureServer};
use opsdeck_agent::api::{ShardState, Snapshot};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/agent/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Serves `file` and starts an agent scraping it once a second.
fn agent_for(file: &str) -> (FixtureServer, Agent, Vec<u8>) {
    let body = fixture(file);
    let server = FixtureServer::start();
    let url = server.route(
        "/metrics",
        Behavior::Body("text/plain; version=0.0.4", body.clone()),
    );
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n  - name: app\n    url: {url}\n    interval: 1s\n    timeout: 1s\n"
    ));
    (server, agent, body)
}

fn with_profile(agent: &Agent, profile: &str) -> Snapshot {
    agent.snapshot_where(&format!("profile {profile}"), |s| {
        s.node.profiles.iter().any(|p| p == profile) && s.targets.iter().all(|t| t.up)
    })
}

fn value(body: &[u8], name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition_value(body, name, labels).unwrap_or_else(|| panic!("{name}{labels:?} in fixture"))
}

#[test]
fn nodejs_heap_pools_and_shards_equal_the_exposition() {
    let (_server, agent, body) = agent_for("nodejs-app.prom");
    let snapshot = agent.snapshot_where("nodejs, pools and shards", |s| {
        ["nodejs", "app_pool", "app_shard"]
            .iter()
            .all(|p| s.node.profiles.iter().any(|q| q == p))
    });
    let process = snapshot.process.expect("process section");
    assert_eq!(
        process.heap_used_bytes,
        Some(value(&body, "nodejs_heap_size_used_bytes", &[]))
    );
    assert_eq!(
        process.heap_total_bytes,
        Some(value(&body, "nodejs_heap_size_total_bytes", &[]))
    );
    assert_eq!(
        process.event_loop_lag_seconds,
        Some(value(&body, "nodejs_eventloop_lag_seconds", &[]))
    );
    assert_eq!(
        process.rss_bytes,
        Some(value(&body, "process_resident_memory_bytes", &[]) as u64)
    );

    let names: Vec<&str> = snapshot.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["pg-main", "redis"]);
    for pool in &snapshot.pools {
        let l = [("pool", pool.name.as_str())];
        assert_eq!(pool.kind, "app_pool");
        assert_eq!(pool.size, Some(value(&body, "app_pool_size", &l)));
        assert_eq!(pool.active, Some(value(&body, "app_pool_active", &l)));
        assert_eq!(pool.idle, Some(value(&body, "app_pool_idle", &l)));
        assert_eq!(pool.waiting, Some(value(&body, "app_pool_waiting", &l)));
        assert_eq!(pool.max, Some(value(&body, "app_pool_max", &l)));
        assert_eq!(
            pool.acquire_timeouts_total,
            Some(value(&body, "app_pool_acquire_timeouts_total", &l))
        );
        assert_eq!(
            pool.utilization,
            Some(value(&body, "app_pool_active", &l) / value(&body, "app_pool_max", &l))
        );
    }

    // Numeric ids sort as numbers; the state is the one-hot label at 1.
    let shards: Vec<(&str, ShardState)> = snapshot
        .shards
        .iter()
        .map(|s| (s.id.as_str(), s.state))
        .collect();
    assert_eq!(
        shards,
        [
            ("0", ShardState::Ready),
            ("1", ShardState::Draining),
            ("10", ShardState::Dead)
        ]
    );
    let shard0 = &snapshot.shards[0];
    assert_eq!(
        shard0.load,
        Some(value(&body, "app_shard_guilds", &[("shard", "0")]))
    );
    assert_eq!(
        shard0.latency_seconds,
        Some(value(&body, "app_shard_latency_seconds", &[("shard", "0")]))
    );
    assert_eq!(shard0.last_heartbeat_ms, Some(1_795_000_000_500));
    assert_eq!(
        snapshot.shards[2].restarts,
        Some(value(&body, "app_shard_restarts_total", &[("shard", "10")]))
    );
}

#[test]
fn jvm_legacy_hotspot_hikaricp_and_pgbouncer() {
    let (_server, agent, body) = agent_for("jvm-hotspot.prom");
    let snapshot = agent.snapshot_where("jvm, hikaricp and pgbouncer", |s| {
        ["jvm", "hikaricp", "pgbouncer"]
            .iter()
            .all(|p| s.node.profiles.iter().any(|q| q == p))
    });
    let heap = [("area", "heap")];
    let process = snapshot.process.expect("process section");
    assert_eq!(
        process.heap_used_bytes,
        Some(value(&body, "jvm_memory_bytes_used", &heap))
    );
    assert_eq!(
        process.heap_total_bytes,
        Some(value(&body, "jvm_memory_bytes_committed", &heap))
    );
    assert_eq!(
        process.heap_limit_bytes,
        Some(value(&body, "jvm_memory_bytes_max", &heap))
    );

    let hikari = snapshot
        .pools
        .iter()
        .find(|p| p.kind == "hikaricp")
        .expect("hikaricp pool");
    let l = [("pool", "HikariPool-1")];
    assert_eq!(hikari.name, "HikariPool-1");
    assert_eq!(
        hikari.active,
        Some(value(&body, "hikaricp_active_connections", &l))
    );
    assert_eq!(
        hikari.idle,
        Some(value(&body, "hikaricp_idle_connections", &l))
    );
    assert_eq!(
        hikari.waiting,
        Some(value(&body, "hikaricp_pending_threads", &l))
    );
    assert_eq!(
        hikari.max,
        Some(value(&body, "hikaricp_max_connections", &l))
    );
    assert_eq!(hikari.size, Some(value(&body, "hikaricp_connections", &l)));
    assert_eq!(
        hikari.acquire_timeouts_total,
        Some(value(&body, "hikaricp_connection_timeout_total", &l))
    );

    // pgbouncer pools are per (database, user); the view sums per database.
    let pgbouncer = snapshot
        .pools
        .iter()
        .find(|p| p.kind == "pgbouncer")
        .expect("pgbouncer pool");
    assert_eq!(pgbouncer.name, "app");
    assert_eq!(pgbouncer.active, Some(5.0 + 2.0));
    assert_eq!(pgbouncer.idle, Some(1.0));
    assert_eq!(pgbouncer.waiting, Some(6.0 + 1.0));
    assert_eq!(pgbouncer.size, Some(5.0 + 2.0 + 1.0));
    assert_eq!(pgbouncer.max, Some(20.0));
}

#[test]
fn jvm_micrometer_sums_heap_pools_and_reads_cpu_ratio() {
    let (_server, agent, body) = agent_for("jvm-micrometer.prom");
    let snapshot = with_profile(&agent, "hikaricp");
    assert!(snapshot.node.profiles.iter().any(|p| p == "jvm"));
    let process = snapshot.process.expect("process section");
    let heap_used: f64 = ["G1 Eden Space", "G1 Old Gen", "G1 Survivor Space"]
        .iter()
        .map(|id| {
            value(
                &body,
                "jvm_memory_used_bytes",
                &[("area", "heap"), ("id", id)],
            )
        })
        .sum();
    assert_eq!(process.heap_used_bytes, Some(heap_used));
    // Pools without a maximum report -1 and are left out of the limit.
    assert_eq!(
        process.heap_limit_bytes,
        Some(value(
            &body,
            "jvm_memory_max_bytes",
            &[("area", "heap"), ("id", "G1 Old Gen")]
        ))
    );
    // process_cpu_usage is a share of all cores: 0.125 of 4 cores is half a core.
    assert_eq!(process.cpu_percent, Some(50.0));
    let pool = &snapshot.pools[0];
    assert_eq!(
        (pool.name.as_str(), pool.kind.as_str()),
        ("orders", "hikaricp")
    );
    assert_eq!(pool.active, Some(3.0));
    assert_eq!(pool.max, Some(20.0));
    assert_eq!(pool.utilization, Some(3.0 / 20.0));
}

#[test]
fn go_runtime_and_database_sql_pool() {
    let (_server, agent, body) = agent_for("go-app.prom");
    let snapshot = with_profile(&agent, "go_sql");
    assert!(snapshot.node.profiles.iter().any(|p| p == "go"));
    let process = snapshot.process.expect("process section");
    assert_eq!(
        process.heap_used_bytes,
        Some(value(&body, "go_memstats_heap_alloc_bytes", &[]))
    );
    // GOMEMLIMIT at its default (MaxInt64) means no limit.
    assert_eq!(process.heap_limit_bytes, None);
    let pool = &snapshot.pools[0];
    let l = [("db_name", "users")];
    assert_eq!(pool.name, "users");
    assert_eq!(
        pool.active,
        Some(value(&body, "go_sql_in_use_connections", &l))
    );
    assert_eq!(
        pool.max,
        Some(value(&body, "go_sql_max_open_connections", &l))
    );
    assert_eq!(pool.size, Some(value(&body, "go_sql_open_connections", &l)));
}
