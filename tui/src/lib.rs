//! opsdeck's dashboard: a live terminal view of a fleet of opsdeck agents.
//!
//! Collect, store, draw: agent clients ([`client`]) follow each agent's
//! event stream on a tokio runtime and write into the [`fleet`] state;
//! the views ([`ui`]) only read it. The [`app`] turns keys and clicks
//! into state changes and [`app::Effect`]s; [`runtime::run_loop`] ties
//! them together on any ratatui backend. See `docs/tui.md`.

pub mod app;
pub mod client;
pub mod clock;
pub mod config;
pub mod event;
pub mod fixtures;
pub mod fleet;
pub mod logging;
pub mod notify;
pub mod rows;
pub mod runtime;
pub mod services;
pub mod ui;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;

use app::keymap::{Keymap, KeymapError};
use app::App;
use client::AgentTarget;
use config::{AgentConfig, ConfigError, TuiConfig};
use event::AppEvent;
use fleet::{FleetHandle, FleetState};
use services::Services;
use ui::theme::{no_color_requested, Theme};

/// What the command line gives the dashboard.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--config`; else the default path, if that file exists.
    pub config: Option<PathBuf>,
    /// `--agent URL`, repeated. When given, the config's agents are not used.
    pub agents: Vec<String>,
    /// `--token`: the bearer token for the `--agent` agents.
    pub token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}: {source}", path.display())]
    Keys { path: PathBuf, source: KeymapError },
    #[error("--agent {url}: {message}")]
    AgentUrl { url: String, message: String },
    #[error("cannot open the log directory: {0}")]
    Log(std::io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Loads the config: `--config` must exist; the default path is optional.
fn load_config(options: &Options) -> Result<(TuiConfig, PathBuf), TuiError> {
    if let Some(path) = &options.config {
        return Ok((config::load(path)?, path.clone()));
    }
    match config::default_path() {
        Some(path) if path.exists() => Ok((config::load(&path)?, path)),
        Some(path) => Ok((TuiConfig::default(), path)),
        None => Ok((TuiConfig::default(), PathBuf::from("opsdeck.yaml"))),
    }
}

fn agents(options: &Options, config: &TuiConfig) -> Result<Vec<AgentConfig>, TuiError> {
    if options.agents.is_empty() {
        return Ok(config.agents.clone());
    }
    options
        .agents
        .iter()
        .map(|url| match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(AgentConfig {
                token: options.token.clone(),
                ..AgentConfig::from_url(url)
            }),
            Ok(parsed) => Err(TuiError::AgentUrl {
                url: url.clone(),
                message: format!("scheme must be http or https, not {:?}", parsed.scheme()),
            }),
            Err(e) => Err(TuiError::AgentUrl {
                url: url.clone(),
                message: e.to_string(),
            }),
        })
        .collect()
}

/// Opens the dashboard and runs it until the user quits.
pub fn run(options: Options) -> Result<(), TuiError> {
    let (config, config_path) = load_config(&options)?;
    let keymap = Keymap::with_overrides(&config.keys).map_err(|source| TuiError::Keys {
        path: config_path.clone(),
        source,
    })?;
    let agents = agents(&options, &config)?;
    let (_log_guard, log_dir) = logging::init(&config.log).map_err(TuiError::Log)?;
    tracing::info!(agents = agents.len(), log_dir = %log_dir.display(), "dashboard starting");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("opsdeck-tui-net")
        .enable_all()
        .build()
        .map_err(TuiError::Runtime)?;
    let (events_tx, events_rx) = mpsc::channel();
    let fleet = FleetHandle::new(
        FleetState::new(agents.iter().map(|a| (a.display_name(), a.url.clone()))),
        events_tx.clone(),
    );
    let targets = agents
        .iter()
        .enumerate()
        .map(|(id, agent)| AgentTarget {
            id,
            url: agent.url.clone(),
            token: agent.resolve_token(),
        })
        .collect();
    let mut services = Services::new(
        runtime.handle().clone(),
        client::http_client()?,
        targets,
        events_tx.clone(),
        config.notifications.desktop,
    );
    services.follow_agents(&fleet);
    spawn_clock(&runtime, events_tx.clone());
    spawn_input_reader(events_tx);

    let theme = Theme::resolve(config.theme, no_color_requested());
    let created_by = std::env::var("USER").unwrap_or_else(|_| "opsdeck-tui".into());
    let mut app = App::new(keymap, created_by);
    app.read_only = config.read_only;

    let mut terminal = ratatui::init();
    let mouse = execute!(std::io::stdout(), EnableMouseCapture);
    let result = runtime::run_loop(
        &mut terminal,
        &mut app,
        &fleet,
        &events_rx,
        &mut services,
        &theme,
    );
    if mouse.is_ok() {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
    runtime.shutdown_background();
    tracing::info!("dashboard stopped");
    result.map_err(TuiError::Terminal)
}

/// Once a second, so ages and staleness advance on screen.
pub fn spawn_clock(runtime: &tokio::runtime::Runtime, events: mpsc::Sender<AppEvent>) {
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if events.send(AppEvent::Tick).is_err() {
                return;
            }
        }
    });
}

/// Terminal input on its own thread: `crossterm::event::read` blocks.
fn spawn_input_reader(events: mpsc::Sender<AppEvent>) {
    std::thread::Builder::new()
        .name("opsdeck-tui-input".into())
        .spawn(move || loop {
            match crossterm::event::read() {
                Ok(event) => {
                    if events.send(AppEvent::Input(event)).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read terminal input");
                    return;
                }
            }
        })
        .map(drop)
        .unwrap_or_else(|error| tracing::error!(%error, "cannot start the input thread"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_agents_carry_the_token_and_replace_the_config() {
        let config = config::parse(
            "agents:\n  - url: http://configured:1\n",
            std::path::Path::new("opsdeck.yaml"),
        )
        .unwrap();
        let options = Options {
            config: None,
            agents: vec!["http://a:1".into(), "https://b:2".into()],
            token: Some("t0k".into()),
        };
        let agents = agents(&options, &config).unwrap();
        assert_eq!(agents.len(), 2);
        assert!(agents
            .iter()
            .all(|a| a.resolve_token().as_deref() == Some("t0k")));
        let from_config = agents_or_config(&config);
        assert_eq!(from_config[0].url, "http://configured:1");
    }

    #[test]
    fn a_bad_agent_url_is_named() {
        let options = Options {
            agents: vec!["ftp://a".into()],
            ..Options::default()
        };
        let err = agents(&options, &TuiConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--agent ftp://a"), "{err}");
    }

    fn agents_or_config(config: &TuiConfig) -> Vec<AgentConfig> {
        agents(&Options::default(), config).unwrap()
    }
}
