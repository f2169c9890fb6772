//! Prometheus staleness for scrapes. Each scrape source (a target) is
//! remembered with the series it wrote last time; a series it wrote then
//! but not now gets a stale marker (`STALE_NAN`) at the new scrape's time,
//! and a failed scrape or a removed target marks all of them. The 5 m
//! lookback that makes markers matter lives in the PromQL engine.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::mem::size_of;

use super::ids::IdList;
use super::series::{Appended, SeriesId};
use super::{AppendError, SeriesStore};
use crate::{Labels, STALE_NAN};

/// What one scrape did to the store.
#[derive(Debug, Default, PartialEq)]
pub struct ScrapeOutcome {
    /// Samples stored (exact repeats of the newest sample count too).
    pub appended: usize,
    /// Samples refused, by reason.
    pub out_of_order: usize,
    pub duplicate: usize,
    pub too_old: usize,
    pub memory_cap: usize,
    /// The first refusal, for the scraper to log.
    pub first_error: Option<AppendError>,
    /// Stale markers written for series this source no longer exposes.
    pub stale_markers: usize,
}

impl ScrapeOutcome {
    fn record(&mut self, err: AppendError) {
        let count = match err {
            AppendError::OutOfOrder { .. } => &mut self.out_of_order,
            AppendError::Duplicate { .. } => &mut self.duplicate,
            AppendError::TooOld { .. } => &mut self.too_old,
            AppendError::MemoryCap { .. } => &mut self.memory_cap,
        };
        *count += 1;
        self.first_error.get_or_insert(err);
    }
}

/// The series each source wrote in its last scrape, as ascending ids
/// (about a byte each, see [`IdList`]).
#[derive(Default)]
pub(crate) struct ScrapeSources {
    last_written: HashMap<String, IdList>,
}

impl ScrapeSources {
    /// Records `written` (ascending, no repeats) as the source's latest
    /// scrape; returns the ids it wrote before but not now, and the change
    /// in bytes held.
    fn replace(&mut self, source: &str, written: &[SeriesId]) -> (Vec<SeriesId>, isize) {
        let written_list = IdList::from_ascending(written);
        let new_bytes = list_bytes(source, &written_list) as isize;
        match self.last_written.get_mut(source) {
            Some(previous) => {
                let gone = previous
                    .iter()
                    .filter(|id| written.binary_search(id).is_err())
                    .collect();
                let old_bytes = list_bytes(source, previous) as isize;
                *previous = written_list;
                (gone, new_bytes - old_bytes)
            }
            None => {
                self.last_written.insert(source.to_owned(), written_list);
                (Vec::new(), new_bytes)
            }
        }
    }

    /// Forgets the source; returns what it wrote last and the bytes freed.
    fn take(&mut self, source: &str) -> (Vec<SeriesId>, usize) {
        match self.last_written.remove(source) {
            Some(ids) => {
                let bytes = list_bytes(source, &ids);
                (ids.iter().collect(), bytes)
            }
            None => (Vec::new(), 0),
        }
    }
}

/// Bytes of one source's entry: the table slot, its name and its ids.
fn list_bytes(source: &str, ids: &IdList) -> usize {
    size_of::<(String, IdList)>() + source.len() + ids.encoded_len()
}

impl SeriesStore {
    /// Stores one scrape of `source` taken at `t`: appends every sample at
    /// `t`, then writes a stale marker at `t` for each series the source
    /// wrote in its previous scrape but not in this one. A refused sample
    /// does not stop the scrape; it is counted in the outcome. A series
    /// whose sample was refused still counts as present.
    pub fn ingest_scrape<L: Borrow<Labels>>(
        &self,
        source: &str,
        t: i64,
        samples: impl IntoIterator<Item = (L, f64)>,
    ) -> ScrapeOutcome {
        let mut outcome = ScrapeOutcome::default();
        let mut written = Vec::new();
        for (labels, v) in samples {
            match self.append_sample(labels.borrow(), t, v) {
                Ok(id) => {
                    outcome.appended += 1;
                    written.push(id);
                }
                Err((id, err)) => {
                    written.extend(id);
                    outcome.record(err);
                }
            }
        }
        written.sort_unstable();
        written.dedup();
        let (gone, bytes_delta) = self.sources.lock().replace(source, &written);
        self.adjust_bytes(bytes_delta);
        outcome.stale_markers = self.write_stale_markers(&gone, t);
        outcome
    }

    /// Marks every series `source` wrote in its last scrape stale at `t`
    /// and forgets the source: for a failed scrape or a target that went
    /// away. Returns the number of markers written.
    pub fn mark_source_stale(&self, source: &str, t: i64) -> usize {
        let (ids, bytes) = self.sources.lock().take(source);
        self.adjust_bytes(-(bytes as isize));
        self.write_stale_markers(&ids, t)
    }

    fn write_stale_markers(&self, ids: &[SeriesId], t: i64) -> usize {
        let mut written = 0;
        for &id in ids {
            let Some(series) = self.index.read().get_by_id(id).cloned() else {
                continue; // Dropped by retention or eviction meanwhile.
            };
            if series.is_stale() {
                continue;
            }
            // A marker that would land out of order is skipped, as in
            // Prometheus: the series already has a newer sample.
            if let Ok(Appended::Sample { bytes_delta }) =
                series.append(t, STALE_NAN, self.files.as_ref())
            {
                self.adjust_bytes(bytes_delta);
                self.counters.samples_added(1);
                self.after_append(t);
                written += 1;
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_reports_what_went_missing_and_keeps_bytes_consistent() {
        let mut sources = ScrapeSources::default();
        let (gone, first) = sources.replace("a", &[1, 2, 3]);
        assert!(gone.is_empty());
        let (gone, second) = sources.replace("a", &[2, 4]);
        assert_eq!(gone, [1, 3]);
        let (ids, freed) = sources.take("a");
        assert_eq!(ids, [2, 4]);
        assert_eq!(freed as isize, first + second);
        assert_eq!(sources.take("a"), (Vec::new(), 0));
    }
}
