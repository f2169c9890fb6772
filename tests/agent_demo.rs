//! The agent binary against a real demo node (prom-client names, the
//! `app_pool_*` and `app_shard_*` conventions) through a recording proxy:
//! heap, pool and shard numbers equal the exposition the agent scraped.

mod agent_support;

use agent_support::{exposition_value, Agent, Behavior, FixtureServer};
use opsdeck_demo::{DemoNode, DemoNodeConfig, Incidents};

#[test]
fn demo_node_heap_pool_and_shards_equal_its_exposition() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut config = DemoNodeConfig::new("node-1", 8, 42);
    config.incidents = Incidents::Off;
    let node = runtime
        .block_on(DemoNode::start(config))
        .expect("demo node starts");

    let proxy = FixtureServer::start();
    let url = proxy.route(
        "/metrics",
        Behavior::Proxy(format!("{}/metrics", node.url())),
    );
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n  - name: demo\n    url: {url}\n    interval: 5m\n    timeout: 10s\n"
    ));
    let snapshot = agent.snapshot_where("demo profiles", |s| {
        ["nodejs", "app_pool", "app_shard"]
            .iter()
            .all(|p| s.node.profiles.iter().any(|q| q == p))
    });
    let served = proxy.served("/metrics");
    assert_eq!(served.len(), 1, "exactly one scrape");
    let body = &served[0];
    let value = |name: &str, labels: &[(&str, &str)]| {
        exposition_value(body, name, labels).unwrap_or_else(|| panic!("{name}{labels:?}"))
    };

    let process = snapshot.process.expect("process section");
    assert_eq!(
        process.heap_used_bytes,
        Some(value("nodejs_heap_size_used_bytes", &[]))
    );
    assert_eq!(
        process.heap_total_bytes,
        Some(value("nodejs_heap_size_total_bytes", &[]))
    );

    assert_eq!(snapshot.pools.len(), 1);
    let pool = &snapshot.pools[0];
    let l = [("pool", pool.name.as_str())];
    assert_eq!(pool.kind, "app_pool");
    assert_eq!(pool.size, Some(value("app_pool_size", &l)));
    assert_eq!(pool.active, Some(value("app_pool_active", &l)));
    assert_eq!(pool.idle, Some(value("app_pool_idle", &l)));
    assert_eq!(pool.waiting, Some(value("app_pool_waiting", &l)));
    assert_eq!(pool.max, Some(value("app_pool_max", &l)));

    assert_eq!(snapshot.shards.len(), 8);
    for (i, shard) in snapshot.shards.iter().enumerate() {
        assert_eq!(shard.id, i.to_string());
        let l = [("shard", shard.id.as_str())];
        assert_eq!(shard.load, Some(value("app_shard_guilds", &l)));
        assert_eq!(
            shard.latency_seconds,
            Some(value("app_shard_latency_seconds", &l))
        );
        let state = serde_json::to_value(shard.state).expect("state");
        let state = state.as_str().expect("state name");
        assert_eq!(
            value(
                "app_shard_status",
                &[("shard", shard.id.as_str()), ("state", state)]
            ),
            1.0,
            "shard {} is {state}",
            shard.id
        );
    }
    runtime.block_on(node.shutdown()).expect("demo node stops");
}
