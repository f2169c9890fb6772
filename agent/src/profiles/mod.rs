//! Profiles: the node view (heap, CPU, pools, shards) defined as PromQL
//! over the store. Built-in profiles are detected from what the targets
//! expose; the config can pin the runtime, override any field's
//! expression and add pool profiles.

mod builtin;
mod series;

pub(crate) use series::{node_view_samples, SOURCE as NODE_VIEW_SOURCE};

use std::collections::BTreeMap;

use opsdeck_metrics::promql::{Engine, Query, Value};
use opsdeck_metrics::{is_stale_nan, Labels, Matcher, Queryable, METRIC_NAME};

use crate::api::{PoolStats, ShardState, ShardStats};
use crate::config::{
    ConfigError, PoolProfileConfig, ProcessField, ProfilesConfig, RuntimeChoice, ShardField,
};

/// How far back a marker metric counts as present, as PromQL's lookback.
const MARKER_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Checks that every PromQL expression in the config parses.
pub(crate) fn validate_config(config: &ProfilesConfig) -> Result<(), ConfigError> {
    for (field, expr) in &config.process {
        compile(expr, || format!("profiles.process.{}", field.as_str()))?;
    }
    for (field, expr) in &config.shards {
        compile(expr, || format!("profiles.shards.{}", field.as_str()))?;
    }
    for (i, pool) in config.pools.iter().enumerate() {
        CompiledPool::from_config(pool, &format!("profiles.pools[{i}]"))?;
    }
    Ok(())
}

fn compile(expr: &str, key: impl Fn() -> String) -> Result<Query, ConfigError> {
    Query::parse(expr).map_err(|err| ConfigError::invalid(key(), format!("{expr:?}: {err}")))
}

/// Compiles a built-in expression; they are covered by a unit test, so a
/// failure here is a bug in this file, reported rather than panicking.
fn compile_builtin(expr: &str) -> Option<Query> {
    match Query::parse(expr) {
        Ok(query) => Some(query),
        Err(err) => {
            tracing::error!(expr, %err, "built-in profile expression does not parse");
            None
        }
    }
}

struct CompiledRuntime {
    name: &'static str,
    markers: &'static [&'static str],
    fields: Vec<(ProcessField, Query)>,
}

struct CompiledPool {
    kind: String,
    name_label: String,
    /// Empty for configured profiles: they always apply.
    markers: &'static [&'static str],
    size: Option<Query>,
    active: Option<Query>,
    idle: Option<Query>,
    waiting: Option<Query>,
    max: Option<Query>,
    acquire_timeouts_total: Option<Query>,
}

impl CompiledPool {
    fn from_config(pool: &PoolProfileConfig, key: &str) -> Result<Self, ConfigError> {
        let field = |expr: &Option<String>, name: &str| {
            expr.as_deref()
                .map(|e| compile(e, || format!("{key}.{name}")))
                .transpose()
        };
        Ok(CompiledPool {
            kind: pool.kind.clone(),
            name_label: pool.name_label.clone(),
            markers: &[],
            size: field(&pool.size, "size")?,
            active: field(&pool.active, "active")?,
            idle: field(&pool.idle, "idle")?,
            waiting: field(&pool.waiting, "waiting")?,
            max: field(&pool.max, "max")?,
            acquire_timeouts_total: field(&pool.acquire_timeouts_total, "acquire_timeouts_total")?,
        })
    }

    fn builtin(pool: &builtin::PoolProfile) -> Self {
        let field = |expr: Option<&str>| expr.and_then(compile_builtin);
        CompiledPool {
            kind: pool.kind.into(),
            name_label: pool.name_label.into(),
            markers: pool.markers,
            size: field(pool.size),
            active: field(pool.active),
            idle: field(pool.idle),
            waiting: field(pool.waiting),
            max: field(pool.max),
            acquire_timeouts_total: field(pool.acquire_timeouts_total),
        }
    }
}

/// The process fields of the node view, by field.
pub(crate) type ProcessValues = BTreeMap<ProcessField, f64>;

/// What the profiles found at one instant.
#[derive(Debug, Default)]
pub(crate) struct NodeView {
    /// Names of the profiles that applied, e.g. `nodejs`, `app_pool`, `app_shard`.
    pub profiles: Vec<String>,
    pub process: ProcessValues,
    pub pools: Vec<PoolStats>,
    pub shards: Vec<ShardStats>,
}

pub(crate) struct Profiles {
    engine: Engine,
    runtime: RuntimeChoice,
    generic: Vec<(ProcessField, Query)>,
    runtimes: Vec<CompiledRuntime>,
    process_overrides: Vec<(ProcessField, Query)>,
    pools: Vec<CompiledPool>,
    shards: Vec<(ShardField, Query)>,
    shards_configured: bool,
}

impl Profiles {
    /// Compiles the built-in profiles and the config's overrides. The
    /// config has been validated, so its expressions parse.
    pub(crate) fn new(config: &ProfilesConfig) -> Result<Self, ConfigError> {
        let builtin_fields = |fields: &[(ProcessField, &str)]| {
            fields
                .iter()
                .filter_map(|(field, expr)| compile_builtin(expr).map(|q| (*field, q)))
                .collect::<Vec<_>>()
        };
        let mut pools = config
            .pools
            .iter()
            .enumerate()
            .map(|(i, pool)| CompiledPool::from_config(pool, &format!("profiles.pools[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if !config.disable_builtin_pools {
            pools.extend(builtin::POOLS.iter().map(CompiledPool::builtin));
        }
        let mut shards: BTreeMap<ShardField, Query> = builtin::SHARDS
            .iter()
            .filter_map(|(field, expr)| compile_builtin(expr).map(|q| (*field, q)))
            .collect();
        for (field, expr) in &config.shards {
            shards.insert(
                *field,
                compile(expr, || format!("profiles.shards.{}", field.as_str()))?,
            );
        }
        Ok(Profiles {
            engine: Engine::default(),
            runtime: config.runtime,
            generic: builtin_fields(builtin::GENERIC_PROCESS),
            runtimes: builtin::RUNTIMES
                .iter()
                .map(|r| CompiledRuntime {
                    name: r.name,
                    markers: r.markers,
                    fields: builtin_fields(r.fields),
                })
                .collect(),
            process_overrides: config
                .process
                .iter()
                .map(|(field, expr)| {
                    compile(expr, || format!("profiles.process.{}", field.as_str()))
                        .map(|q| (*field, q))
                })
                .collect::<Result<_, _>>()?,
            pools,
            shards: shards.into_iter().collect(),
            shards_configured: !config.shards.is_empty(),
        })
    }

    /// Evaluates every profile that applies at `now` (unix ms).
    pub(crate) fn evaluate(&self, db: &dyn Queryable, now: i64) -> NodeView {
        let eval = Evaluator {
            engine: &self.engine,
            db,
            now,
        };
        let mut view = NodeView::default();

        let runtime = self.runtime_in_use(db, now);
        let mut fields: BTreeMap<ProcessField, &Query> =
            self.generic.iter().map(|(f, q)| (*f, q)).collect();
        if let Some(runtime) = runtime {
            view.profiles.push(runtime.name.to_string());
            fields.extend(runtime.fields.iter().map(|(f, q)| (*f, q)));
        }
        fields.extend(self.process_overrides.iter().map(|(f, q)| (*f, q)));
        view.process = fields
            .into_iter()
            .filter_map(|(field, query)| eval.scalar(query).map(|v| (field, v)))
            .collect();

        for pool in &self.pools {
            if !pool.markers.is_empty() && !any_fresh(db, pool.markers, now) {
                continue;
            }
            let found = eval.pools(pool);
            if !found.is_empty() {
                if !view.profiles.contains(&pool.kind) {
                    view.profiles.push(pool.kind.clone());
                }
                view.pools.extend(found);
            }
        }

        if self.shards_configured || any_fresh(db, builtin::SHARD_MARKERS, now) {
            view.shards = eval.shards(&self.shards);
            if !view.shards.is_empty() {
                view.profiles.push("app_shard".into());
            }
        }
        view
    }

    fn runtime_in_use(&self, db: &dyn Queryable, now: i64) -> Option<&CompiledRuntime> {
        let named = |name: &str| self.runtimes.iter().find(|r| r.name == name);
        match self.runtime {
            RuntimeChoice::Auto => self.runtimes.iter().find(|r| any_fresh(db, r.markers, now)),
            RuntimeChoice::Nodejs => named("nodejs"),
            RuntimeChoice::Go => named("go"),
            RuntimeChoice::Jvm => named("jvm"),
            RuntimeChoice::Python => named("python"),
            RuntimeChoice::None => None,
        }
    }
}

/// Whether any of the metrics has a sample in the lookback window that is
/// not a stale marker.
fn any_fresh(db: &dyn Queryable, metrics: &[&str], now: i64) -> bool {
    metrics.iter().any(|name| {
        db.select(
            &[Matcher::equal(METRIC_NAME, *name)],
            now - MARKER_LOOKBACK_MS,
            now,
        )
        .iter()
        .any(|series| series.samples.last().is_some_and(|s| !is_stale_nan(s.v)))
    })
}

struct Evaluator<'a> {
    engine: &'a Engine,
    db: &'a dyn Queryable,
    now: i64,
}

impl Evaluator<'_> {
    fn value(&self, query: &Query) -> Option<Value> {
        match self.engine.instant(self.db, query, self.now) {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::debug!(query = query.text(), %err, "profile expression failed");
                None
            }
        }
    }

    /// One number: a scalar, or a vector of exactly one sample.
    fn scalar(&self, query: &Query) -> Option<f64> {
        let v = match self.value(query)? {
            Value::Scalar { v, .. } => v,
            Value::Vector(samples) if samples.len() == 1 => samples[0].v,
            Value::Vector(samples) if samples.len() > 1 => {
                tracing::debug!(
                    query = query.text(),
                    series = samples.len(),
                    "profile expression must return one series"
                );
                return None;
            }
            _ => return None,
        };
        v.is_finite().then_some(v)
    }

    /// A vector keyed by the value of `label`.
    fn by_label(&self, query: Option<&Query>, label: &str) -> BTreeMap<String, f64> {
        let Some(Value::Vector(samples)) = query.and_then(|q| self.value(q)) else {
            return BTreeMap::new();
        };
        samples
            .into_iter()
            .filter(|s| s.v.is_finite())
            .filter_map(|s| label_value(&s.labels, label).map(|key| (key, s.v)))
            .collect()
    }

    fn pools(&self, pool: &CompiledPool) -> Vec<PoolStats> {
        let label = pool.name_label.as_str();
        let size = self.by_label(pool.size.as_ref(), label);
        let active = self.by_label(pool.active.as_ref(), label);
        let idle = self.by_label(pool.idle.as_ref(), label);
        let waiting = self.by_label(pool.waiting.as_ref(), label);
        let max = self.by_label(pool.max.as_ref(), label);
        let timeouts = self.by_label(pool.acquire_timeouts_total.as_ref(), label);
        let names: std::collections::BTreeSet<&String> = size
            .keys()
            .chain(active.keys())
            .chain(idle.keys())
            .chain(max.keys())
            .collect();
        names
            .into_iter()
            .map(|name| {
                let active_v = active.get(name).copied();
                let max_v = max.get(name).copied();
                PoolStats {
                    name: name.clone(),
                    kind: pool.kind.clone(),
                    size: size.get(name).copied(),
                    active: active_v,
                    idle: idle.get(name).copied(),
                    waiting: waiting.get(name).copied(),
                    max: max_v,
                    utilization: match (active_v, max_v) {
                        (Some(a), Some(m)) if m > 0.0 => Some(a / m),
                        _ => None,
                    },
                    acquire_timeouts_total: timeouts.get(name).copied(),
                }
            })
            .collect()
    }

    fn shards(&self, fields: &[(ShardField, Query)]) -> Vec<ShardStats> {
        let query = |field: ShardField| {
            fields
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, query)| query)
        };
        let states = self.shard_states(query(ShardField::State));
        let load = self.by_label(query(ShardField::Load), "shard");
        let latency = self.by_label(query(ShardField::LatencySeconds), "shard");
        let heartbeat = self.by_label(query(ShardField::LastHeartbeatSeconds), "shard");
        let ready = self.by_label(query(ShardField::ReadySinceSeconds), "shard");
        let restarts = self.by_label(query(ShardField::Restarts), "shard");
        let mut ids: Vec<&String> = states
            .keys()
            .chain(load.keys())
            .chain(latency.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // Numeric ids sort as numbers: 2 before 10.
        ids.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
        let ms = |seconds: Option<&f64>| seconds.map(|s| (s * 1000.0).round() as i64);
        ids.into_iter()
            .map(|id| ShardStats {
                id: id.clone(),
                state: states.get(id).copied().unwrap_or(ShardState::Unknown),
                load: load.get(id).copied(),
                latency_seconds: latency.get(id).copied(),
                last_heartbeat_ms: ms(heartbeat.get(id)),
                ready_since_ms: ms(ready.get(id)),
                restarts: restarts.get(id).copied(),
            })
            .collect()
    }

    /// The `state` label of the series that are 1, per shard.
    fn shard_states(&self, query: Option<&Query>) -> BTreeMap<String, ShardState> {
        let Some(Value::Vector(samples)) = query.and_then(|q| self.value(q)) else {
            return BTreeMap::new();
        };
        samples
            .into_iter()
            .filter(|s| s.v == 1.0)
            .filter_map(|s| {
                let shard = label_value(&s.labels, "shard")?;
                let state = parse_shard_state(s.labels.get("state")?);
                Some((shard, state))
            })
            .collect()
    }
}

fn label_value(labels: &Labels, name: &str) -> Option<String> {
    labels.get(name).map(str::to_string)
}

fn parse_shard_state(text: &str) -> ShardState {
    match text {
        "starting" => ShardState::Starting,
        "ready" => ShardState::Ready,
        "draining" => ShardState::Draining,
        "drained" => ShardState::Drained,
        "disconnected" => ShardState::Disconnected,
        "dead" => ShardState::Dead,
        _ => ShardState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_expression_parses() {
        let all = builtin::GENERIC_PROCESS
            .iter()
            .map(|(_, e)| *e)
            .chain(
                builtin::RUNTIMES
                    .iter()
                    .flat_map(|r| r.fields.iter().map(|(_, e)| *e)),
            )
            .chain(builtin::SHARDS.iter().map(|(_, e)| *e))
            .chain(builtin::POOLS.iter().flat_map(|p| {
                [
                    p.size,
                    p.active,
                    p.idle,
                    p.waiting,
                    p.max,
                    p.acquire_timeouts_total,
                ]
                .into_iter()
                .flatten()
            }));
        for expr in all {
            assert!(Query::parse(expr).is_ok(), "{expr}");
        }
    }

    #[test]
    fn bad_override_names_its_key() {
        let mut config = ProfilesConfig::default();
        config
            .process
            .insert(ProcessField::HeapUsedBytes, "sum(".into());
        let err = validate_config(&config).unwrap_err().to_string();
        assert!(err.contains("profiles.process.heap_used_bytes"), "{err}");
    }
}
