//! The agent's configuration: typed, with every default in the `Default`
//! impls below, unknown keys rejected. Loaded from YAML by [`load`], or
//! built in code (the demo starts agents in-process):
//!
//! ```
//! use opsdeck_agent::config::{AgentConfig, ScrapeTargetConfig, TokenConfig};
//! let mut config = AgentConfig::default();
//! config.listen.address = "127.0.0.1:0".parse().unwrap();
//! config.auth.operator_tokens.push(TokenConfig::new("demo", "demo"));
//! config.scrape.push(ScrapeTargetConfig::new("app", "http://127.0.0.1:3000/metrics".parse().unwrap()));
//! assert!(config.validate().is_ok());
//! ```
//!
//! Every key is documented in `docs/agent.md`.

mod load;
mod secrets;
mod units;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use opsdeck_alerts::notify::NotificationsConfig;
use serde::Deserialize;
use url::Url;

pub use load::{load, parse, ConfigError};
pub use secrets::Secret;
pub use units::ByteSize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub node: NodeConfig,
    pub listen: ListenConfig,
    pub auth: AuthConfig,
    /// Where the embedded database lives; default `$XDG_STATE_HOME/opsdeck/agent`.
    pub data_dir: Option<PathBuf>,
    /// How often the node view (snapshot) is rebuilt and streamed.
    #[serde(deserialize_with = "units::duration")]
    pub interval: Duration,
    /// How long samples are kept in memory.
    #[serde(deserialize_with = "units::duration")]
    pub retention: Duration,
    pub scrape: Vec<ScrapeTargetConfig>,
    pub json_stats: Vec<JsonStatsConfig>,
    pub host: HostConfig,
    pub process: Option<ProcessConfig>,
    pub profiles: ProfilesConfig,
    pub rules: RulesConfig,
    /// Receivers, routing, inhibition and delivery (docs/notifications.md).
    pub notifications: NotificationsConfig,
    pub log: LogConfig,
    /// Runbook actions (docs/runbooks.md); `actions: disabled` turns them off.
    pub actions: crate::actions::ActionsConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            node: NodeConfig::default(),
            listen: ListenConfig::default(),
            auth: AuthConfig::default(),
            data_dir: None,
            interval: Duration::from_secs(5),
            retention: Duration::from_secs(60 * 60),
            scrape: Vec::new(),
            json_stats: Vec::new(),
            host: HostConfig::default(),
            process: None,
            profiles: ProfilesConfig::default(),
            rules: RulesConfig::default(),
            notifications: NotificationsConfig::default(),
            log: LogConfig::default(),
            actions: crate::actions::ActionsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// The node's name in the fleet; default the host name.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// `127.0.0.1:9464` by default; port 0 picks a free port.
    pub address: SocketAddr,
    pub tls: Option<TlsConfig>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            address: SocketAddr::from(([127, 0, 0, 1], 9464)),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// May read everything. Required when the agent listens beyond loopback.
    pub viewer_tokens: Vec<TokenConfig>,
    /// May read and change state (actions, silences). Always required for changes.
    pub operator_tokens: Vec<TokenConfig>,
}

/// A named bearer token. The name is what audit records and logs show;
/// the token itself never appears anywhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl TokenConfig {
    pub fn new(name: impl Into<String>, token: impl Into<String>) -> Self {
        TokenConfig {
            name: name.into(),
            token: Some(Secret::new(token)),
            token_file: None,
        }
    }
}

/// Which exposition format to ask a target for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceptFormat {
    /// Prefer OpenMetrics, accept the Prometheus text format.
    #[default]
    Auto,
    Prometheus,
    OpenMetrics,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeTargetConfig {
    /// Becomes the `job` label; unique among targets.
    pub name: String,
    pub url: Url,
    #[serde(
        default = "defaults::scrape_interval",
        deserialize_with = "units::duration"
    )]
    pub interval: Duration,
    #[serde(
        default = "defaults::scrape_timeout",
        deserialize_with = "units::duration"
    )]
    pub timeout: Duration,
    /// Largest accepted body after decompression.
    #[serde(default = "defaults::body_size_limit")]
    pub body_size_limit: ByteSize,
    #[serde(default)]
    pub accept: AcceptFormat,
    /// Extra labels put on every series of this target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuthConfig>,
}

impl ScrapeTargetConfig {
    pub fn new(name: impl Into<String>, url: Url) -> Self {
        ScrapeTargetConfig {
            name: name.into(),
            url,
            interval: defaults::scrape_interval(),
            timeout: defaults::scrape_timeout(),
            body_size_limit: defaults::body_size_limit(),
            accept: AcceptFormat::Auto,
            labels: BTreeMap::new(),
            bearer_token: None,
            bearer_token_file: None,
            basic_auth: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// A JSON stats route (an app's `/pool/stats`), turned into gauges.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonStatsConfig {
    /// Becomes the `job` label; unique among targets and JSON endpoints.
    pub name: String,
    pub url: Url,
    #[serde(
        default = "defaults::scrape_interval",
        deserialize_with = "units::duration"
    )]
    pub interval: Duration,
    #[serde(
        default = "defaults::scrape_timeout",
        deserialize_with = "units::duration"
    )]
    pub timeout: Duration,
    #[serde(default = "defaults::body_size_limit")]
    pub body_size_limit: ByteSize,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub metrics: Vec<JsonMetricConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMetricConfig {
    /// The series name, e.g. `app_pool_size`.
    pub name: String,
    /// RFC 6901 JSON pointer to a number or boolean, e.g. `/pool/totalCount`.
    pub pointer: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "units::duration")]
    pub interval: Duration,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            enabled: true,
            interval: Duration::from_secs(5),
        }
    }
}

/// The application process to watch. Exactly one of `pid`, `pidfile` and
/// `name` must be set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub pidfile: Option<PathBuf>,
    /// Matches the executable name or the first command-line argument's file name.
    #[serde(default)]
    pub name: Option<String>,
    /// Count the process's descendants too (PM2 workers, shard processes).
    #[serde(default = "defaults::yes")]
    pub children: bool,
    #[serde(
        default = "defaults::scrape_interval",
        deserialize_with = "units::duration"
    )]
    pub interval: Duration,
}

/// The node view: which built-in profiles apply and what overrides them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesConfig {
    /// `auto` (default) detects the runtime from what the targets expose;
    /// or one of `nodejs`, `go`, `jvm`, `python`, `none`.
    pub runtime: RuntimeChoice,
    /// PromQL overrides for process fields, by field name
    /// (`heap_used_bytes`, `cpu_percent`, …). Each must return one number.
    pub process: BTreeMap<ProcessField, String>,
    /// Extra pool profiles, checked before the built-in ones.
    pub pools: Vec<PoolProfileConfig>,
    /// PromQL overrides for the shard view's fields.
    pub shards: BTreeMap<ShardField, String>,
    /// Turn off built-in pool detection.
    pub disable_builtin_pools: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeChoice {
    #[default]
    Auto,
    Nodejs,
    Go,
    Jvm,
    Python,
    None,
}

/// The process fields a profile defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessField {
    CpuPercent,
    RssBytes,
    HeapUsedBytes,
    HeapTotalBytes,
    HeapLimitBytes,
    GcSecondsPerSecond,
    EventLoopLagSeconds,
}

/// The shard fields the `app_shard_*` profile defines. `state` must return
/// series with a `state` label whose value is 1 for the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardField {
    State,
    Load,
    LatencySeconds,
    LastHeartbeatSeconds,
    ReadySinceSeconds,
    Restarts,
}

/// A pool profile: each expression returns one series per pool, told apart
/// by `name_label`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolProfileConfig {
    pub kind: String,
    pub name_label: String,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub active: Option<String>,
    #[serde(default)]
    pub idle: Option<String>,
    #[serde(default)]
    pub waiting: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub acquire_timeouts_total: Option<String>,
}

/// Alerting and recording rules, in Prometheus's rule file format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Load opsdeck's default rule pack (runtime, HTTP, pools, shards, targets).
    pub default_pack: bool,
    /// More rule files.
    pub files: Vec<PathBuf>,
    /// Evaluation interval of groups that set none.
    #[serde(deserialize_with = "units::duration")]
    pub interval: Duration,
    /// Divides every alerting rule's `for` and `keep_firing_for`. Leave at 1
    /// in real deployments; `opsdeck demo --speed N` sets N so alerts keep
    /// pace with the simulation's faster clock.
    pub hold_speedup: f64,
    /// How many threads evaluate a group's independent rules at once (the
    /// evaluating one included). 1, the default, evaluates every rule in
    /// turn: a sidecar keeps to one thread unless its rules need more.
    pub concurrency: usize,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            default_pack: true,
            files: Vec::new(),
            interval: Duration::from_secs(15),
            hold_speedup: 1.0,
            concurrency: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `opsdeck_agent=debug,info`.
    pub level: String,
    pub format: LogFormat,
    pub stderr: bool,
    /// Also write to daily-rotated files in this directory.
    pub dir: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
            stderr: true,
            dir: None,
        }
    }
}

/// Defaults used by `#[serde(default = ...)]` on list items, which cannot
/// use `Default` of their own struct because some fields are required.
mod defaults {
    use std::time::Duration;

    use super::ByteSize;

    pub fn scrape_interval() -> Duration {
        Duration::from_secs(5)
    }
    pub fn scrape_timeout() -> Duration {
        Duration::from_secs(3)
    }
    pub fn body_size_limit() -> ByteSize {
        ByteSize::mib(10)
    }
    pub fn yes() -> bool {
        true
    }
}

impl AgentConfig {
    /// The node name: configured, else the host name.
    pub fn node_name(&self) -> String {
        self.node
            .name
            .clone()
            .unwrap_or_else(|| crate::host_name().unwrap_or_else(|| "localhost".into()))
    }

    /// The data directory: configured, else under the XDG state directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            dirs::state_dir()
                .or_else(dirs::data_local_dir)
                .unwrap_or_else(std::env::temp_dir)
                .join("opsdeck")
                .join("agent")
        })
    }

    /// Reads every `*_file` secret into its value (done by [`load`] and by
    /// `start`, so configs built in code may use files too).
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        secrets::resolve_files(self)?;
        self.notifications
            .load_secrets(&|_| None)
            .map_err(|err| ConfigError::invalid(format!("notifications.{}", err.key), err.message))
    }

    /// Checks what types alone cannot. The error names the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        load::validate(self)
    }
}

impl ProcessField {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessField::CpuPercent => "cpu_percent",
            ProcessField::RssBytes => "rss_bytes",
            ProcessField::HeapUsedBytes => "heap_used_bytes",
            ProcessField::HeapTotalBytes => "heap_total_bytes",
            ProcessField::HeapLimitBytes => "heap_limit_bytes",
            ProcessField::GcSecondsPerSecond => "gc_seconds_per_second",
            ProcessField::EventLoopLagSeconds => "event_loop_lag_seconds",
        }
    }
}

impl ShardField {
    pub fn as_str(self) -> &'static str {
        match self {
            ShardField::State => "state",
            ShardField::Load => "load",
            ShardField::LatencySeconds => "latency_seconds",
            ShardField::LastHeartbeatSeconds => "last_heartbeat_seconds",
            ShardField::ReadySinceSeconds => "ready_since_seconds",
            ShardField::Restarts => "restarts",
        }
    }
}
