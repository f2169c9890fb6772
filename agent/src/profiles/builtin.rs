//! The built-in profiles: PromQL definitions of the node view for the
//! common client libraries. Names and dialects are from the libraries'
//! own exporters (see FIELD-NOTES "Runtime metric names" and
//! "Connection-pool names"). Documented in `docs/agent.md`.

use crate::config::{ProcessField, ShardField};

/// A runtime (language client library) profile.
pub(crate) struct RuntimeProfile {
    pub name: &'static str,
    /// The runtime is detected when any of these metrics has a fresh sample.
    pub markers: &'static [&'static str],
    /// Definitions that replace the generic ones in [`GENERIC_PROCESS`].
    pub fields: &'static [(ProcessField, &'static str)],
}

/// Process fields every runtime shares: the agent's own process collector
/// first, the app's `process_*` series second.
pub(crate) const GENERIC_PROCESS: &[(ProcessField, &str)] = &[
    (
        ProcessField::CpuPercent,
        "sum(rate(opsdeck_process_cpu_seconds_total[1m])) * 100 or sum(rate(process_cpu_seconds_total[1m])) * 100",
    ),
    (
        ProcessField::RssBytes,
        "sum(opsdeck_process_resident_memory_bytes) or sum(process_resident_memory_bytes)",
    ),
];

/// Checked in this order when the runtime is `auto`.
pub(crate) const RUNTIMES: &[RuntimeProfile] = &[
    RuntimeProfile {
        name: "nodejs",
        markers: &["nodejs_heap_size_used_bytes"],
        fields: &[
            (ProcessField::HeapUsedBytes, "sum(nodejs_heap_size_used_bytes)"),
            (ProcessField::HeapTotalBytes, "sum(nodejs_heap_size_total_bytes)"),
            // prom-client has no heap limit; an app may export
            // `v8.getHeapStatistics().heap_size_limit` under this name.
            (ProcessField::HeapLimitBytes, "sum(app_heap_limit_bytes)"),
            (
                ProcessField::GcSecondsPerSecond,
                "sum(rate(nodejs_gc_duration_seconds_sum[1m]))",
            ),
            (ProcessField::EventLoopLagSeconds, "max(nodejs_eventloop_lag_seconds)"),
        ],
    },
    RuntimeProfile {
        name: "go",
        markers: &["go_memstats_heap_alloc_bytes"],
        fields: &[
            (ProcessField::HeapUsedBytes, "sum(go_memstats_heap_alloc_bytes)"),
            (ProcessField::HeapTotalBytes, "sum(go_memstats_heap_sys_bytes)"),
            // GOMEMLIMIT defaults to math.MaxInt64, which means "no limit".
            (ProcessField::HeapLimitBytes, "sum(go_gc_gomemlimit_bytes < 9e18)"),
            (
                ProcessField::GcSecondsPerSecond,
                "sum(rate(go_gc_duration_seconds_sum[1m]))",
            ),
        ],
    },
    RuntimeProfile {
        name: "jvm",
        // client_java 1.x and Micrometer, then the legacy hotspot word order.
        markers: &["jvm_memory_used_bytes", "jvm_memory_bytes_used"],
        fields: &[
            (
                ProcessField::HeapUsedBytes,
                r#"sum(jvm_memory_used_bytes{area="heap"}) or sum(jvm_memory_bytes_used{area="heap"})"#,
            ),
            (
                ProcessField::HeapTotalBytes,
                r#"sum(jvm_memory_committed_bytes{area="heap"}) or sum(jvm_memory_bytes_committed{area="heap"})"#,
            ),
            // Micrometer reports -1 for pools without a maximum.
            (
                ProcessField::HeapLimitBytes,
                r#"sum(jvm_memory_max_bytes{area="heap"} > 0) or sum(jvm_memory_bytes_max{area="heap"} > 0)"#,
            ),
            (
                ProcessField::GcSecondsPerSecond,
                "sum(rate(jvm_gc_pause_seconds_sum[1m])) or sum(rate(jvm_gc_collection_seconds_sum[1m]))",
            ),
            // Micrometer's process_cpu_usage is a 0-1 share of all cores.
            (
                ProcessField::CpuPercent,
                "sum(rate(opsdeck_process_cpu_seconds_total[1m])) * 100 or sum(rate(process_cpu_seconds_total[1m])) * 100 or sum(process_cpu_usage) * scalar(max(system_cpu_count)) * 100",
            ),
        ],
    },
    RuntimeProfile {
        name: "python",
        // prometheus_client has no heap metric; the generic process fields apply.
        markers: &["python_info", "python_gc_objects_collected_total"],
        fields: &[],
    },
];

/// A pool profile: each expression returns one series per pool, named by
/// `name_label`.
pub(crate) struct PoolProfile {
    pub kind: &'static str,
    pub name_label: &'static str,
    pub markers: &'static [&'static str],
    pub size: Option<&'static str>,
    pub active: Option<&'static str>,
    pub idle: Option<&'static str>,
    pub waiting: Option<&'static str>,
    pub max: Option<&'static str>,
    pub acquire_timeouts_total: Option<&'static str>,
}

pub(crate) const POOLS: &[PoolProfile] = &[
    PoolProfile {
        kind: "app_pool",
        name_label: "pool",
        markers: &["app_pool_size", "app_pool_active"],
        size: Some("sum by (pool) (app_pool_size)"),
        active: Some("sum by (pool) (app_pool_active)"),
        idle: Some("sum by (pool) (app_pool_idle)"),
        waiting: Some("sum by (pool) (app_pool_waiting)"),
        max: Some("sum by (pool) (app_pool_max)"),
        acquire_timeouts_total: Some("sum by (pool) (app_pool_acquire_timeouts_total)"),
    },
    // Micrometer's names first, then HikariCP's own collector.
    PoolProfile {
        kind: "hikaricp",
        name_label: "pool",
        markers: &["hikaricp_connections_active", "hikaricp_active_connections"],
        size: Some("sum by (pool) (hikaricp_connections)"),
        active: Some(
            "sum by (pool) (hikaricp_connections_active) or sum by (pool) (hikaricp_active_connections)",
        ),
        idle: Some(
            "sum by (pool) (hikaricp_connections_idle) or sum by (pool) (hikaricp_idle_connections)",
        ),
        waiting: Some(
            "sum by (pool) (hikaricp_connections_pending) or sum by (pool) (hikaricp_pending_threads)",
        ),
        max: Some(
            "sum by (pool) (hikaricp_connections_max) or sum by (pool) (hikaricp_max_connections)",
        ),
        acquire_timeouts_total: Some(
            "sum by (pool) (hikaricp_connections_timeout_total) or sum by (pool) (hikaricp_connection_timeout_total)",
        ),
    },
    // pgbouncer_exporter: pools per (database, user); the pool size is on
    // the databases metric, whose pgbouncer database name is `name`.
    PoolProfile {
        kind: "pgbouncer",
        name_label: "database",
        markers: &["pgbouncer_pools_server_active_connections"],
        size: Some(
            "sum by (database) (pgbouncer_pools_server_active_connections) + sum by (database) (pgbouncer_pools_server_idle_connections) + sum by (database) (pgbouncer_pools_server_used_connections)",
        ),
        active: Some("sum by (database) (pgbouncer_pools_server_active_connections)"),
        idle: Some("sum by (database) (pgbouncer_pools_server_idle_connections)"),
        waiting: Some("sum by (database) (pgbouncer_pools_client_waiting_connections)"),
        max: Some(
            r#"sum by (database) (label_replace(pgbouncer_databases_pool_size, "database", "$1", "name", "(.+)"))"#,
        ),
        acquire_timeouts_total: None,
    },
    PoolProfile {
        kind: "go_sql",
        name_label: "db_name",
        markers: &["go_sql_open_connections"],
        size: Some("sum by (db_name) (go_sql_open_connections)"),
        active: Some("sum by (db_name) (go_sql_in_use_connections)"),
        idle: Some("sum by (db_name) (go_sql_idle_connections)"),
        waiting: None,
        max: Some("sum by (db_name) (go_sql_max_open_connections)"),
        acquire_timeouts_total: None,
    },
];

/// The `app_shard_*` convention, field by field. `state` returns the
/// one-hot `app_shard_status{shard,state}` series that are 1.
pub(crate) const SHARD_MARKERS: &[&str] = &["app_shard_status"];

pub(crate) const SHARDS: &[(ShardField, &str)] = &[
    (
        ShardField::State,
        "max by (shard, state) (app_shard_status) == 1",
    ),
    (
        ShardField::Load,
        "max by (shard) (app_shard_load) or max by (shard) (app_shard_guilds)",
    ),
    (
        ShardField::LatencySeconds,
        "max by (shard) (app_shard_latency_seconds)",
    ),
    (
        ShardField::LastHeartbeatSeconds,
        "max by (shard) (app_shard_last_heartbeat_timestamp_seconds)",
    ),
    (
        ShardField::ReadySinceSeconds,
        "max by (shard) (app_shard_ready_timestamp_seconds)",
    ),
    (
        ShardField::Restarts,
        "max by (shard) (app_shard_restarts_total)",
    ),
];
