//! Logs go to a daily-rolling file, never to the screen the dashboard
//! draws on.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// `~/.local/state/opsdeck` (or the platform's equivalent), else the temp dir.
pub fn default_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("opsdeck")
}

/// Starts file logging. Keep the guard alive until exit so buffered lines
/// are written. Returns the directory used.
pub fn init(config: &LogConfig) -> std::io::Result<(WorkerGuard, PathBuf)> {
    let dir = config.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("opsdeck-tui.log")
        .max_log_files(7)
        .build(&dir)
        .map_err(std::io::Error::other)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    // The level was validated with the config.
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    // A global subscriber may already be set (tests, embedding); keep it.
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok((guard, dir))
}
