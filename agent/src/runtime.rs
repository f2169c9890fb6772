//! Starting and stopping an agent: wires config, store, collectors,
//! snapshot builder, database and HTTP server together.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_alerts::notify::Notifier;
use opsdeck_metrics::{SeriesStore, StoreConfig};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::NodeIdentity;
use crate::collect::{self, now_ms};
use crate::config::{AgentConfig, ConfigError};
use crate::persist::{self, PersistError};
use crate::profiles::Profiles;
use crate::rules;
use crate::server::{self, AppState};
use crate::snapshot::SnapshotBuilder;
use crate::state::AgentState;

/// The series store's closed chunks, under the data directory. Their
/// bytes sit in the page cache rather than in the agent's memory.
const CHUNK_DIR: &str = "chunks";

/// How long shutdown waits for in-flight requests and tasks.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error("cannot use {} for the series store's chunks: {source}", path.display())]
    ChunkDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("notifications: {0}")]
    Notifications(String),
    #[error("actions: {0}")]
    Actions(String),
    #[error("the agent did not stop within {0:?}")]
    ShutdownTimeout(Duration),
}

/// A running agent. Dropping it cancels everything without waiting;
/// [`AgentHandle::shutdown`] stops it in order and waits.
pub struct AgentHandle {
    url: String,
    addr: SocketAddr,
    data_dir: PathBuf,
    cancel: CancellationToken,
    server: axum_server::Handle,
    tasks: JoinSet<()>,
    server_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    db: Arc<persist::Store>,
    state: Arc<AgentState>,
}

impl AgentHandle {
    /// The base URL, e.g. `http://127.0.0.1:9464`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The agent's embedded database, for subsystems that persist state.
    pub fn database(&self) -> Arc<persist::Store> {
        self.db.clone()
    }

    /// Stops accepting, lets in-flight requests finish (SSE streams end),
    /// stops the collectors and waits, at most [`SHUTDOWN_GRACE`] plus a
    /// second. The database is flushed on every commit and closed last.
    pub async fn shutdown(mut self) -> Result<(), AgentError> {
        self.cancel.cancel();
        self.server.graceful_shutdown(Some(SHUTDOWN_GRACE));
        let wait = async {
            if let Some(server) = self.server_task.take() {
                match server.await {
                    Ok(Err(err)) => tracing::warn!(%err, "HTTP server stopped with an error"),
                    Err(err) => tracing::warn!(%err, "HTTP server task failed"),
                    Ok(Ok(())) => {}
                }
            }
            while self.tasks.join_next().await.is_some() {}
            // Undelivered notifications stay in the outbox for the next start.
            let notifier = self.state.notifier.lock().take();
            if let Some(notifier) = notifier {
                notifier.shutdown().await;
            }
        };
        let limit = SHUTDOWN_GRACE + Duration::from_secs(1);
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| AgentError::ShutdownTimeout(limit))?;
        tracing::info!("agent stopped");
        Ok(())
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.server.shutdown();
    }
}

/// Starts an agent in the current Tokio runtime. The config's secret files
/// are read and it is validated here, so a config built in code gets the
/// same checks as one loaded from a file.
pub async fn start(mut config: AgentConfig) -> Result<AgentHandle, AgentError> {
    config.read_secret_files()?;
    config.validate()?;
    let profiles = Profiles::new(&config.profiles)?;
    let mut evaluator = rules::build_evaluator(&config.rules)?;
    let data_dir = config.data_dir();
    let db = Arc::new(persist::Store::open(&data_dir)?);
    rules::restore(&mut evaluator, &db);

    // After the database: its lock keeps a second agent from clearing the
    // chunks of the one that holds this data directory.
    let chunk_dir = data_dir.join(CHUNK_DIR);
    let store_config = StoreConfig {
        retention_ms: Some(config.retention.as_millis() as i64),
        ..StoreConfig::default()
    };
    let store = SeriesStore::with_chunk_dir(store_config, &chunk_dir).map_err(|source| {
        AgentError::ChunkDir {
            path: chunk_dir,
            source,
        }
    })?;
    let store = Arc::new(store);
    let notifier = Notifier::start(&config.notifications, db.shared())
        .map_err(|err| AgentError::Notifications(err.to_string()))?;
    let state = Arc::new(AgentState::new(store, evaluator, notifier));
    let cancel = CancellationToken::new();
    let started_at_ms = now_ms();
    let node = NodeIdentity {
        name: config.node_name(),
        hostname: crate::host_name().unwrap_or_default(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at_ms,
        interval_ms: config.interval.as_millis() as u64,
        profiles: Vec::new(),
    };

    let listener = TcpListener::bind(config.listen.address).map_err(|source| AgentError::Bind {
        address: config.listen.address,
        source,
    })?;
    let bind_error = |source| AgentError::Bind {
        address: config.listen.address,
        source,
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;

    let mut tasks = JoinSet::new();
    collect::spawn_all(&config, &state, &db, &mut tasks, &cancel)
        .map_err(|err| AgentError::HttpClient(err.to_string()))?;
    let builder = SnapshotBuilder::new(state.clone(), profiles, node, config.interval);
    tasks.spawn(builder.run(cancel.clone()));
    tasks.spawn(rules::run(
        state.clone(),
        db.clone(),
        rules::early_margin(&config),
        cancel.clone(),
    ));

    let actions = crate::actions::ActionService::start(
        config.actions.clone(),
        crate::actions::app_url(&config),
        config.node_name(),
        db.shared(),
        state.clone(),
    )
    .map_err(AgentError::Actions)?;
    let app = AppState {
        state: state.clone(),
        cancel: cancel.clone(),
        started_at_ms,
        actions,
    };
    let open_reads = config.listen.address.ip().is_loopback();
    let router = server::router(app, &config.auth, open_reads);
    let handle = axum_server::Handle::new();
    let service = router.into_make_service();
    let (scheme, server_task) = match &config.listen.tls {
        Some(tls) => {
            // Several agents in one process share the provider; only the
            // first install succeeds, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls_config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
                    .await
                    .map_err(|err| {
                        AgentError::Tls(format!(
                            "cannot load {} / {}: {err}",
                            tls.cert_file.display(),
                            tls.key_file.display()
                        ))
                    })?;
            let server = axum_server::from_tcp_rustls(listener, rustls_config)
                .handle(handle.clone())
                .serve(service);
            ("https", tokio::spawn(server))
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .handle(handle.clone())
                .serve(service);
            ("http", tokio::spawn(server))
        }
    };
    let url = format!("{scheme}://{addr}");
    tracing::info!(%url, data_dir = %data_dir.display(), "agent listening");
    Ok(AgentHandle {
        url,
        addr,
        data_dir,
        cancel,
        server: handle,
        tasks,
        server_task: Some(server_task),
        db,
        state,
    })
}
