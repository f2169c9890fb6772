//! The agent against a real Node.js app using prom-client
//! (`tests/fixtures/node-app`), through a recording proxy: the Node.js
//! profile is detected and heap, event-loop lag, RSS and pool numbers equal
//! the exposition the agent scraped. Skipped, with a message, when node or
//! the fixture's node_modules (`npm install`, done by scripts/test) is absent.

mod agent_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use agent_support::{exposition_value, Agent, Behavior, FixtureServer};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn nodejs_numbers_equal_prom_clients_exposition() {
    let app_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/node-app");
    if !app_dir.join("node_modules/prom-client").is_dir() {
        println!(
            "{}/node_modules is absent (run npm install there): skipping",
            app_dir.display()
        );
        return;
    }
    let Ok(mut child) = Command::new("node")
        .arg("server.js")
        .arg("0")
        .current_dir(&app_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        println!("node is not installed: skipping");
        return;
    };
    let stdout = child.stdout.take().expect("app stdout");
    let app = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("app says where it listens");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .expect("listening PORT")
        .to_string();

    let proxy = FixtureServer::start();
    let url = proxy.route(
        "/metrics",
        Behavior::Proxy(format!("http://127.0.0.1:{port}/metrics")),
    );
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n  - name: bot\n    url: {url}\n    interval: 5m\n    timeout: 10s\n"
    ));
    let snapshot = agent.snapshot_where("nodejs and app_pool profiles", |s| {
        ["nodejs", "app_pool"]
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
    assert_eq!(
        process.event_loop_lag_seconds,
        Some(value("nodejs_eventloop_lag_seconds", &[]))
    );
    assert_eq!(
        process.rss_bytes,
        Some(value("process_resident_memory_bytes", &[]) as u64)
    );
    let cpu = agent.query("process_cpu_seconds_total");
    assert_eq!(cpu[0].1, value("process_cpu_seconds_total", &[]));

    let pool = &snapshot.pools[0];
    let l = [("pool", "pg-main")];
    assert_eq!(
        (pool.name.as_str(), pool.kind.as_str()),
        ("pg-main", "app_pool")
    );
    assert_eq!(pool.size, Some(value("app_pool_size", &l)));
    assert_eq!(pool.active, Some(value("app_pool_active", &l)));
    assert_eq!(pool.idle, Some(value("app_pool_idle", &l)));
    assert_eq!(pool.waiting, Some(value("app_pool_waiting", &l)));
    assert_eq!(pool.max, Some(10.0));
    assert_eq!(pool.utilization, Some(0.5));

    // The default rules read the same numbers from the store, under the
    // normalized names.
    let stored = |expr: &str| agent.query(expr).first().map(|(_, v)| *v);
    assert_eq!(
        stored(r#"opsdeck_process_heap_used_bytes{runtime="nodejs"}"#),
        process.heap_used_bytes
    );
    assert_eq!(
        stored(r#"opsdeck_pool_utilization_ratio{pool="pg-main", kind="app_pool"}"#),
        pool.utilization
    );
    drop(app);
}
