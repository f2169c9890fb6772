//! Starting a node: its simulation, its HTTP server on a free loopback
//! port, and the ticker that keeps the simulation moving between requests.

use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::config::DemoNodeConfig;
use crate::error::DemoError;
use crate::http::{router, SharedSim};
use crate::sim::NodeSim;

/// How often the simulation advances when nobody is asking. Requests
/// advance it too, so this only bounds how much one request catches up.
const TICK: Duration = Duration::from_millis(500);

/// A simulated node.
pub struct DemoNode;

impl DemoNode {
    /// Starts a node on `127.0.0.1` with a port the OS picks, so nodes
    /// never collide with each other or with anything already running.
    /// Must be called inside a Tokio runtime.
    pub async fn start(config: DemoNodeConfig) -> Result<DemoNodeHandle, DemoError> {
        config.validate()?;
        let sim: SharedSim = Arc::new(Mutex::new(NodeSim::new(
            &config,
            SimClock::start(config.speed),
        )?));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(DemoError::Bind)?;
        let addr = listener.local_addr().map_err(DemoError::Bind)?;
        let cancel = CancellationToken::new();
        let server = tokio::spawn(
            axum::serve(listener, router(sim.clone()))
                .with_graceful_shutdown(cancel.clone().cancelled_owned())
                .into_future(),
        );
        let ticker = tokio::spawn(tick(sim, cancel.clone()));
        tracing::info!(node = %config.name, %addr, shards = config.shards, seed = config.seed, speed = config.speed, "demo node started");
        Ok(DemoNodeHandle {
            name: config.name,
            url: format!("http://{addr}"),
            addr,
            cancel,
            server: Some(server),
            ticker: Some(ticker),
        })
    }
}

async fn tick(sim: SharedSim, cancel: CancellationToken) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => sim.lock().catch_up(),
        }
    }
}

/// A running node. Dropping it stops the node without waiting;
/// [`DemoNodeHandle::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct DemoNodeHandle {
    name: String,
    url: String,
    addr: SocketAddr,
    cancel: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    ticker: Option<JoinHandle<()>>,
}

impl DemoNodeHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes in-flight requests and waits for the node to stop.
    pub async fn shutdown(mut self) -> Result<(), DemoError> {
        self.cancel.cancel();
        let server_error = |message: String| DemoError::Server {
            node: self.name.clone(),
            message,
        };
        if let Some(ticker) = self.ticker.take() {
            ticker.await.map_err(|err| server_error(err.to_string()))?;
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .map_err(|err| server_error(err.to_string()))?
                .map_err(|err| server_error(err.to_string()))?;
        }
        Ok(())
    }
}

impl Drop for DemoNodeHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
