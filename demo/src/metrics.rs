//! The node's `/metrics`: a Prometheus registry with the names real client
//! libraries use (prom-client for the runtime, the opsdeck `app_pool_*` and
//! `app_shard_*` conventions for the application). Counters and histograms
//! are fed as the simulation steps; gauges are read from its state when
//! scraped. A node restart is a new process, so it gets a new registry and
//! its counters start again from zero, as real ones would.

use prometheus::core::Collector;
use prometheus::{
    Counter, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::runtime::GcKind;
use crate::shard::ShardState;
use crate::sim::NodeSim;
use crate::traffic::{Request, CODES, ROUTES};

/// The Content-Type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The Node.js version the node claims to run.
const NODE_VERSION: (&str, &str, &str, &str) = ("v20.11.1", "20", "11", "1");
/// prom-client's default buckets for HTTP request durations.
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// prom-client's buckets for `nodejs_gc_duration_seconds`.
const GC_BUCKETS: [f64; 6] = [0.001, 0.01, 0.1, 1.0, 2.0, 5.0];

/// `nodejs_eventloop_lag_seconds` and its siblings: (name infix, help).
const LAG_SERIES: [(&str, &str); 8] = [
    ("", ""),
    ("_min", ", the minimum recorded"),
    ("_max", ", the maximum recorded"),
    ("_mean", ", the mean of those recorded"),
    ("_stddev", ", the standard deviation of those recorded"),
    ("_p50", ", the 50th percentile recorded"),
    ("_p90", ", the 90th percentile recorded"),
    ("_p99", ", the 99th percentile recorded"),
];

pub struct Metrics {
    registry: Registry,
    runtime: RuntimeMetrics,
    process: ProcessMetrics,
    http: HttpMetrics,
    pool: PoolMetrics,
    shards: ShardMetrics,
}

struct RuntimeMetrics {
    heap_used: Gauge,
    heap_total: Gauge,
    external: Gauge,
    space_total: GaugeVec,
    space_used: GaugeVec,
    space_available: GaugeVec,
    /// The gauges of [`LAG_SERIES`], in that order.
    lag: Vec<Gauge>,
    gc_duration: HistogramVec,
    version_info: GaugeVec,
}

struct ProcessMetrics {
    cpu_seconds: Counter,
    resident: Gauge,
    start_time: Gauge,
    open_fds: IntGauge,
}

struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

struct PoolMetrics {
    size: IntGaugeVec,
    max: IntGaugeVec,
    active: IntGaugeVec,
    idle: IntGaugeVec,
    waiting: IntGaugeVec,
    acquire_timeouts: IntCounterVec,
}

struct ShardMetrics {
    status: IntGaugeVec,
    status_code: IntGaugeVec,
    guilds: IntGaugeVec,
    latency: GaugeVec,
    last_heartbeat: GaugeVec,
    ready_time: GaugeVec,
    restarts: IntCounterVec,
    identify_budget: IntGauge,
    identify_queue: IntGauge,
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: Result<C, prometheus::Error>,
) -> Result<C, prometheus::Error> {
    let collector = collector?;
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Metrics {
    /// A fresh registry for a process that runs `shards` shards and the `pools`.
    pub fn new(shards: u32, pools: &[&str]) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let lag = LAG_SERIES
            .iter()
            .map(|(suffix, help)| {
                register(
                    r,
                    Gauge::new(
                        format!("nodejs_eventloop_lag{suffix}_seconds"),
                        format!("Event loop lag in seconds{help}."),
                    ),
                )
            })
            .collect::<Result<_, _>>()?;
        let runtime = RuntimeMetrics {
            heap_used: register(r, Gauge::new("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes."))?,
            heap_total: register(r, Gauge::new("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes."))?,
            external: register(r, Gauge::new("nodejs_external_memory_bytes", "Node.js external memory size in bytes."))?,
            space_total: register(r, GaugeVec::new(Opts::new("nodejs_heap_space_size_total_bytes", "Process heap space size total from Node.js in bytes."), &["space"]))?,
            space_used: register(r, GaugeVec::new(Opts::new("nodejs_heap_space_size_used_bytes", "Process heap space size used from Node.js in bytes."), &["space"]))?,
            space_available: register(r, GaugeVec::new(Opts::new("nodejs_heap_space_size_available_bytes", "Process heap space size available from Node.js in bytes."), &["space"]))?,
            lag,
            gc_duration: register(r, HistogramVec::new(HistogramOpts::new("nodejs_gc_duration_seconds", "Garbage collection duration by kind, one of minor, major, incremental or weakcb.").buckets(GC_BUCKETS.to_vec()), &["kind"]))?,
            version_info: register(r, GaugeVec::new(Opts::new("nodejs_version_info", "Node.js version info."), &["version", "major", "minor", "patch"]))?,
        };
        let process = ProcessMetrics {
            cpu_seconds: register(
                r,
                Counter::new(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                ),
            )?,
            resident: register(
                r,
                Gauge::new(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                ),
            )?,
            start_time: register(
                r,
                Gauge::new(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                ),
            )?,
            open_fds: register(
                r,
                IntGauge::new("process_open_fds", "Number of open file descriptors."),
            )?,
        };
        let http = HttpMetrics {
            requests: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "http_requests_total",
                        "HTTP requests served, by method, route and status code.",
                    ),
                    &["method", "route", "code"],
                ),
            )?,
            duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "HTTP request duration in seconds, by method and route.",
                    )
                    .buckets(HTTP_BUCKETS.to_vec()),
                    &["method", "route"],
                ),
            )?,
        };
        let pool = PoolMetrics {
            size: register(
                r,
                IntGaugeVec::new(
                    Opts::new("app_pool_size", "Open connections in the pool."),
                    &["pool"],
                ),
            )?,
            max: register(
                r,
                IntGaugeVec::new(
                    Opts::new("app_pool_max", "Most connections the pool may open."),
                    &["pool"],
                ),
            )?,
            active: register(
                r,
                IntGaugeVec::new(
                    Opts::new("app_pool_active", "Connections checked out of the pool."),
                    &["pool"],
                ),
            )?,
            idle: register(
                r,
                IntGaugeVec::new(
                    Opts::new("app_pool_idle", "Open connections waiting in the pool."),
                    &["pool"],
                ),
            )?,
            waiting: register(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "app_pool_waiting",
                        "Clients waiting to acquire a connection.",
                    ),
                    &["pool"],
                ),
            )?,
            acquire_timeouts: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "app_pool_acquire_timeouts_total",
                        "Acquires that gave up waiting for a connection.",
                    ),
                    &["pool"],
                ),
            )?,
        };
        let shard_metrics = ShardMetrics {
            status: register(r, IntGaugeVec::new(Opts::new("app_shard_status", "Shard state, one-hot: 1 for the current state, 0 for the others."), &["shard", "state"]))?,
            status_code: register(r, IntGaugeVec::new(Opts::new("app_shard_status_code", "Shard state as a code: 0 dead, 1 disconnected, 2 starting, 3 draining, 4 drained, 5 ready."), &["shard"]))?,
            guilds: register(r, IntGaugeVec::new(Opts::new("app_shard_guilds", "Guilds the shard serves."), &["shard"]))?,
            latency: register(r, GaugeVec::new(Opts::new("app_shard_latency_seconds", "Gateway heartbeat round trip of the shard, last measured."), &["shard"]))?,
            last_heartbeat: register(r, GaugeVec::new(Opts::new("app_shard_last_heartbeat_timestamp_seconds", "When the shard last sent a gateway heartbeat, since unix epoch."), &["shard"]))?,
            ready_time: register(r, GaugeVec::new(Opts::new("app_shard_ready_timestamp_seconds", "When the shard last became ready, since unix epoch."), &["shard"]))?,
            restarts: register(r, IntCounterVec::new(Opts::new("app_shard_restarts_total", "Shard restarts of any cause: operator, crash respawn or node restart."), &["shard"]))?,
            identify_budget: register(r, IntGauge::new("app_identify_budget_remaining", "Gateway identifies left in the current 24 h window (Discord session_start_limit.remaining)."))?,
            identify_queue: register(r, IntGauge::new("app_identify_queue_length", "Shards waiting for an identify slot (one per 5 s)."))?,
        };

        // Counters start at zero for every label set, so rate() and
        // increase() work from the first scrape on.
        for (method, route, _) in ROUTES {
            for code in CODES {
                http.requests.with_label_values(&[method, route, code]);
            }
            http.duration.with_label_values(&[method, route]);
        }
        for kind in GcKind::ALL {
            runtime.gc_duration.with_label_values(&[kind.as_str()]);
        }
        for name in pools {
            pool.acquire_timeouts.with_label_values(&[name]);
        }
        for shard in 0..shards {
            shard_metrics
                .restarts
                .with_label_values(&[&shard.to_string()]);
        }
        let (version, major, minor, patch) = NODE_VERSION;
        runtime
            .version_info
            .with_label_values(&[version, major, minor, patch])
            .set(1.0);

        Ok(Self {
            registry,
            runtime,
            process,
            http,
            pool,
            shards: shard_metrics,
        })
    }

    pub fn record_requests(&self, requests: &[Request]) {
        for request in requests {
            self.http
                .requests
                .with_label_values(&[request.method, request.route, request.code])
                .inc();
            self.http
                .duration
                .with_label_values(&[request.method, request.route])
                .observe(request.duration_secs);
        }
    }

    pub fn record_gcs(&self, gcs: &[(GcKind, f64)]) {
        for (kind, pause) in gcs {
            self.runtime
                .gc_duration
                .with_label_values(&[kind.as_str()])
                .observe(*pause);
        }
    }

    pub fn add_cpu_seconds(&self, seconds: f64) {
        self.process.cpu_seconds.inc_by(seconds.max(0.0));
    }

    pub fn add_acquire_timeouts(&self, pool: &str, timeouts: u64) {
        self.pool
            .acquire_timeouts
            .with_label_values(&[pool])
            .inc_by(timeouts);
    }

    pub fn count_shard_restart(&self, shard: u32) {
        self.shards
            .restarts
            .with_label_values(&[&shard.to_string()])
            .inc();
    }

    /// Sets every gauge from the node's state and encodes the exposition.
    pub fn render(&self, sim: &NodeSim) -> Result<String, prometheus::Error> {
        self.set_runtime(sim);
        self.set_pools(sim);
        self.set_shards(sim);
        let mut out = Vec::with_capacity(32 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|err| prometheus::Error::Msg(err.to_string()))
    }

    fn set_runtime(&self, sim: &NodeSim) {
        let runtime = sim.runtime();
        let m = &self.runtime;
        m.heap_used.set(runtime.heap_used());
        m.heap_total.set(runtime.heap_total());
        m.external.set(runtime.external());
        for space in runtime.heap_spaces() {
            m.space_total
                .with_label_values(&[space.space])
                .set(space.total);
            m.space_used
                .with_label_values(&[space.space])
                .set(space.used);
            m.space_available
                .with_label_values(&[space.space])
                .set(space.total - space.used);
        }
        let lag = runtime.lag_stats();
        let values = [
            lag.current,
            lag.min,
            lag.max,
            lag.mean,
            lag.stddev,
            lag.p50,
            lag.p90,
            lag.p99,
        ];
        for (gauge, value) in m.lag.iter().zip(values) {
            gauge.set(value);
        }
        let p = &self.process;
        p.resident.set(runtime.resident());
        p.start_time.set(sim.process_start_time_seconds());
        let pool_connections = i64::from(sim.pool().stats().size);
        p.open_fds
            .set(24 + i64::from(sim.shard_count()) + pool_connections);
    }

    fn set_pools(&self, sim: &NodeSim) {
        let pool = sim.pool();
        let name = pool.name();
        let stats = pool.stats();
        let m = &self.pool;
        m.size.with_label_values(&[name]).set(stats.size.into());
        m.max.with_label_values(&[name]).set(stats.max.into());
        m.active.with_label_values(&[name]).set(stats.active.into());
        m.idle.with_label_values(&[name]).set(stats.idle.into());
        m.waiting
            .with_label_values(&[name])
            .set(stats.waiting.into());
    }

    fn set_shards(&self, sim: &NodeSim) {
        let m = &self.shards;
        for shard in sim.shards() {
            let id = shard.id.to_string();
            for state in ShardState::ALL {
                m.status
                    .with_label_values(&[id.as_str(), state.as_str()])
                    .set(i64::from(state == shard.state));
            }
            m.status_code
                .with_label_values(&[&id])
                .set(shard.state.code().into());
            m.guilds
                .with_label_values(&[&id])
                .set(sim.guilds().served_by(shard.id).into());
            m.latency.with_label_values(&[&id]).set(shard.latency_secs);
            if let Some(at) = shard.last_heartbeat {
                m.last_heartbeat
                    .with_label_values(&[&id])
                    .set(sim.wall_secs(at));
            }
            if let Some(at) = shard.ready_at {
                m.ready_time
                    .with_label_values(&[&id])
                    .set(sim.wall_secs(at));
            }
        }
        m.identify_budget.set(sim.identify().remaining().into());
        m.identify_queue.set(sim.identify().queued().count() as i64);
    }
}
