//! Collectors: each runs on its own interval, writes series into the
//! store and reports its health. A failing collector marks its series
//! stale and says why; it never takes the agent down.

mod cgroup;
mod fetch;
mod host;
mod json_stats;
#[cfg(target_os = "linux")]
mod process;
#[cfg(target_os = "linux")]
mod procfs;
mod scrape;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::AgentConfig;
use crate::persist;
use crate::state::AgentState;

use host::HostCollector;
use json_stats::JsonStatsCollector;
use scrape::Scraper;

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A URL without user name and password, for showing and logging.
pub(crate) fn redacted_url(url: &url::Url) -> String {
    let mut url = url.clone();
    // Only fails for URLs that cannot have credentials in the first place.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Runs `tick` now and then every `interval` until cancelled. A slow tick
/// delays the next one rather than piling up.
pub(crate) async fn every<F, Fut>(interval: Duration, cancel: &CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick() => {}
        }
    }
}

/// Starts every configured collector on `tasks`.
pub(crate) fn spawn_all(
    config: &AgentConfig,
    state: &Arc<AgentState>,
    db: &Arc<persist::Store>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<(), reqwest::Error> {
    let client = http_client()?;
    for target in &config.scrape {
        let scraper = Scraper::new(target.clone(), client.clone(), state.clone());
        tasks.spawn(scraper.run(cancel.clone()));
    }
    for endpoint in &config.json_stats {
        let collector = JsonStatsCollector::new(endpoint.clone(), client.clone(), state.clone());
        tasks.spawn(collector.run(cancel.clone()));
    }
    if config.host.enabled {
        let host = HostCollector::new(state.clone(), config.host.interval);
        tasks.spawn(host.run(cancel.clone()));
    }
    if let Some(process) = &config.process {
        spawn_process(process, state, db, tasks, cancel);
    }
    Ok(())
}

/// One client for every collector: connection reuse, gzip, no redirects
/// to elsewhere (a scrape target that redirects is misconfigured).
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .gzip(true)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("opsdeck-agent/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(target_os = "linux")]
fn spawn_process(
    config: &crate::config::ProcessConfig,
    state: &Arc<AgentState>,
    db: &Arc<persist::Store>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) {
    let collector = process::ProcessCollector::new(config.clone(), state.clone(), db.clone());
    tasks.spawn(collector.run(cancel.clone()));
}

#[cfg(not(target_os = "linux"))]
fn spawn_process(
    _config: &crate::config::ProcessConfig,
    state: &Arc<AgentState>,
    _db: &Arc<persist::Store>,
    _tasks: &mut JoinSet<()>,
    _cancel: &CancellationToken,
) {
    state.register_source("process", "proc:");
    state.record_scrape(
        "process",
        now_ms(),
        0.0,
        Err("the process collector needs Linux /proc".into()),
    );
}
