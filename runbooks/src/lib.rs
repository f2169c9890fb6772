//! opsdeck-runbooks: the runbook format and its checks, the planner (dry
//! run), the executor with its guards, and the action journal. The agent
//! serves it over HTTP; `docs/runbooks.md` is the user's reference.

pub mod catalog;
pub mod execute;
pub mod format;
pub mod journal;
pub mod load;
pub mod params;
pub mod plan;
pub mod probe;
pub mod record;
pub mod template;
#[cfg(test)]
mod test_support;

pub use execute::{ActionControl, Announcer, Executor, Observer, Tracker};
pub use format::{Risk, Runbook};
pub use journal::Journal;
pub use load::{load_file, RunbookError};
pub use plan::{plan, Plan, PlanError};
pub use probe::{Probe, ProbeSample};
pub use record::{ActionRecord, ActionStatus};
