//! The admin API against a real node: the shards really obey it, and
//! invalid requests get the documented status and a JSON message.

mod common;

use std::time::Duration;

use common::{eventually, sample, sim_sleep, start_node, start_node_at, Client, SPEED};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn guilds(shards: &Value) -> Vec<u64> {
    shards["shards"]
        .as_array()
        .expect("shards array")
        .iter()
        .map(|shard| shard["guilds"].as_u64().expect("guilds"))
        .collect()
}

#[tokio::test]
async fn drain_moves_guilds_to_the_other_shards_and_resume_brings_them_back() {
    let node = start_node(4, 10).await;
    let client = Client::new(&node);
    let (_, before) = client.get("/admin/shards").await;
    let before = guilds(&before);
    let total: u64 = before.iter().sum();

    let (status, body) = client.post("/admin/shards/2/drain", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "draining");

    eventually("shard 2 drained", WAIT, || async {
        (client.shard(2).await["state"] == "drained").then_some(())
    })
    .await;
    let (_, drained) = client.get("/admin/shards").await;
    let drained = guilds(&drained);
    assert_eq!(drained[2], 0);
    assert_eq!(drained.iter().sum::<u64>(), total, "no guild is lost");
    for other in [0, 1, 3] {
        assert!(
            drained[other] > before[other],
            "shard {other} took guilds: {drained:?}"
        );
    }
    let scrape = client.scrape().await;
    assert_eq!(sample(&scrape, "app_shard_guilds", &[("shard", "2")]), 0.0);
    assert_eq!(
        sample(
            &scrape,
            "app_shard_status",
            &[("shard", "2"), ("state", "drained")]
        ),
        1.0
    );

    let (status, body) = client.post("/admin/shards/2/resume", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "ready");
    eventually("shard 2's guilds back", WAIT, || async {
        let (_, shards) = client.get("/admin/shards").await;
        (guilds(&shards) == before).then_some(())
    })
    .await;
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_drain_takes_a_few_simulated_seconds() {
    // At speed 4 the 5 s drain takes 1.25 real seconds.
    let node = start_node_at(3, 11, 4.0).await;
    let client = Client::new(&node);
    let home = client.shard(0).await["guilds"].as_u64().expect("guilds");
    client.post("/admin/shards/0/drain", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let midway = client.shard(0).await;
    assert_eq!(midway["state"], "draining");
    let left = midway["guilds"].as_u64().expect("guilds");
    assert!(
        0 < left && left < home,
        "{left} of {home} guilds left after 2 s"
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_restarted_shard_goes_disconnected_starting_ready() {
    // Slow enough that `starting` (2.5 simulated seconds) lasts 250 ms.
    let node = start_node_at(3, 12, 10.0).await;
    let client = Client::new(&node);
    let before = client.shard(1).await;

    let (status, body) = client.post("/admin/shards/1/restart", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "disconnected");
    assert_eq!(body["restarting"], true);
    assert_eq!(body["restarts"], 1);

    // Every state the shard passes through, polled faster than a step.
    let mut seen = vec!["disconnected".to_owned()];
    let deadline = std::time::Instant::now() + WAIT;
    while seen.last().map(String::as_str) != Some("ready") {
        assert!(
            std::time::Instant::now() < deadline,
            "shard 1 not ready: {seen:?}"
        );
        let state = client.shard(1).await["state"]
            .as_str()
            .expect("state")
            .to_owned();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(seen, ["disconnected", "starting", "ready"]);

    let after = client.shard(1).await;
    assert_eq!(after["restarting"], false);
    let ready_before = before["ready_timestamp_seconds"]
        .as_f64()
        .expect("ready time");
    let ready_after = after["ready_timestamp_seconds"]
        .as_f64()
        .expect("ready time");
    assert!(ready_after > ready_before);
    let scrape = client.scrape().await;
    assert_eq!(
        sample(&scrape, "app_shard_restarts_total", &[("shard", "1")]),
        1.0
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn restarts_identify_one_shard_per_five_simulated_seconds() {
    let node = start_node(4, 13).await;
    let client = Client::new(&node);
    for id in [3, 0, 2] {
        let (status, body) = client
            .post(&format!("/admin/shards/{id}/restart"), None)
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let (_, node_view) = client.get("/admin/node").await;
    assert_eq!(
        node_view["identify"]["budget_remaining"].as_u64(),
        Some(1000 - 4)
    );

    let ready_times = eventually("all three ready", WAIT, || async {
        let mut times = Vec::new();
        for id in [3, 0, 2] {
            let shard = client.shard(id).await;
            if shard["state"] != "ready" {
                return None;
            }
            times.push(
                shard["ready_timestamp_seconds"]
                    .as_f64()
                    .expect("ready time"),
            );
        }
        Some(times)
    })
    .await;
    // Queue order is kept, and READYs are an identify slot apart in real time.
    let slot = 5.0 / SPEED;
    assert!(
        ready_times[1] - ready_times[0] >= slot - 1e-6,
        "{ready_times:?}"
    );
    assert!(
        ready_times[2] - ready_times[1] >= slot - 1e-6,
        "{ready_times:?}"
    );
    let (_, node_view) = client.get("/admin/node").await;
    assert_eq!(
        node_view["identify"]["budget_remaining"].as_u64(),
        Some(1000 - 4 - 3)
    );
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn restarting_the_node_restarts_every_shard_and_the_process() {
    let node = start_node(3, 14).await;
    let client = Client::new(&node);
    client.post("/admin/shards/0/drain", None).await;
    sim_sleep(30.0).await;
    let before = client.scrape().await;
    let started = sample(&before, "process_start_time_seconds", &[]);

    let (status, body) = client.post("/admin/restart", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["restarting"], true);
    assert_eq!(body["shards_by_state"]["disconnected"], 3);
    let (status, body) = client.post("/admin/restart", None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]
        .as_str()
        .expect("message")
        .contains("already restarting"));

    eventually("every shard ready", WAIT, || async {
        let (_, node_view) = client.get("/admin/node").await;
        (node_view["shards_by_state"]["ready"] == 3 && node_view["restarting"] == false)
            .then_some(())
    })
    .await;
    let after = client.scrape().await;
    assert!(sample(&after, "process_start_time_seconds", &[]) > started);
    // A fresh process: the drained shard has its guilds again.
    assert!(client.shard(0).await["guilds"].as_u64() > Some(0));
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn unknown_things_are_404_with_a_message() {
    let node = start_node(2, 15).await;
    let client = Client::new(&node);
    for (path, expected) in [
        ("/admin/shards/2/drain", "no shard 2"),
        ("/admin/shards/abc/restart", "no shard abc"),
        ("/admin/shards/-1/resume", "no shard -1"),
        ("/admin/pools/replica/recycle", "no pool \"replica\""),
        ("/admin/incidents/fire", "unknown incident kind `fire`"),
    ] {
        let (status, body) = client.post(path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        let message = body["error"].as_str().expect("error message");
        assert!(message.contains(expected), "{path}: {message}");
    }
    let (status, _) = client.get("/admin/shards/7").await;
    assert_eq!(status, 404);
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn invalid_transitions_are_409_with_a_message() {
    // Slow enough (1.25 s identifying) that the restart below lasts the
    // whole first half.
    let node = start_node_at(2, 16, 2.0).await;
    let client = Client::new(&node);
    let conflict = |path: &'static str, expected: &'static str| {
        let client = &client;
        async move {
            let (status, body) = client.post(path, None).await;
            assert_eq!(status, 409, "{path}: {body}");
            let message = body["error"].as_str().expect("error message");
            assert!(message.contains(expected), "{path}: {message}");
        }
    };

    assert_eq!(client.post("/admin/shards/0/restart", None).await.0, 202);
    conflict("/admin/shards/0/restart", "it is already restarting").await;
    conflict("/admin/shards/0/drain", "it is restarting").await;
    conflict("/admin/shards/0/resume", "it is restarting").await;
    // The only other shard cannot drain while shard 0 is down.
    conflict("/admin/shards/1/drain", "no other shard is ready").await;

    eventually("shard 0 ready", WAIT, || async {
        (client.shard(0).await["state"] == "ready").then_some(())
    })
    .await;
    assert_eq!(client.post("/admin/shards/1/drain", None).await.0, 202);
    conflict("/admin/shards/1/drain", "it is draining").await;

    assert_eq!(client.post("/admin/pools/main/recycle", None).await.0, 202);
    conflict("/admin/pools/main/recycle", "already recycling").await;
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_silent_shard_must_be_restarted_before_it_can_resume() {
    let node = start_node(2, 17).await;
    let client = Client::new(&node);
    let (status, _) = client
        .post("/admin/incidents/shard-silent", Some(json!({ "shard": 1 })))
        .await;
    assert_eq!(status, 202);
    let (status, body) = client.post("/admin/shards/1/resume", None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]
        .as_str()
        .expect("message")
        .contains("restart it first"));
    let (status, body) = client.post("/admin/shards/1/drain", None).await;
    assert_eq!(status, 409, "{body}");
    node.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn a_malformed_incident_request_is_400() {
    let node = start_node(2, 18).await;
    let client = Client::new(&node);
    for body in [json!({ "shard": "one" }), json!({ "shards": 1 })] {
        let (status, answer) = client
            .post("/admin/incidents/shard-silent", Some(body))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]
            .as_str()
            .expect("message")
            .starts_with("request body"));
    }
    let (status, answer) = client
        .post("/admin/incidents/memory-leak", Some(json!({ "shard": 1 })))
        .await;
    assert_eq!(status, 400, "{answer}");
    node.shutdown().await.expect("node stops");
}
