//! Silences: matchers that mute alerts between two instants. Persisted
//! in the agent's database, cached in memory for the dispatcher.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::matcher::{all_match, Matcher};
use super::store::{self, SharedDatabase, StoreError, SILENCES};

/// Expired silences are forgotten this long after they end, as
/// Alertmanager's default retention.
const RETENTION_MS: i64 = 5 * 24 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    /// Unix milliseconds.
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl Silence {
    pub fn state_at(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_at_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    pub fn mutes(&self, labels: &BTreeMap<String, String>, now_ms: i64) -> bool {
        self.state_at(now_ms) == SilenceState::Active && all_match(&self.matchers, labels)
    }
}

/// What a user asks for; the store adds the id and timestamps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: Vec<Matcher>,
    /// Default: now.
    #[serde(default)]
    pub starts_at_ms: Option<i64>,
    pub ends_at_ms: i64,
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("silence.{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no silence with id {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SilenceError {
    SilenceError::Invalid {
        field,
        message: message.into(),
    }
}

/// The silences, shared by the dispatcher and the agent's API.
#[derive(Clone)]
pub struct SilenceStore {
    db: SharedDatabase,
    cache: Arc<RwLock<Vec<Silence>>>,
}

impl SilenceStore {
    /// Loads the persisted silences, dropping those long expired.
    pub fn open(db: SharedDatabase, now_ms: i64) -> Result<SilenceStore, StoreError> {
        store::create_tables(db.database())?;
        let all: Vec<(String, Silence)> =
            store::read_all(db.database(), SILENCES, "notify_silences")?;
        let (keep, stale): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|(_, s)| s.ends_at_ms + RETENTION_MS > now_ms);
        if !stale.is_empty() {
            let txn = db.database().begin_write()?;
            {
                let mut table = txn.open_table(SILENCES)?;
                for (id, _) in &stale {
                    table.remove(id.as_str())?;
                }
            }
            txn.commit()?;
        }
        Ok(SilenceStore {
            db,
            cache: Arc::new(RwLock::new(keep.into_iter().map(|(_, s)| s).collect())),
        })
    }

    pub fn create(&self, new: NewSilence, now_ms: i64) -> Result<Silence, SilenceError> {
        if new.matchers.is_empty() {
            return Err(invalid("matchers", "at least one matcher is required"));
        }
        let empty = BTreeMap::new();
        if all_match(&new.matchers, &empty) {
            return Err(invalid(
                "matchers",
                "the matchers would match every alert; add one that needs a label value",
            ));
        }
        if new.created_by.trim().is_empty() {
            return Err(invalid("created_by", "must not be empty"));
        }
        let starts_at_ms = new.starts_at_ms.unwrap_or(now_ms).max(now_ms);
        if new.ends_at_ms <= starts_at_ms {
            return Err(invalid(
                "ends_at",
                "must be after the start and in the future",
            ));
        }
        let silence = Silence {
            id: new_id(),
            matchers: new.matchers,
            starts_at_ms,
            ends_at_ms: new.ends_at_ms,
            created_by: new.created_by,
            comment: new.comment,
            updated_at_ms: now_ms,
        };
        self.persist(&silence)?;
        self.cache.write().push(silence.clone());
        Ok(silence)
    }

    /// Ends a silence now (a pending one ends before it starts).
    pub fn expire(&self, id: &str, now_ms: i64) -> Result<Silence, SilenceError> {
        let mut silence = self
            .cache
            .read()
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| SilenceError::NotFound(id.to_string()))?;
        if silence.state_at(now_ms) == SilenceState::Expired {
            return Ok(silence);
        }
        silence.starts_at_ms = silence.starts_at_ms.min(now_ms);
        silence.ends_at_ms = now_ms;
        silence.updated_at_ms = now_ms;
        self.persist(&silence)?;
        if let Some(slot) = self.cache.write().iter_mut().find(|s| s.id == id) {
            *slot = silence.clone();
        }
        Ok(silence)
    }

    /// Every known silence, newest first.
    pub fn list(&self) -> Vec<Silence> {
        let mut all = self.cache.read().clone();
        all.sort_by(|a, b| b.updated_at_ms.cmp(&a.updated_at_ms).then(a.id.cmp(&b.id)));
        all
    }

    /// The id of an active silence muting these labels.
    pub fn muting(&self, labels: &BTreeMap<String, String>, now_ms: i64) -> Option<String> {
        self.cache
            .read()
            .iter()
            .find(|s| s.mutes(labels, now_ms))
            .map(|s| s.id.clone())
    }

    fn persist(&self, silence: &Silence) -> Result<(), StoreError> {
        let txn = self.db.database().begin_write()?;
        {
            let mut table = txn.open_table(SILENCES)?;
            table.insert(silence.id.as_str(), store::encode(silence).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// 128 random bits in hex, in the shape of a UUID like Alertmanager's ids.
fn new_id() -> String {
    let bits: u128 = rand::rng().random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::*;

    fn store(path: &std::path::Path) -> SilenceStore {
        SilenceStore::open(Arc::new(Database::create(path).unwrap()), 1_000).unwrap()
    }

    fn new_silence(matcher: &str, ends_at_ms: i64) -> NewSilence {
        NewSilence {
            matchers: vec![Matcher::parse(matcher).unwrap()],
            starts_at_ms: None,
            ends_at_ms,
            created_by: "alice".into(),
            comment: "deploy".into(),
        }
    }

    #[test]
    fn create_mute_expire_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let labels: BTreeMap<String, String> = [("job".to_string(), "api".to_string())].into();
        let id = {
            let silences = store(&path);
            let s = silences
                .create(new_silence("job=api", 10_000), 1_000)
                .unwrap();
            assert_eq!(silences.muting(&labels, 2_000), Some(s.id.clone()));
            s.id
        };
        let silences = store(&path);
        assert_eq!(silences.list().len(), 1);
        assert_eq!(silences.muting(&labels, 2_000), Some(id.clone()));
        let expired = silences.expire(&id, 3_000).unwrap();
        assert_eq!(expired.state_at(3_000), SilenceState::Expired);
        assert_eq!(silences.muting(&labels, 3_000), None);
        assert!(matches!(
            silences.expire("nope", 3_000),
            Err(SilenceError::NotFound(_))
        ));
    }

    #[test]
    fn rejects_silences_that_match_everything_or_end_in_the_past() {
        let dir = tempfile::tempdir().unwrap();
        let silences = store(&dir.path().join("db"));
        let err = silences
            .create(new_silence("job=~\".*\"", 10_000), 1_000)
            .unwrap_err();
        assert!(err.to_string().contains("silence.matchers"), "{err}");
        let err = silences
            .create(new_silence("job=api", 500), 1_000)
            .unwrap_err();
        assert!(err.to_string().contains("silence.ends_at"), "{err}");
    }
}
