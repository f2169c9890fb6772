//! Steady-state cost of an agent scraping one 5,000-series target every
//! second, with host and process collection and the default rule pack, in
//! its own process; side by side with `prometheus-node-exporter` (when
//! installed) scraped once a second. Reports CPU (% of one core) and RSS
//! from /proc. Budget: RSS <= 12 MB, CPU <= 0.5 %; at most half of
//! node_exporter's on both.
//!
//! `cargo bench -p opsdeck-agent --bench steady_state` (release build);
//! `OPSDECK_BENCH_SECONDS` sets the measured window (default 30 s, after a
//! 10 s warm-up). Linux only.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_CONFIG_VAR: &str = "OPSDECK_BENCH_AGENT_CONFIG";
const WARM_UP: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(path) = std::env::var(CHILD_CONFIG_VAR) {
        return run_agent(&path);
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("steady_state: run with `cargo bench` to measure");
        return Ok(());
    }
    let seconds: u64 = std::env::var("OPSDECK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Runtime::new()?;
    let body = support::exposition(8, 4, 5_000 - 100);
    let series = support::series_count(&body);
    let target = runtime.block_on(support::serve(body))?;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "listen:\n  address: 127.0.0.1:0\ndata_dir: {}\nlog:\n  level: warn\nscrape:\n  - name: app\n    url: http://{target}/metrics\n    interval: 1s\n    timeout: 1s\nprocess:\n  pid: {}\n",
            dir.path().join("data").display(),
            std::process::id()
        ),
    )?;
    let agent = Guard(
        Command::new(std::env::current_exe()?)
            .env(CHILD_CONFIG_VAR, &config)
            .stdout(Stdio::null())
            .spawn()?,
    );
    let exporter = start_node_exporter();

    std::thread::sleep(WARM_UP);
    let client = reqwest::blocking::Client::new();
    let agent_start = Usage::read(agent.0.id());
    let exporter_start = exporter.as_ref().and_then(|(e, _)| Usage::read(e.0.id()));
    let mut agent_rss = Vec::new();
    let mut exporter_rss = Vec::new();
    let started = Instant::now();
    for _ in 0..seconds {
        let tick = Instant::now();
        if let Some((exporter, url)) = &exporter {
            let _ = client.get(url).send().and_then(|r| r.bytes());
            exporter_rss.extend(Usage::read(exporter.0.id()).map(|u| u.rss_bytes));
        }
        agent_rss.extend(Usage::read(agent.0.id()).map(|u| u.rss_bytes));
        std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = |name: &str, start: Option<Usage>, pid: u32, rss: &[u64]| {
        let (Some(start), Some(end)) = (start, Usage::read(pid)) else {
            println!("{name}: could not read /proc/{pid}");
            return;
        };
        let cpu = (end.cpu_seconds - start.cpu_seconds) / elapsed * 100.0;
        let max = rss.iter().copied().max().unwrap_or(0) as f64 / 1048576.0;
        let avg = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64 / 1048576.0;
        println!("{name}: CPU {cpu:.2} % of one core, RSS avg {avg:.1} MiB, max {max:.1} MiB over {elapsed:.0} s");
    };
    println!("steady state: one {series}-series target scraped every 1 s, host + process collectors, default rules");
    report("opsdeck agent", agent_start, agent.0.id(), &agent_rss);
    match &exporter {
        Some((e, _)) => report(
            "prometheus-node-exporter (scraped every 1 s)",
            exporter_start,
            e.0.id(),
            &exporter_rss,
        ),
        None => println!("prometheus-node-exporter not installed: no comparison"),
    }
    drop(runtime);
    Ok(())
}

/// The child: an agent as `opsdeck agent` runs it.
fn run_agent(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    opsdeck_agent::memory::limit_malloc_arenas();
    let config = opsdeck_agent::config::load(std::path::Path::new(path))?;
    let runtime = opsdeck_agent::memory::agent_runtime()?;
    runtime.block_on(async {
        let _agent = opsdeck_agent::start(config).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_node_exporter() -> Option<(Guard, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((Guard(child), format!("http://127.0.0.1:{port}/metrics")))
}

/// CPU time and RSS of a process, from /proc.
struct Usage {
    cpu_seconds: f64,
    rss_bytes: u64,
}

impl Usage {
    fn read(pid: u32) -> Option<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse()
            .ok()?;
        Some(Usage {
            cpu_seconds: ticks / hz,
            rss_bytes: rss_kib * 1024,
        })
    }
}
