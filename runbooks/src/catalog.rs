//! The built-in runbooks, embedded in the binary.

use crate::format::Runbook;
use crate::load::{self, RunbookError};

const SOURCES: &[(&str, &str)] = &[
    (
        "catalog/drain-shard.yaml",
        include_str!("../catalog/drain-shard.yaml"),
    ),
    (
        "catalog/resume-shard.yaml",
        include_str!("../catalog/resume-shard.yaml"),
    ),
    (
        "catalog/restart-shard.yaml",
        include_str!("../catalog/restart-shard.yaml"),
    ),
    (
        "catalog/rolling-restart-node.yaml",
        include_str!("../catalog/rolling-restart-node.yaml"),
    ),
    (
        "catalog/recycle-pool.yaml",
        include_str!("../catalog/recycle-pool.yaml"),
    ),
    (
        "catalog/restart-node.yaml",
        include_str!("../catalog/restart-node.yaml"),
    ),
];

/// Every built-in runbook, parsed and checked.
pub fn builtin() -> Result<Vec<Runbook>, RunbookError> {
    SOURCES
        .iter()
        .map(|(file, text)| load::parse(file, text))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_runbook_loads_and_ids_match_files() {
        let runbooks = super::builtin().unwrap();
        for (rb, (file, _)) in runbooks.iter().zip(super::SOURCES) {
            assert_eq!(format!("catalog/{}.yaml", rb.id), *file);
        }
    }

    /// `GET /api/v1/runbooks` serves runbooks as JSON: what it serves
    /// reads back as the same runbook.
    #[test]
    fn runbooks_round_trip_through_json() {
        for rb in super::builtin().unwrap() {
            let json = serde_json::to_value(&rb).unwrap();
            let back: crate::Runbook = serde_json::from_value(json).unwrap();
            assert_eq!(back, rb);
        }
    }

    /// An alertname that no default rule fires would never offer or stop
    /// anything: every name a runbook uses is in the default pack.
    #[test]
    fn every_alertname_is_a_default_rule() {
        let pack: String = opsdeck_alerts::DEFAULT_RULE_PACK
            .iter()
            .map(|(_, text)| *text)
            .collect();
        for rb in super::builtin().unwrap() {
            for name in rb.alerts.iter().chain(&rb.abort_on_alerts) {
                assert!(
                    pack.contains(&format!("alert: {name}\n")),
                    "{}: {name}",
                    rb.id
                );
            }
        }
    }
}
