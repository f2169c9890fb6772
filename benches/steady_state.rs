//! Steady-state cost of an agent scraping one 5,000-series target every
//! second, with host and process collection and the default rule pack, in
//! its own process; side by side with `prometheus-node-exporter` (when
//! installed) scraped once a second. Reports CPU (% of one core) and RSS
//! from /proc, RSS split into anonymous memory (heap, stacks) and mapped
//! files (mostly the executable's code), and the agent's share of
//! node_exporter's figures. Budget: RSS <= 12 MB, CPU <= 0.5 %; at most
//! half of node_exporter's on both.
//!
//! `cargo bench --bench steady_state` runs the `opsdeck` binary this
//! package builds (release profile), as `opsdeck agent --config …`.
//! `OPSDECK_BENCH_SECONDS` sets the measured window (default 600 s, after
//! a 10 s warm-up, with the RSS printed every minute). Ten minutes, because
//! the steady state comes after two: the default rules' two-minute windows
//! fill (leaving resume points in the series they read) and the first
//! chunks close into the data directory; a shorter window flatters the
//! agent.
//! `OPSDECK_BENCH_AGENT_BINARY=path/to/opsdeck` measures another build
//! (an older commit, side by side). `OPSDECK_BENCH_AGENT_WRAPPER` runs the
//! agent under a command (`valgrind --tool=callgrind …`, as
//! `scripts/code-layout` does) and also exercises the agent's HTTP API
//! every few seconds, so that a profile covers what a dashboard asks for.
//! Linux only.

#[path = "../agent/benches/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WARM_UP: Duration = Duration::from_secs(10);
/// Windows at least this long also print the RSS every minute.
const LONG_RUN_SECONDS: u64 = 120;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("steady_state: run with `cargo bench` to measure");
        return Ok(());
    }
    let seconds: u64 = std::env::var("OPSDECK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let runtime = tokio::runtime::Runtime::new()?;
    let body = support::exposition(8, 4, 5_000 - 100);
    let series = support::series_count(&body);
    let target = runtime.block_on(support::serve(body))?;

    let dir = tempfile::tempdir()?;
    let agent_address = free_loopback_address()?;
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "listen:\n  address: {agent_address}\ndata_dir: {}\nlog:\n  level: warn\nscrape:\n  - name: app\n    url: http://{target}/metrics\n    interval: 1s\n    timeout: 1s\nprocess:\n  pid: {}\n",
            dir.path().join("data").display(),
            std::process::id()
        ),
    )?;
    let agent = Guard(start_agent(&config)?);
    let exporter = start_node_exporter();

    std::thread::sleep(WARM_UP);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let profiling = !wrapper().is_empty();
    let agent_start = Usage::read(agent.0.id());
    let exporter_start = exporter.as_ref().and_then(|(e, _)| Usage::read(e.0.id()));
    let mut agent_rss = Vec::new();
    let mut exporter_rss = Vec::new();
    let started = Instant::now();
    for second in 1..=seconds {
        let tick = Instant::now();
        if let Some((exporter, url)) = &exporter {
            let _ = client.get(url).send().and_then(|r| r.bytes());
            exporter_rss.extend(Usage::read(exporter.0.id()).map(|u| u.memory));
        }
        let reading = Usage::read(agent.0.id()).map(|u| u.memory);
        if seconds >= LONG_RUN_SECONDS && second % 60 == 0 {
            if let Some(m) = &reading {
                println!(
                    "  agent after {} s: {}",
                    second + WARM_UP.as_secs(),
                    m.describe()
                );
            }
        }
        agent_rss.extend(reading);
        if profiling && second % 5 == 0 {
            exercise_api(&client, &agent_address);
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("steady state: one {series}-series target scraped every 1 s, host + process collectors, default rules");
    let agent_report = Report::new(agent_start, agent.0.id(), &agent_rss, elapsed);
    print_report("opsdeck agent", agent_report.as_ref(), elapsed);
    let Some((e, _)) = &exporter else {
        println!("prometheus-node-exporter not installed: no comparison");
        return Ok(());
    };
    let exporter_report = Report::new(exporter_start, e.0.id(), &exporter_rss, elapsed);
    print_report(
        "prometheus-node-exporter (scraped every 1 s)",
        exporter_report.as_ref(),
        elapsed,
    );
    if let (Some(a), Some(n)) = (&agent_report, &exporter_report) {
        println!(
            "agent / node_exporter: CPU {:.2}, RSS {:.2} (budget: at most 0.5 on both)",
            a.cpu_percent / n.cpu_percent,
            a.memory.rss / n.memory.rss
        );
    }
    drop(runtime);
    Ok(())
}

/// `opsdeck agent --config CONFIG`: the binary this package built, or the
/// one `OPSDECK_BENCH_AGENT_BINARY` names, under the command
/// `OPSDECK_BENCH_AGENT_WRAPPER` gives, if any.
fn start_agent(config: &Path) -> std::io::Result<Child> {
    let binary = std::env::var_os("OPSDECK_BENCH_AGENT_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_opsdeck").into());
    evict_from_page_cache(Path::new(&binary))?;
    let wrapper = wrapper();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .arg("agent")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .spawn()
}

/// Writes `file` out and drops its pages from the page cache, so that
/// every build is measured from the same start. A binary just built or
/// copied sits wholly in the page cache, and a fault on its code then maps
/// the cached pages around the faulting one too (fault-around, 64 KiB):
/// the first run of a fresh copy showed about 1.4 MiB more file-backed RSS
/// than later runs of the same file, enough to turn a comparison of two
/// builds around.
fn evict_from_page_cache(file: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(file)?;
    // Dirty pages are not dropped: write them out first.
    file.sync_all()?;
    // SAFETY: advice about our own open file descriptor.
    let failed = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    match failed {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

fn wrapper() -> Vec<String> {
    std::env::var("OPSDECK_BENCH_AGENT_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// What a dashboard and a Prometheus-style client ask an agent for, so
/// that a profile taken under `OPSDECK_BENCH_AGENT_WRAPPER` covers the
/// code that serves them. Answers are read and dropped.
fn exercise_api(client: &reqwest::blocking::Client, agent: &str) {
    let paths = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/snapshot",
        "/api/v1/alerts",
        "/api/v1/rules",
        "/api/v1/query?query=sum%20by%20(code)%20(rate(http_requests_total%5B1m%5D))",
        "/api/v1/query?query=app_pool_active%20%2F%20app_pool_max",
        "/api/v1/query_range?query=nodejs_heap_size_used_bytes&start=-60&end=0&step=5",
    ];
    for path in paths {
        let _ = client
            .get(format!("http://{agent}{path}"))
            .send()
            .and_then(|r| r.bytes());
    }
    // The stream's first event is a full snapshot; reading it is enough.
    if let Ok(mut stream) = client.get(format!("http://{agent}/api/v1/stream")).send() {
        let mut first = [0u8; 4096];
        let _ = std::io::Read::read(&mut stream, &mut first);
    }
}

struct Guard(Child);

/// How long a child gets to exit after SIGTERM (a profiler writing its
/// output) before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(60);

/// Stops the child with SIGTERM, as a service manager would, so that an
/// agent under a profiler exits cleanly and the profile gets written.
impl Drop for Guard {
    fn drop(&mut self) {
        let Ok(pid) = libc::pid_t::try_from(self.0.id()) else {
            return;
        };
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_address() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
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

/// One process's figures over the window.
struct Report {
    cpu_percent: f64,
    /// Averages over the per-second readings.
    memory: Memory<f64>,
    max_rss: f64,
    last_rss: f64,
}

impl Report {
    fn new(
        start: Option<Usage>,
        pid: u32,
        readings: &[Memory<u64>],
        elapsed: f64,
    ) -> Option<Report> {
        let (Some(start), Some(end)) = (start, Usage::read(pid)) else {
            println!("could not read /proc/{pid}");
            return None;
        };
        let mib = |bytes: u64| bytes as f64 / 1048576.0;
        let n = readings.len().max(1) as f64;
        let average = |field: fn(&Memory<u64>) -> u64| {
            readings.iter().map(field).sum::<u64>() as f64 / n / 1048576.0
        };
        Some(Report {
            cpu_percent: (end.cpu_seconds - start.cpu_seconds) / elapsed * 100.0,
            memory: Memory {
                rss: average(|m| m.rss),
                anon: average(|m| m.anon),
                file: average(|m| m.file),
            },
            max_rss: mib(readings.iter().map(|m| m.rss).max().unwrap_or(0)),
            last_rss: mib(readings.last().map_or(0, |m| m.rss)),
        })
    }
}

fn print_report(name: &str, report: Option<&Report>, elapsed: f64) {
    let Some(r) = report else { return };
    println!(
        "{name}: CPU {:.2} % of one core, RSS avg {:.1} MiB (anon {:.1}, file {:.1}), max {:.1} MiB, at the end {:.1} MiB, over {elapsed:.0} s",
        r.cpu_percent, r.memory.rss, r.memory.anon, r.memory.file, r.max_rss, r.last_rss
    );
}

/// Resident memory: all of it, anonymous (heap, stacks, relocated data)
/// and file-backed (the executable and libraries' pages), as
/// /proc/PID/status counts them.
#[derive(Clone, Copy)]
struct Memory<T> {
    rss: T,
    anon: T,
    file: T,
}

impl Memory<u64> {
    fn describe(&self) -> String {
        let mib = |bytes: u64| bytes as f64 / 1048576.0;
        format!(
            "RSS {:.1} MiB (anon {:.1}, file {:.1})",
            mib(self.rss),
            mib(self.anon),
            mib(self.file)
        )
    }
}

/// CPU time and memory of a process, from /proc.
struct Usage {
    cpu_seconds: f64,
    memory: Memory<u64>,
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
        let kib = |key: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))?
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .ok()
        };
        Some(Usage {
            cpu_seconds: ticks / hz,
            memory: Memory {
                rss: kib("VmRSS:")? * 1024,
                anon: kib("RssAnon:")? * 1024,
                // Shared memory is file-backed too (an executable on tmpfs).
                file: (kib("RssFile:")? + kib("RssShmem:").unwrap_or(0)) * 1024,
            },
        })
    }
}
