//! Incidents on a real node: each moves the metrics its alert rule watches,
//! the runbook's admin call really ends it, and a seed fixes the timeline.

mod common;

use std::time::Duration;

use common::{eventually, sample, sim_sleep, start, start_node, sum, Client};
use opsdeck_demo::{DemoNodeConfig, IncidentKind, Incidents, ScheduledIncident};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
const MIB: f64 = 1024.0 * 1024.0;

#[tokio::test]
async fn a_silent_shard_stops_heartbeating_until_it_is_restarted() {
    let node = start_node(3, 20).await;
    let client = Client::new(&node);
    let (status, body) = client
        .post("/admin/incidents/shard-silent", Some(json!({ "shard": 2 })))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["kind"], "shard-silent");
    assert_eq!(body["shard"], 2);

    let scrape = client.scrape().await;
    assert_eq!(
        sample(
            &scrape,
            "app_shard_status",
            &[("shard", "2"), ("state", "disconnected")]
        ),
        1.0
    );
    let silent_since = sample(
        &scrape,
        "app_shard_last_heartbeat_timestamp_seconds",
        &[("shard", "2")],
    );
    let other_since = sample(
        &scrape,
        "app_shard_last_heartbeat_timestamp_seconds",
        &[("shard", "0")],
    );
    // Two heartbeat intervals later the others have beaten, shard 2 has not,
    // and it has not reconnected by itself.
    sim_sleep(90.0).await;
    let scrape = client.scrape().await;
    assert_eq!(
        sample(
            &scrape,
            "app_shard_last_heartbeat_timestamp_seconds",
            &[("shard", "2")]
        ),
        silent_since
    );
    assert!(
        sample(
            &scrape,
            "app_shard_last_heartbeat_timestamp_seconds",
            &[("shard", "0")]
        ) > other_since
    );
    assert_eq!(
        sample(
            &scrape,
            "app_shard_status",
            &[("shard", "2"), ("state", "disconnected")]
        ),
        1.0
    );
    let (_, active) = client.get("/admin/incidents").await;
    assert_eq!(
        active["active"],
        json!([{ "kind": "shard-silent", "shard": 2 }])
    );

    assert_eq!(client.post("/admin/shards/2/restart", None).await.0, 202);
    eventually("shard 2 ready", WAIT, || async {
        (client.shard(2).await["state"] == "ready").then_some(())
    })
    .await;
    let scrape = client.scrape().await;
    assert!(
        sample(
            &scrape,
            "app_shard_last_heartbeat_timestamp_seconds",
            &[("shard", "2")]
        ) > silent_since
    );
    let (_, active) = client.get("/admin/incidents").await;
    assert_eq!(active["active"], json!([]));
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_memory_leak_grows_the_heap_until_the_node_restarts() {
    let node = start_node(2, 21).await;
    let client = Client::new(&node);
    let heap =
        |scrape: &prometheus_parse::Scrape| sample(scrape, "nodejs_heap_size_used_bytes", &[]);
    let healthy = heap(&client.scrape().await);
    assert_eq!(
        client.post("/admin/incidents/memory-leak", None).await.0,
        202
    );
    // 1.5 MiB retained per simulated second.
    sim_sleep(200.0).await;
    let leaking = heap(&client.scrape().await);
    assert!(leaking > healthy + 200.0 * MIB, "{healthy} -> {leaking}");

    assert_eq!(client.post("/admin/restart", None).await.0, 202);
    let restarted = heap(&client.scrape().await);
    assert!(restarted < healthy + 40.0 * MIB, "{healthy} -> {restarted}");
    sim_sleep(100.0).await;
    let later = heap(&client.scrape().await);
    assert!(
        later < healthy + 60.0 * MIB,
        "the leak is gone: {healthy} -> {later}"
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn pool_exhaustion_queues_and_times_out_acquires_until_the_pool_is_recycled() {
    let node = start_node(2, 22).await;
    let client = Client::new(&node);
    let pool = [("pool", "main")];
    assert_eq!(
        client
            .post("/admin/incidents/pool-exhaustion", None)
            .await
            .0,
        202
    );
    let exhausted = eventually("the pool exhausted", WAIT, || async {
        let scrape = client.scrape().await;
        (sample(&scrape, "app_pool_waiting", &pool) > 0.0
            && sample(&scrape, "app_pool_acquire_timeouts_total", &pool) > 0.0)
            .then_some(scrape)
    })
    .await;
    assert!(sample(&exhausted, "app_pool_active", &pool) >= 6.0);
    assert!(sum(&exhausted, "http_requests_total", &[("code", "503")]) > 0.0);

    let (status, body) = client.post("/admin/pools/main/recycle", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["recycling"], true);
    assert_eq!(body["leaked"], 0);
    // Two simulated seconds to reconnect, then no more waiting or timeouts.
    sim_sleep(3.0).await;
    let recovered = client.scrape().await;
    let timeouts = sample(&recovered, "app_pool_acquire_timeouts_total", &pool);
    sim_sleep(200.0).await;
    let later = client.scrape().await;
    assert_eq!(sample(&later, "app_pool_waiting", &pool), 0.0);
    assert_eq!(
        sample(&later, "app_pool_acquire_timeouts_total", &pool),
        timeouts
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_latency_spike_ends_when_the_shard_reconnects() {
    let node = start_node(2, 23).await;
    let client = Client::new(&node);
    let latency = [("shard", "1")];
    client
        .post(
            "/admin/incidents/latency-spike",
            Some(json!({ "shard": 1 })),
        )
        .await;
    let scrape = client.scrape().await;
    assert!(sample(&scrape, "app_shard_latency_seconds", &latency) > 1.0);

    client.post("/admin/shards/1/restart", None).await;
    eventually("shard 1 ready with a normal latency", WAIT, || async {
        let scrape = client.scrape().await;
        (sample(
            &scrape,
            "app_shard_status",
            &[("shard", "1"), ("state", "ready")],
        ) == 1.0
            && sample(&scrape, "app_shard_latency_seconds", &latency) < 0.2)
            .then_some(())
    })
    .await;
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_restart_loop_keeps_respawning_the_shard_until_an_operator_restarts_it() {
    let node = start_node(2, 24).await;
    let client = Client::new(&node);
    let restarts = |scrape: &prometheus_parse::Scrape| {
        sample(scrape, "app_shard_restarts_total", &[("shard", "0")])
    };
    client
        .post("/admin/incidents/restart-loop", Some(json!({ "shard": 0 })))
        .await;
    // Up 20 s, dead 5 s, identify: about one respawn per 30 simulated seconds.
    sim_sleep(100.0).await;
    let looping = restarts(&client.scrape().await);
    assert!(looping >= 2.0, "{looping} respawns");

    eventually("an operator restart accepted", WAIT, || async {
        (client.post("/admin/shards/0/restart", None).await.0 == 202).then_some(())
    })
    .await;
    eventually("shard 0 ready", WAIT, || async {
        (client.shard(0).await["state"] == "ready").then_some(())
    })
    .await;
    let fixed = restarts(&client.scrape().await);
    sim_sleep(100.0).await;
    assert_eq!(restarts(&client.scrape().await), fixed, "no more respawns");
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_timeline_plays_its_incidents_on_schedule() {
    let node = start(DemoNodeConfig {
        name: "node-timeline".into(),
        shards: 4,
        seed: 1,
        speed: common::SPEED,
        incidents: Incidents::Scripted(vec![ScheduledIncident {
            at_seconds: 30,
            kind: IncidentKind::ShardSilent,
            shard: Some(3),
        }]),
    })
    .await;
    let client = Client::new(&node);
    let (_, before) = client.get("/admin/incidents").await;
    assert_eq!(before["timeline"][0]["played"], false);
    assert_eq!(client.shard(3).await["state"], "ready");
    eventually("the scripted incident", WAIT, || async {
        (client.shard(3).await["state"] == "disconnected").then_some(())
    })
    .await;
    let (_, after) = client.get("/admin/incidents").await;
    assert_eq!(after["timeline"][0]["played"], true);
    assert_eq!(after["history"][0]["source"], "timeline");
    assert_eq!(after["history"][0]["at_seconds"], 30.0);
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn the_same_seed_plays_the_same_incidents() {
    let config = |name: &str, seed| DemoNodeConfig {
        name: name.into(),
        shards: 8,
        seed,
        speed: 400.0,
        incidents: Incidents::Seeded,
    };
    let a = start(config("a", 77)).await;
    let b = start(config("b", 77)).await;
    let c = start(config("c", 78)).await;
    let (a_client, b_client, c_client) = (Client::new(&a), Client::new(&b), Client::new(&c));
    let (_, a_plan) = a_client.get("/admin/incidents").await;
    let (_, b_plan) = b_client.get("/admin/incidents").await;
    let (_, c_plan) = c_client.get("/admin/incidents").await;
    let plan = |view: &serde_json::Value| {
        view["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|entry| {
                (
                    entry["at_seconds"].clone(),
                    entry["kind"].clone(),
                    entry["shard"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(plan(&a_plan), plan(&b_plan));
    assert_ne!(plan(&a_plan), plan(&c_plan));

    // The first two incidents have played on both nodes, identically.
    assert_eq!(
        first_two_played(&a_client).await,
        first_two_played(&b_client).await
    );
    for node in [a, b, c] {
        node.shutdown().await.expect("node stops");
    }
}

/// (kind, shard, simulated time) of the first two incidents a node played.
async fn first_two_played(client: &Client) -> Vec<(Value, Value, Value)> {
    eventually("two incidents played", WAIT, || async {
        let (_, view) = client.get("/admin/incidents").await;
        let history = view["history"].as_array()?.clone();
        (history.len() >= 2).then(|| {
            history[..2]
                .iter()
                .map(|r| {
                    (
                        r["kind"].clone(),
                        r["shard"].clone(),
                        r["at_seconds"].clone(),
                    )
                })
                .collect()
        })
    })
    .await
}
