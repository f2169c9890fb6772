//! The notifier's tables in the agent's redb database. Records are JSON
//! so that a record written by an older version stays readable.

use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whatever owns the agent's database. Implemented for
/// `redb::Database`; the agent can implement it for the store that holds
/// its database, so the notifier's tables live in the same file.
pub trait DatabaseHandle: Send + Sync + 'static {
    fn database(&self) -> &Database;
}

impl DatabaseHandle for Database {
    fn database(&self) -> &Database {
        self
    }
}

/// The database, shared by the notifier's parts and its owner.
pub type SharedDatabase = Arc<dyn DatabaseHandle>;

/// Notifications not yet acknowledged by their receiver, keyed
/// `receiver \0 notification key`.
pub(crate) const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("notify_outbox");
/// What was last notified per `receiver \0 group key` (Alertmanager's nflog).
pub(crate) const NFLOG: TableDefinition<&str, &[u8]> = TableDefinition::new("notify_nflog");
pub(crate) const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("notify_silences");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Boxed: redb's error is large and this one travels far.
    #[error("notification store: {0}")]
    Database(Box<redb::Error>),
    #[error("notification store: record {key:?} in {table} is unreadable: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
}

macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(err: $ty) -> Self {
                StoreError::Database(Box::new(err.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Creates the tables so that read transactions never meet a missing one.
pub(crate) fn create_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    txn.open_table(OUTBOX)?;
    txn.open_table(NFLOG)?;
    txn.open_table(SILENCES)?;
    txn.commit()?;
    Ok(())
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        table,
        key: key.to_string(),
        source,
    })
}

/// Every record of a table, decoded, in key order.
pub(crate) fn read_all<T: DeserializeOwned>(
    db: &Database,
    table: TableDefinition<&str, &[u8]>,
    name: &'static str,
) -> Result<Vec<(String, T)>, StoreError> {
    let txn = db.begin_read()?;
    let table = txn.open_table(table)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (key, value) = row?;
        let key = key.value().to_string();
        let record = decode(name, &key, value.value())?;
        out.push((key, record));
    }
    Ok(out)
}
