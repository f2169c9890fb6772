//! A fleet of real nodes: distinct names, ports and seeds, one shared timeline.

mod common;

use common::{start_node, Client};
use opsdeck_demo::{fleet_timeline, Fleet, FleetConfig};

fn config(nodes: usize, incidents: bool) -> FleetConfig {
    FleetConfig {
        nodes,
        shards: 4,
        seed: 9,
        speed: common::SPEED,
        incidents,
    }
}

#[tokio::test]
async fn a_fleet_starts_distinct_nodes_on_free_ports() {
    // A node already running does not stand in the fleet's way.
    let bystander = start_node(1, 0).await;
    let fleet = Fleet::start(config(3, false)).await.expect("fleet starts");
    let names: Vec<_> = fleet.nodes().iter().map(|n| n.name().to_owned()).collect();
    assert_eq!(names, ["node-1", "node-2", "node-3"]);
    let mut ports: Vec<_> = fleet.nodes().iter().map(|n| n.addr().port()).collect();
    ports.push(bystander.addr().port());
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);

    let mut guild_totals = Vec::new();
    for node in fleet.nodes() {
        assert!(node.url().starts_with("http://127.0.0.1:"));
        let (status, view) = Client::new(node).get("/admin/node").await;
        assert_eq!(status, 200);
        assert_eq!(view["name"], node.name());
        assert_eq!(view["shards"], 4);
        guild_totals.push(view["guilds"].as_u64().expect("guilds"));
    }
    guild_totals.dedup();
    assert_eq!(guild_totals.len(), 3, "each node has its own seed");
    fleet.shutdown().await.expect("fleet stops");
    bystander.shutdown().await.expect("node stops");
}

#[tokio::test]
async fn each_node_plays_its_share_of_the_fleet_timeline() {
    let fleet = Fleet::start(config(2, true)).await.expect("fleet starts");
    let expected = fleet_timeline(9, 2, 4);
    for (node, share) in fleet.nodes().iter().zip(&expected) {
        let (_, view) = Client::new(node).get("/admin/incidents").await;
        let timeline = view["timeline"].as_array().expect("timeline");
        assert_eq!(timeline.len(), share.len());
        for (entry, incident) in timeline.iter().zip(share) {
            assert_eq!(entry["at_seconds"], incident.at_seconds);
            assert_eq!(entry["kind"], incident.kind.as_str());
        }
    }
    fleet.shutdown().await.expect("fleet stops");
}

#[tokio::test]
async fn a_fleet_without_nodes_is_refused() {
    let err = Fleet::start(config(0, false)).await.expect_err("refused");
    assert!(err.to_string().contains("`nodes`"), "{err}");
}
