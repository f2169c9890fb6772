//! Runbook actions on this node: the HTTP API over the runbooks crate's
//! planner, executor and journal (documented in `docs/runbooks.md`).

mod config;
mod probe;
mod routes;
mod service;

pub use config::ActionsConfig;
pub(crate) use routes::routes;
pub(crate) use service::ActionService;

/// The base URL runbooks use for the app: configured, or the first scrape
/// target's origin.
pub(crate) fn app_url(config: &crate::config::AgentConfig) -> Option<String> {
    if let Some(url) = &config.actions.app_url {
        return Some(url.as_str().trim_end_matches('/').to_string());
    }
    let origin = config.scrape.first()?.url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}
