//! The agent against a real `prometheus-node-exporter` (a Go program):
//! the Go runtime profile is detected and its heap, RSS and every raw
//! sample equal what the exposition the agent scraped says. The scrape
//! goes through a recording proxy so the test sees exactly that body.
//! Skipped, with a message, when node_exporter is not installed.

mod agent_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_support::{eventually, exposition_value, Agent, Behavior, FixtureServer};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn go_runtime_numbers_equal_node_exporters_exposition() {
    let binary = "prometheus-node-exporter";
    if Command::new(binary).arg("--version").output().is_err() {
        println!("{binary} is not installed (apt-get install prometheus-node-exporter): skipping");
        return;
    }
    let port = free_port();
    let exporter = KillOnDrop(
        Command::new(binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node exporter"),
    );
    let upstream = format!("http://127.0.0.1:{port}/metrics");
    eventually("node exporter up", Duration::from_secs(10), || {
        reqwest::blocking::get(&upstream)
            .ok()
            .filter(|r| r.status() == 200)
    });

    let proxy = FixtureServer::start();
    let url = proxy.route("/metrics", Behavior::Proxy(upstream));
    // One scrape only: the interval is longer than the test.
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nscrape:\n  - name: node\n    url: {url}\n    interval: 5m\n    timeout: 10s\n"
    ));
    let snapshot = agent.snapshot_where("go profile from node exporter", |s| {
        s.node.profiles.iter().any(|p| p == "go") && s.targets.iter().all(|t| t.up)
    });
    let served = proxy.served("/metrics");
    assert_eq!(served.len(), 1, "exactly one scrape");
    let body = &served[0];
    let value = |name: &str| exposition_value(body, name, &[]).unwrap_or_else(|| panic!("{name}"));

    let process = snapshot.process.expect("process section");
    assert_eq!(
        process.heap_used_bytes,
        Some(value("go_memstats_heap_alloc_bytes"))
    );
    assert_eq!(
        process.heap_total_bytes,
        Some(value("go_memstats_heap_sys_bytes"))
    );
    assert_eq!(
        process.rss_bytes,
        Some(value("process_resident_memory_bytes") as u64)
    );
    for name in [
        "node_memory_MemTotal_bytes",
        "node_load1",
        "process_cpu_seconds_total",
    ] {
        let queried = agent.query(&format!("{name}{{job=\"node\"}}"));
        assert_eq!(queried.len(), 1, "{name}");
        assert_eq!(queried[0].1, value(name), "{name}");
    }
    let parsed = opsdeck_metrics::exposition::parse(
        body,
        opsdeck_metrics::exposition::Format::PrometheusText,
    )
    .expect("node exporter exposition parses");
    assert_eq!(
        agent.query("scrape_samples_scraped")[0].1,
        parsed.samples.len() as f64
    );
    drop(exporter);
}
