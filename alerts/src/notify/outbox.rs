//! The durable outbox: a notification is written (together with the
//! notification-log entry that decided it) before it is sent, and removed
//! only when its receiver answers 2xx or fails permanently. A restart
//! re-sends whatever is still here, in order.

use std::sync::atomic::{AtomicU64, Ordering};

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::nflog::NflogEntry;
use super::store::{self, SharedDatabase, StoreError, NFLOG, OUTBOX};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutboxEntry {
    pub receiver: String,
    /// Group key, alert fingerprints and states, hashed: two entries with
    /// the same key would say the same thing, so only one is kept.
    pub notification_key: String,
    /// A human title for status lines, e.g. `[FIRING:2] HeapHigh`.
    pub title: String,
    /// The exact JSON to post.
    pub body: String,
    pub created_at_ms: i64,
    pub attempts: u32,
}

pub(crate) struct Outbox {
    db: SharedDatabase,
    /// Orders entries within a receiver; starts above every stored one.
    next_seq: AtomicU64,
}

impl Outbox {
    pub fn open(db: SharedDatabase, now_ms: i64) -> Result<Outbox, StoreError> {
        store::create_tables(db.database())?;
        let highest = store::read_all::<OutboxEntry>(db.database(), OUTBOX, "notify_outbox")?
            .iter()
            .filter_map(|(key, _)| key.rsplit('\0').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let start = highest
            .saturating_add(1)
            .max(u64::try_from(now_ms).unwrap_or(0) * 1000);
        Ok(Outbox {
            db,
            next_seq: AtomicU64::new(start),
        })
    }

    /// Drops waiting notifications for receivers no longer configured
    /// (nothing could send them); returns how many per receiver.
    pub fn drop_unknown_receivers(
        &self,
        known: &[&str],
    ) -> Result<Vec<(String, usize)>, StoreError> {
        let orphans: Vec<(String, OutboxEntry)> =
            store::read_all::<OutboxEntry>(self.db.database(), OUTBOX, "notify_outbox")?
                .into_iter()
                .filter(|(_, e)| !known.contains(&e.receiver.as_str()))
                .collect();
        if orphans.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.database().begin_write()?;
        {
            let mut table = txn.open_table(OUTBOX)?;
            for (key, _) in &orphans {
                table.remove(key.as_str())?;
            }
        }
        txn.commit()?;
        Ok(count_by_receiver(orphans.into_iter().map(|(_, e)| e)))
    }

    /// Stores `entry` and the log entry that decided it in one
    /// transaction. Returns false (and stores only the log entry) when the
    /// same notification is already waiting.
    pub fn enqueue(
        &self,
        entry: &OutboxEntry,
        log: (&str, &NflogEntry),
    ) -> Result<bool, StoreError> {
        let txn = self.db.database().begin_write()?;
        let added = {
            let mut outbox = txn.open_table(OUTBOX)?;
            let duplicate = receiver_rows(&outbox, &entry.receiver)?
                .iter()
                .any(|(_, e)| e.notification_key == entry.notification_key);
            if !duplicate {
                let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
                let key = format!("{}\0{seq:020}", entry.receiver);
                outbox.insert(key.as_str(), store::encode(entry).as_slice())?;
            }
            let mut nflog = txn.open_table(NFLOG)?;
            nflog.insert(log.0, store::encode(log.1).as_slice())?;
            !duplicate
        };
        txn.commit()?;
        Ok(added)
    }

    /// Stores a one-off `entry` (a notice) that no notification log
    /// decided; its key is unique, so it is never a duplicate.
    pub fn push(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let txn = self.db.database().begin_write()?;
        {
            let mut outbox = txn.open_table(OUTBOX)?;
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            let key = format!("{}\0{seq:020}", entry.receiver);
            outbox.insert(key.as_str(), store::encode(entry).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Records a decision that sends nothing (all resolved, resolved not
    /// wanted).
    pub fn log_only(&self, log: (&str, &NflogEntry)) -> Result<(), StoreError> {
        let txn = self.db.database().begin_write()?;
        txn.open_table(NFLOG)?
            .insert(log.0, store::encode(log.1).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    pub fn log_entry(&self, key: &str) -> Result<Option<NflogEntry>, StoreError> {
        let txn = self.db.database().begin_read()?;
        let table = txn.open_table(NFLOG)?;
        let Some(value) = table.get(key)? else {
            return Ok(None);
        };
        store::decode("notify_nflog", key, value.value()).map(Some)
    }

    /// Forgets log entries older than the dedup window.
    pub fn prune_log(&self, older_than_ms: i64) -> Result<(), StoreError> {
        let stale: Vec<String> =
            store::read_all::<NflogEntry>(self.db.database(), NFLOG, "notify_nflog")?
                .into_iter()
                .filter(|(_, e)| e.at_ms < older_than_ms)
                .map(|(k, _)| k)
                .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let txn = self.db.database().begin_write()?;
        {
            let mut table = txn.open_table(NFLOG)?;
            for key in &stale {
                table.remove(key.as_str())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The oldest waiting notification for a receiver, with its key.
    pub fn oldest(&self, receiver: &str) -> Result<Option<(String, OutboxEntry)>, StoreError> {
        let txn = self.db.database().begin_read()?;
        let table = txn.open_table(OUTBOX)?;
        let (start, end) = receiver_range(receiver);
        let Some(row) = table.range(start.as_str()..end.as_str())?.next() else {
            return Ok(None);
        };
        let (key, value) = row?;
        let key = key.value().to_string();
        let entry = store::decode("notify_outbox", &key, value.value())?;
        Ok(Some((key, entry)))
    }

    /// Removes a delivered (or permanently failed) notification.
    pub fn remove(&self, key: &str) -> Result<(), StoreError> {
        let txn = self.db.database().begin_write()?;
        txn.open_table(OUTBOX)?.remove(key)?;
        txn.commit()?;
        Ok(())
    }

    pub fn count_attempt(&self, key: &str, entry: &OutboxEntry) -> Result<(), StoreError> {
        let txn = self.db.database().begin_write()?;
        {
            let mut table = txn.open_table(OUTBOX)?;
            // Only if still there: it may have been removed meanwhile.
            if table.get(key)?.is_some() {
                table.insert(key, store::encode(entry).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Waiting notifications per receiver.
    pub fn pending(&self) -> Result<Vec<(String, usize)>, StoreError> {
        let entries = store::read_all::<OutboxEntry>(self.db.database(), OUTBOX, "notify_outbox")?;
        Ok(count_by_receiver(entries.into_iter().map(|(_, e)| e)))
    }
}

fn count_by_receiver(entries: impl Iterator<Item = OutboxEntry>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for entry in entries {
        match counts.iter_mut().find(|(r, _)| *r == entry.receiver) {
            Some((_, n)) => *n += 1,
            None => counts.push((entry.receiver, 1)),
        }
    }
    counts
}

/// The key range of a receiver's rows: `receiver \0 …`.
fn receiver_range(receiver: &str) -> (String, String) {
    (format!("{receiver}\0"), format!("{receiver}\u{1}"))
}

/// A receiver's rows in key (that is, enqueue) order.
fn receiver_rows(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    receiver: &str,
) -> Result<Vec<(String, OutboxEntry)>, StoreError> {
    let (start, end) = receiver_range(receiver);
    let mut rows = Vec::new();
    for row in table.range(start.as_str()..end.as_str())? {
        let (key, value) = row?;
        let key = key.value().to_string();
        let entry = store::decode("notify_outbox", &key, value.value())?;
        rows.push((key, entry));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use redb::Database;

    use super::*;

    fn entry(receiver: &str, key: &str) -> OutboxEntry {
        OutboxEntry {
            receiver: receiver.into(),
            notification_key: key.into(),
            title: format!("title {key}"),
            body: "{}".into(),
            created_at_ms: 0,
            attempts: 0,
        }
    }

    #[test]
    fn keeps_order_drops_duplicates_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let log = NflogEntry::default();
        {
            let outbox = Outbox::open(Arc::new(Database::create(&path).unwrap()), 1).unwrap();
            assert!(outbox.enqueue(&entry("a", "k1"), ("a\0g", &log)).unwrap());
            assert!(outbox.enqueue(&entry("a", "k2"), ("a\0g", &log)).unwrap());
            assert!(!outbox.enqueue(&entry("a", "k1"), ("a\0g", &log)).unwrap());
            assert!(outbox
                .enqueue(&entry("gone", "k3"), ("gone\0g", &log))
                .unwrap());
        }
        let outbox = Outbox::open(Arc::new(Database::create(&path).unwrap()), 1).unwrap();
        assert_eq!(outbox.log_entry("a\0g").unwrap(), Some(log.clone()));
        let (key, first) = outbox.oldest("a").unwrap().unwrap();
        assert_eq!(first.notification_key, "k1");
        outbox.remove(&key).unwrap();
        // Entries written after the reopen still sort after older ones.
        assert!(outbox.enqueue(&entry("a", "k4"), ("a\0g", &log)).unwrap());
        assert_eq!(
            outbox.oldest("a").unwrap().unwrap().1.notification_key,
            "k2"
        );
        assert_eq!(
            outbox.drop_unknown_receivers(&["a"]).unwrap(),
            [("gone".to_string(), 1)]
        );
        assert_eq!(outbox.pending().unwrap(), [("a".to_string(), 2)]);
    }
}
