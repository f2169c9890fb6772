//! The action journal in the agent's redb database: one JSON record per
//! action, written on every change, so a crash loses nothing but the step
//! in flight.

use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use crate::record::{ActionRecord, ActionStatus};

const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("runbook_actions");

#[derive(Debug, thiserror::Error)]
#[error("action journal: {0}")]
pub struct JournalError(String);

fn err(e: impl std::fmt::Display) -> JournalError {
    JournalError(e.to_string())
}

#[derive(Clone)]
pub struct Journal {
    db: Arc<Database>,
}

impl Journal {
    pub fn open(db: Arc<Database>) -> Result<Self, JournalError> {
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(ACTIONS).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Journal { db })
    }

    /// Durable when this returns.
    pub fn save(&self, record: &ActionRecord) -> Result<(), JournalError> {
        let bytes = serde_json::to_vec(record).map_err(err)?;
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut table = tx.open_table(ACTIONS).map_err(err)?;
            table
                .insert(record.id.as_str(), bytes.as_slice())
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn get(&self, id: &str) -> Result<Option<ActionRecord>, JournalError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(ACTIONS).map_err(err)?;
        match table.get(id).map_err(err)? {
            Some(bytes) => serde_json::from_slice(bytes.value()).map(Some).map_err(err),
            None => Ok(None),
        }
    }

    /// Every record, newest first.
    pub fn all(&self) -> Result<Vec<ActionRecord>, JournalError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(ACTIONS).map_err(err)?;
        let mut records = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (_, bytes) = entry.map_err(err)?;
            match serde_json::from_slice::<ActionRecord>(bytes.value()) {
                Ok(record) => records.push(record),
                Err(e) => tracing::warn!(error = %e, "unreadable action record skipped"),
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at_ms));
        Ok(records)
    }

    /// Deletes the oldest finished records beyond the newest `keep`
    /// (running ones are never deleted), so the journal and the audit
    /// stay bounded on a long-lived agent. Returns how many went.
    pub fn prune(&self, keep: usize) -> Result<usize, JournalError> {
        let doomed: Vec<String> = self
            .all()?
            .into_iter()
            .skip(keep)
            .filter(|r| r.status.is_terminal())
            .map(|r| r.id)
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut table = tx.open_table(ACTIONS).map_err(err)?;
            for id in &doomed {
                table.remove(id.as_str()).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(doomed.len())
    }

    /// At start-up: every action that was running when the agent stopped
    /// becomes `interrupted`, with its rollback offered. Returns them.
    pub fn mark_interrupted(&self, now_ms: i64) -> Result<Vec<ActionRecord>, JournalError> {
        let mut marked = Vec::new();
        for mut record in self.all()? {
            if record.status.is_terminal() {
                continue;
            }
            record.error = Some(format!(
                "the agent stopped during {} ({}); not resumed",
                record.current_step.as_deref().unwrap_or("the action"),
                record.status.as_str()
            ));
            record.status = ActionStatus::Interrupted;
            record.current_step = None;
            record.finished_at_ms = Some(now_ms);
            self.save(&record)?;
            marked.push(record);
        }
        Ok(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, created_at_ms: i64, status: ActionStatus) -> ActionRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "runbook": "drain-shard", "params": {}, "requested_by": "t",
            "idempotency_key": null, "shards": [], "status": status,
            "created_at_ms": created_at_ms, "finished_at_ms": null,
            "current_step": null, "steps": [], "error": null,
            "rollback_available": false,
        }))
        .unwrap()
    }

    #[test]
    fn prune_keeps_the_newest_and_every_running_action() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("j.redb")).unwrap());
        let journal = Journal::open(db).unwrap();
        journal
            .save(&record("old-running", 1, ActionStatus::Running))
            .unwrap();
        for i in 2..=6 {
            let status = ActionStatus::Succeeded;
            journal.save(&record(&format!("a{i}"), i, status)).unwrap();
        }
        assert_eq!(journal.prune(3).unwrap(), 2);
        let ids: Vec<String> = journal.all().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["a6", "a5", "a4", "old-running"]);
        assert_eq!(journal.prune(3).unwrap(), 0);
    }
}
