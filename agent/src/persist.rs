//! The agent's embedded database (redb) in its data directory: everything
//! that must survive a restart. Opening it fails with a clear error when
//! the file is corrupt, from a newer format, or held by another agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, DatabaseError, TableDefinition};

pub const DB_FILE: &str = "agent.redb";

/// redb's page cache. Its default (1 GiB) lets the cache grow with every
/// page ever written; the agent keeps only small documents and audit rows,
/// whose working set is a few dozen 4 KiB pages. Kept below the size of
/// redb's allocator header (about 0.5 MiB, written once when the database
/// opens), so that header is dropped once written instead of cached for
/// good: 256 KiB is 230 KiB of read cache and 26 KiB of write buffer.
const CACHE_BYTES: usize = 256 << 10;

/// Small agent facts: process restart tracking and the like.
const META: TableDefinition<&str, u64> = TableDefinition::new("agent_meta");
/// Serialized state documents, e.g. the alert state (`alerts`).
const DOCUMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agent_documents");

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create data directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {} is in use by another opsdeck agent (one agent per data directory)", path.display())]
    Locked { path: PathBuf },
    #[error("database {} is corrupt and cannot be repaired; move it away to start afresh (its contents will be lost): {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("database {}: {detail}", path.display())]
    Open { path: PathBuf, detail: String },
    #[error("database {}: {detail}", path.display())]
    Io { path: PathBuf, detail: String },
}

pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Self, PersistError> {
        std::fs::create_dir_all(data_dir).map_err(|source| PersistError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|err| open_error(&path, err))?;
        let store = Store {
            db: Arc::new(db),
            path,
        };
        store.init_tables()?;
        Ok(store)
    }

    /// The database itself, shared with subsystems that keep their own
    /// tables in it (the notification outbox, silences).
    pub fn shared(&self) -> Arc<Database> {
        self.db.clone()
    }

    fn io(&self, err: impl std::fmt::Display) -> PersistError {
        PersistError::Io {
            path: self.path.clone(),
            detail: err.to_string(),
        }
    }

    fn init_tables(&self) -> Result<(), PersistError> {
        let tx = self.db.begin_write().map_err(|e| self.io(e))?;
        tx.open_table(META).map_err(|e| self.io(e))?;
        tx.open_table(DOCUMENTS).map_err(|e| self.io(e))?;
        tx.commit().map_err(|e| self.io(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<u64>, PersistError> {
        let tx = self.db.begin_read().map_err(|e| self.io(e))?;
        let table = tx.open_table(META).map_err(|e| self.io(e))?;
        let value = table.get(key).map_err(|e| self.io(e))?;
        Ok(value.map(|v| v.value()))
    }

    pub fn set_meta(&self, entries: &[(&str, u64)]) -> Result<(), PersistError> {
        let tx = self.db.begin_write().map_err(|e| self.io(e))?;
        {
            let mut table = tx.open_table(META).map_err(|e| self.io(e))?;
            for (key, value) in entries {
                table.insert(*key, *value).map_err(|e| self.io(e))?;
            }
        }
        tx.commit().map_err(|e| self.io(e))
    }

    pub fn document(&self, key: &str) -> Result<Option<Vec<u8>>, PersistError> {
        let tx = self.db.begin_read().map_err(|e| self.io(e))?;
        let table = tx.open_table(DOCUMENTS).map_err(|e| self.io(e))?;
        let value = table.get(key).map_err(|e| self.io(e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Replaces a document; durable when this returns.
    pub fn set_document(&self, key: &str, bytes: &[u8]) -> Result<(), PersistError> {
        let tx = self.db.begin_write().map_err(|e| self.io(e))?;
        {
            let mut table = tx.open_table(DOCUMENTS).map_err(|e| self.io(e))?;
            table.insert(key, bytes).map_err(|e| self.io(e))?;
        }
        tx.commit().map_err(|e| self.io(e))
    }
}

fn open_error(path: &Path, err: DatabaseError) -> PersistError {
    let path = path.to_path_buf();
    match err {
        DatabaseError::DatabaseAlreadyOpen => PersistError::Locked { path },
        DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            PersistError::Corrupt { path, detail }
        }
        other => {
            let detail = other.to_string();
            // redb reports a file that is not a database as an I/O or
            // format error; either way it is not usable as is.
            if detail.contains("corrupt") || detail.contains("magic number") {
                PersistError::Corrupt { path, detail }
            } else {
                PersistError::Open { path, detail }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.set_meta(&[("restarts", 3)]).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.meta("restarts").unwrap(), Some(3));
        assert_eq!(store.meta("absent").unwrap(), None);
    }

    #[test]
    fn second_open_is_a_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).err().unwrap();
        assert!(matches!(err, PersistError::Locked { .. }), "{err}");
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), vec![0x5a; 4096]).unwrap();
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains(DB_FILE), "{err}");
    }
}
