use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use opsdeck_metrics::exposition::{self, Format};
use opsdeck_metrics::promql::{Engine, Query};
use opsdeck_metrics::{SeriesStore, StoreConfig};

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Agent base URL to query, e.g. http://127.0.0.1:9464.
    #[arg(long, conflicts_with = "file", value_name = "URL")]
    pub agent: Option<String>,
    /// Bearer token for --agent (a viewer token is enough).
    #[arg(
        long,
        env = "OPSDECK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        requires = "agent"
    )]
    pub token: Option<String>,
    /// Exposition file (Prometheus text or OpenMetrics) to load and query
    /// instead of an agent. Samples without a timestamp are placed at the
    /// evaluation time.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Evaluation time as Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub time: Option<f64>,
    /// PromQL expression.
    pub expr: String,
}

pub fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let query = Query::parse(&args.expr).with_context(|| format!("query {:?}", args.expr))?;
    let t_ms = match args.time {
        Some(seconds) if seconds.is_finite() => (seconds * 1000.0).round() as i64,
        Some(seconds) => bail!("--time must be a finite number of Unix seconds, got {seconds}"),
        None => SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64,
    };
    match (&args.file, &args.agent) {
        (Some(path), _) => {
            let store = load_exposition(path, t_ms)?;
            let value = Engine::default()
                .instant(&store, &query, t_ms)
                .with_context(|| format!("query {:?}", args.expr))?;
            println!("{value}");
            Ok(ExitCode::SUCCESS)
        }
        (None, Some(url)) => {
            println!(
                "{}",
                query_agent(url, args.token.clone(), &args.expr, t_ms)?
            );
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => bail!("give an exposition file (--file) or an agent (--agent) to query"),
    }
}

/// Parses an exposition file into a fresh store; OpenMetrics when the file
/// ends with `# EOF`, the Prometheus text format otherwise.
fn load_exposition(path: &Path, t_ms: i64) -> anyhow::Result<SeriesStore> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = if bytes.trim_ascii_end().ends_with(b"# EOF") {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    };
    let parsed =
        exposition::parse(&bytes, format).with_context(|| format!("{}", path.display()))?;
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        max_bytes: None,
    });
    for sample in &parsed.samples {
        let t = sample.timestamp_ms.unwrap_or(t_ms);
        store
            .append(&sample.labels, t, sample.value)
            .with_context(|| format!("{}: cannot load sample {}", path.display(), sample.labels))?;
    }
    Ok(store)
}

/// Runs the query on an agent through its Prometheus query API and returns
/// the result as the engine's value, so both branches print alike.
fn query_agent(
    url: &str,
    token: Option<String>,
    expr: &str,
    t_ms: i64,
) -> anyhow::Result<opsdeck_metrics::promql::Value> {
    use opsdeck_agent::api::prom::QueryData;
    use opsdeck_metrics::promql::{RangeSeries, Value, VectorSample};
    use opsdeck_metrics::{Labels, Sample};

    let client = opsdeck_agent::client::AgentClient::new(url, token)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let data = runtime
        .block_on(client.query(expr, Some(t_ms)))
        .with_context(|| format!("query {expr:?} on {url}"))?;
    let labels = |metric: std::collections::BTreeMap<String, String>| Labels::from_pairs(metric);
    Ok(match data {
        QueryData::Scalar(p) => Value::Scalar {
            t: p.t_ms,
            v: p.value,
        },
        QueryData::String((t, s)) => Value::String {
            t: (t * 1000.0).round() as i64,
            s,
        },
        QueryData::Vector(samples) => Value::Vector(
            samples
                .into_iter()
                .map(|s| VectorSample {
                    labels: labels(s.metric),
                    t: s.value.t_ms,
                    v: s.value.value,
                })
                .collect(),
        ),
        QueryData::Matrix(series) => Value::Matrix(
            series
                .into_iter()
                .map(|s| RangeSeries {
                    labels: labels(s.metric),
                    samples: s
                        .values
                        .iter()
                        .map(|p| Sample {
                            t: p.t_ms,
                            v: p.value,
                        })
                        .collect(),
                })
                .collect(),
        ),
    })
}
