//! Structured logs with `tracing`: to stderr and/or a daily-rotated file,
//! as text or JSON, filtered by `log.level` (`RUST_LOG` wins when set).

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Keeps the file writer flushing; drop it last, at exit.
pub struct LogGuard {
    _file: Option<WorkerGuard>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log.level: invalid filter {level:?}: {message}")]
    Filter { level: String, message: String },
    #[error("log.dir: cannot create {}: {source}", path.display())]
    Dir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("logging is already set up: {0}")]
    Init(String),
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

fn layer<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Json => base.json().boxed(),
        LogFormat::Text => base.with_ansi(ansi).boxed(),
    }
}

/// Installs the global subscriber. Call once, from the binary.
pub fn init(config: &LogConfig) -> Result<LogGuard, LogError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(&env),
        _ => EnvFilter::try_new(&config.level),
    }
    .map_err(|err| LogError::Filter {
        level: config.level.clone(),
        message: err.to_string(),
    })?;
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if config.stderr {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        layers.push(layer(config.format, std::io::stderr, ansi));
    }
    let mut file_guard = None;
    if let Some(dir) = &config.dir {
        std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
            path: dir.clone(),
            source,
        })?;
        let appender = tracing_appender::rolling::daily(dir, "opsdeck-agent.log");
        let (writer, guard) = tracing_appender::non_blocking(appender);
        file_guard = Some(guard);
        layers.push(layer(config.format, writer, false));
    }
    tracing_subscriber::registry()
        .with(layers.with_filter(filter))
        .try_init()
        .map_err(|err| LogError::Init(err.to_string()))?;
    Ok(LogGuard { _file: file_guard })
}
