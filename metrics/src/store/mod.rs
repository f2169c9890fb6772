//! The series store: recent samples of every series in Gorilla-compressed
//! chunks, with a retention window, Prometheus staleness markers for
//! scrapes, and a memory cap with a stated eviction policy. Closed chunks
//! are kept in memory, or in files (`disk.rs`) with only each series' open
//! head in memory. `docs/store.md` is the user-facing description.
//!
//! Concurrency: the index sits behind one `RwLock` that is held only for
//! lookups and for creating or removing series; each series' chunks sit
//! behind their own short mutex. Readers decode the chunks overlapping
//! their range under that mutex, one series at a time, so a reader holds
//! up the writer of one series for at most that series' decoding (about a
//! microsecond per chunk) and never the whole store.

mod bits;
mod chunk;
mod closed;
mod disk;
mod housekeeping;
mod ids;
mod index;
mod order;
mod postings;
mod prefetch;
mod read_state;
mod selections;
mod series;
mod staleness;
mod stats;
mod suffix;
mod totals;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::{Labels, Matcher, Sample, SamplesSummary, SummaryKind};
use disk::ChunkFiles;
use housekeeping::Housekeeping;
use index::SeriesIndex;
use selections::Selections;
use series::{Appended, Part, Rejection, Series, SeriesId};
use smallvec::SmallVec;
use staleness::ScrapeSources;
use stats::Counters;

pub use staleness::ScrapeOutcome;
pub use stats::StoreStats;

/// Read access to series, used by the PromQL engine.
pub trait Queryable: Send + Sync {
    /// Every series matching all `matchers` that has samples with
    /// timestamps in `[mint, maxt]` (milliseconds, inclusive), with those
    /// samples oldest first; series are ordered by label set. Stale markers
    /// are included as samples with `STALE_NAN`.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples>;

    /// Like [`Queryable::select`], but with only the newest sample in
    /// `[mint, maxt]` of each series: all an instant vector selector at a
    /// single time reads. A store can answer it without decoding history.
    fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        let mut selected = self.select(matchers, mint, maxt);
        for s in &mut selected {
            let older = s.samples.len().saturating_sub(1);
            s.samples.drain(..older);
        }
        selected
    }

    /// Calls `visit` with what [`Queryable::select`] returns, one series at
    /// a time: its labels and its samples in `[mint, maxt]`. Only one
    /// series' samples need to exist at once, so a store can decode each
    /// into one reused buffer; a range function over thousands of series
    /// then holds one window in memory, not all of them.
    fn for_each_selected(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(&Labels, &[Sample]),
    ) {
        for s in self.select(matchers, mint, maxt) {
            visit(&s.labels, &s.samples);
        }
    }

    /// Like [`Queryable::for_each_selected`], but a store may hand over a
    /// run of samples that lies wholly inside `[mint, maxt]` as its
    /// summary instead of the samples: `visit` gets the series' samples in
    /// the range as pieces, oldest first. Range functions that can work
    /// from summaries (see [`SamplesSummary`]) then need not decode every
    /// sample of a long window. The summaries hold what `kind` asks for.
    /// The default hands over all samples as one piece.
    fn for_each_summarised(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        _kind: SummaryKind,
        visit: &mut dyn FnMut(&Labels, &[Piece<'_>]),
    ) {
        self.for_each_selected(matchers, mint, maxt, &mut |labels, samples| {
            visit(labels, &[Piece::Samples(samples)])
        });
    }

    /// How many series match `matchers`, where the store knows without
    /// reading them (`None` where it does not): the most that a walk over
    /// them visits, so that a reader sizes its output once instead of
    /// growing it (which cost the alert batch 2 % of its instructions).
    fn count_selected(&self, _matchers: &[Matcher]) -> Option<usize> {
        None
    }

    /// The label sets of the series matching `matchers`, in label order,
    /// where the store's reads hand over these very sets (clones of one
    /// shared set, see [`Labels`]); `None` where they do not. A reader
    /// holding the result of a wider read picks a narrower one out of it
    /// by them instead of reading again.
    fn selected_labels(&self, _matchers: &[Matcher]) -> Option<Vec<Labels>> {
        None
    }

    /// Like [`Queryable::for_each_selected`], with what
    /// [`Queryable::select_newest`] returns: each series' newest sample.
    fn for_each_newest(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(&Labels, &[Sample]),
    ) {
        for s in self.select_newest(matchers, mint, maxt) {
            visit(&s.labels, &s.samples);
        }
    }
}

/// Part of a series' samples in a range, as
/// [`Queryable::for_each_summarised`] hands them over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Piece<'a> {
    /// Samples, stale markers included.
    Samples(&'a [Sample]),
    /// The summary of a run of samples (without its stale markers).
    Summary(&'a SamplesSummary),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Samples older than the newest sample in the store minus this are
    /// dropped and no longer returned. `None` keeps everything (used by
    /// rule unit tests and PromQL conformance).
    pub retention_ms: Option<i64>,
    /// Memory cap in bytes, as reported by [`SeriesStore::bytes_used`].
    /// Above it the store evicts (see `docs/store.md`); `None` is no cap.
    pub max_bytes: Option<usize>,
}

pub const DEFAULT_RETENTION_MS: i64 = 60 * 60 * 1000;
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention_ms: Some(DEFAULT_RETENTION_MS),
            max_bytes: Some(DEFAULT_MAX_BYTES),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AppendError {
    #[error("out of order sample for {labels}: {t} is before {last}")]
    OutOfOrder { labels: Labels, t: i64, last: i64 },
    #[error("duplicate sample for {labels} at {t}: {value} differs from the stored {stored}")]
    Duplicate {
        labels: Labels,
        t: i64,
        value: f64,
        stored: f64,
    },
    #[error(
        "sample for {labels} at {t} is older than the retention window, which starts at {cutoff}"
    )]
    TooOld { labels: Labels, t: i64, cutoff: i64 },
    #[error("memory cap of {max_bytes} bytes reached with nothing left to evict: new series {labels} not stored")]
    MemoryCap { labels: Labels, max_bytes: usize },
}

pub struct SeriesStore {
    config: StoreConfig,
    index: RwLock<SeriesIndex>,
    sources: Mutex<ScrapeSources>,
    /// Newest timestamp appended; retention counts back from it.
    max_t: AtomicI64,
    /// Bytes of chunks, series, index and scrape sources.
    bytes: AtomicUsize,
    counters: Counters,
    housekeeping: Mutex<Housekeeping>,
    /// Held while ranking series in label order, so that one reader ranks.
    ranking: Mutex<()>,
    /// What selectors matched, while the set of series stays the same.
    selections: Mutex<Selections>,
    /// Where closed chunks are kept, if not in memory.
    files: Option<ChunkFiles>,
}

impl Default for SeriesStore {
    fn default() -> Self {
        SeriesStore::new(StoreConfig::default())
    }
}

/// The series an append touched, if any, with why it failed.
type AppendFailure = (Option<SeriesId>, AppendError);

/// What creating a series found.
enum Creation {
    /// Created, holding the sample.
    Created(SeriesId),
    /// Another writer created it first; the sample is not yet appended.
    Exists(Arc<Series>),
}

impl SeriesStore {
    /// A store holding all its chunks in memory.
    pub fn new(config: StoreConfig) -> Self {
        SeriesStore {
            config,
            index: RwLock::default(),
            sources: Mutex::default(),
            max_t: AtomicI64::new(i64::MIN),
            bytes: AtomicUsize::new(0),
            counters: Counters::default(),
            housekeeping: Mutex::default(),
            ranking: Mutex::default(),
            selections: Mutex::default(),
            files: None,
        }
    }

    /// A store that keeps its closed chunks in segment files in `dir`
    /// (made if missing) and only each series' open head in memory; see
    /// `docs/store.md`. Segments a previous store left in `dir` are
    /// removed. Fails if `dir` cannot be made, read or cleaned.
    pub fn with_chunk_dir(config: StoreConfig, dir: &Path) -> std::io::Result<Self> {
        Ok(SeriesStore {
            files: Some(ChunkFiles::open(dir)?),
            ..SeriesStore::new(config)
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Appends one sample. Timestamps must increase within a series: an
    /// older one is `OutOfOrder`, the same one with another value is
    /// `Duplicate`, and an exact repeat of the newest sample is ignored.
    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        self.append_sample(labels, t, v)
            .map(|_| ())
            .map_err(|(_, e)| e)
    }

    /// Bytes held: chunk buffers (with spare capacity), chunk and series
    /// structs, label strings, the index's tables (estimated per entry) and
    /// the scrape sources. Allocator overhead is not counted.
    pub fn bytes_used(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> StoreStats {
        let series = self.index.read().len();
        let mut stats = self.counters.snapshot(series, self.bytes_used());
        if let Some(files) = &self.files {
            stats.disk_bytes = files.bytes();
            stats.disk_errors = files.errors();
        }
        stats
    }

    /// The oldest timestamp still kept: samples before it are neither
    /// accepted nor returned.
    fn retention_cutoff(&self) -> i64 {
        match self.config.retention_ms {
            Some(retention) => self.max_t.load(Ordering::Relaxed).saturating_sub(retention),
            None => i64::MIN,
        }
    }

    fn append_sample(&self, labels: &Labels, t: i64, v: f64) -> Result<SeriesId, AppendFailure> {
        let cutoff = self.retention_cutoff();
        if t < cutoff {
            let id = self.index.read().get(labels).map(|s| s.id);
            return Err((
                id,
                AppendError::TooOld {
                    labels: labels.clone(),
                    t,
                    cutoff,
                },
            ));
        }
        loop {
            let existing = self.index.read().get(labels).cloned();
            let series = match existing {
                Some(series) => series,
                None => match self.create_series(labels, t, v)? {
                    Creation::Created(id) => {
                        self.after_append(t);
                        return Ok(id);
                    }
                    Creation::Exists(series) => series,
                },
            };
            match series.append(t, v, self.files.as_ref()) {
                Ok(Appended::Sample { bytes_delta }) => {
                    self.adjust_bytes(bytes_delta);
                    self.counters.samples_added(1);
                    self.after_append(t);
                    return Ok(series.id);
                }
                Ok(Appended::Repeat) => return Ok(series.id),
                // Removed by housekeeping since the lookup: look it up anew.
                Err(Rejection::Removed) => continue,
                Err(Rejection::OutOfOrder { last }) => {
                    let labels = labels.clone();
                    return Err((Some(series.id), AppendError::OutOfOrder { labels, t, last }));
                }
                Err(Rejection::Duplicate { last_value }) => {
                    let labels = labels.clone();
                    let stored = last_value;
                    let err = AppendError::Duplicate {
                        labels,
                        t,
                        value: v,
                        stored,
                    };
                    return Err((Some(series.id), err));
                }
            }
        }
    }

    /// Creates a series holding `(t, v)`, unless the memory cap refuses it.
    fn create_series(&self, labels: &Labels, t: i64, v: f64) -> Result<Creation, AppendFailure> {
        if let Some(max_bytes) = self.config.max_bytes {
            if self.bytes_used() > max_bytes {
                self.enforce_cap();
            }
            if self.bytes_used() > max_bytes {
                self.counters.series_rejected();
                let labels = labels.clone();
                return Err((None, AppendError::MemoryCap { labels, max_bytes }));
            }
        }
        let mut index = self.index.write();
        if let Some(series) = index.get(labels) {
            return Ok(Creation::Exists(Arc::clone(series)));
        }
        let (series, index_bytes) = index.insert(labels.clone(), t, v);
        drop(index);
        self.bytes
            .fetch_add(index_bytes + series.chunk_bytes(), Ordering::Relaxed);
        self.counters.samples_added(1);
        Ok(Creation::Created(series.id))
    }

    fn after_append(&self, t: i64) {
        self.max_t.fetch_max(t, Ordering::Relaxed);
        self.expire_if_due();
        if self
            .config
            .max_bytes
            .is_some_and(|max| self.bytes_used() > max)
        {
            self.enforce_cap();
        }
    }

    fn adjust_bytes(&self, delta: isize) {
        if delta >= 0 {
            self.bytes
                .fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            self.bytes
                .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }
}

impl SeriesStore {
    /// Calls `visit` with each series matching `matchers`, in label order,
    /// and the samples `read` appends to a buffer for `[mint, maxt]` (after
    /// retention); series without any are skipped. The buffer is cleared
    /// and reused for the next series, unless `visit` took it.
    fn visit_selected(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        read: ReadFn,
        mut visit: impl FnMut(&Series, &mut Vec<Sample>),
    ) {
        let mut samples = Vec::new();
        self.walk_selected(matchers, mint, maxt, |s, mint, maxt| {
            samples.clear();
            let bytes_delta = read(s, (mint, maxt), &mut samples, self.files.as_ref());
            if bytes_delta != 0 {
                self.adjust_bytes(bytes_delta);
            }
            if !samples.is_empty() {
                visit(s, &mut samples);
            }
        });
    }

    /// Calls `each` with every series matching `matchers`, in label order,
    /// and the range `[mint, maxt]` left after retention (none if nothing
    /// is left).
    fn walk_selected(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut each: impl FnMut(&Series, i64, i64),
    ) {
        let mint = mint.max(self.retention_cutoff());
        if mint > maxt {
            return;
        }
        let selected = self.select_in_label_order(matchers);
        for (i, s) in selected.iter().enumerate() {
            // The structure of the series two ahead is loaded while this
            // one is decoded, and what the next one's structure points to
            // (which needs that structure, loaded one series ago): each
            // would be a cache miss of its own otherwise, taken one after
            // another.
            if let Some(ahead) = selected.get(i + 2) {
                prefetch::value::<Series>(ahead);
            }
            if let Some(next) = selected.get(i + 1) {
                next.prefetch_contents(mint);
            }
            each(s, mint, maxt);
        }
    }

    /// The matching series ordered by label set, each with the samples
    /// `read` appends, decoded straight into its own vector.
    fn select_with(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        read: ReadFn,
    ) -> Vec<SeriesSamples> {
        let mut selected = Vec::new();
        self.visit_selected(matchers, mint, maxt, read, |s, samples| {
            selected.push(SeriesSamples {
                labels: s.labels.clone(),
                samples: std::mem::take(samples),
            });
        });
        selected
    }
}

/// Appends a series' samples in a range to a buffer, reading closed
/// chunks from the files if any; returns the change in chunk bytes.
type ReadFn = fn(&Series, (i64, i64), &mut Vec<Sample>, Option<&ChunkFiles>) -> isize;

fn read_between(
    s: &Series,
    range: (i64, i64),
    out: &mut Vec<Sample>,
    files: Option<&ChunkFiles>,
) -> isize {
    s.extend_between(range, out, files)
}

fn read_newest(
    s: &Series,
    range: (i64, i64),
    out: &mut Vec<Sample>,
    files: Option<&ChunkFiles>,
) -> isize {
    let (newest, bytes_delta) = s.newest_between(range, files);
    out.extend(newest);
    bytes_delta
}

impl Queryable for SeriesStore {
    fn count_selected(&self, matchers: &[Matcher]) -> Option<usize> {
        Some(self.select_in_label_order(matchers).len())
    }

    fn selected_labels(&self, matchers: &[Matcher]) -> Option<Vec<Labels>> {
        let selected = self.select_in_label_order(matchers);
        Some(selected.iter().map(|s| s.labels.clone()).collect())
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.select_with(matchers, mint, maxt, read_between)
    }

    fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.select_with(matchers, mint, maxt, read_newest)
    }

    fn for_each_selected(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(&Labels, &[Sample]),
    ) {
        self.visit_selected(matchers, mint, maxt, read_between, |s, samples| {
            visit(&s.labels, samples)
        });
    }

    fn for_each_newest(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(&Labels, &[Sample]),
    ) {
        self.visit_selected(matchers, mint, maxt, read_newest, |s, samples| {
            visit(&s.labels, samples)
        });
    }

    /// Closed chunks inside the range are handed over as summaries, and
    /// for [`SummaryKind::Totals`] so is the part of the window from where
    /// it starts in a chunk to that chunk's end; see
    /// `Series::summarise_between`.
    fn for_each_summarised(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        kind: SummaryKind,
        visit: &mut dyn FnMut(&Labels, &[Piece<'_>]),
    ) {
        let mut samples = Vec::new();
        let mut parts = Vec::new();
        self.walk_selected(matchers, mint, maxt, |s, mint, maxt| {
            samples.clear();
            parts.clear();
            let bytes_delta = s.summarise_between(
                (mint, maxt),
                kind,
                (&mut samples, &mut parts),
                self.files.as_ref(),
            );
            if bytes_delta != 0 {
                self.adjust_bytes(bytes_delta);
            }
            let mut start = 0;
            let pieces: SmallVec<[Piece; 8]> = parts
                .iter()
                .map(|part| match part {
                    Part::Decoded { end } => {
                        let run = &samples[start..*end];
                        start = *end;
                        Piece::Samples(run)
                    }
                    Part::Summary(summary) => Piece::Summary(summary),
                })
                .collect();
            if !pieces.is_empty() {
                visit(&s.labels, &pieces);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walking a selection one series at a time visits what `select` (or
    /// `select_newest`) returns, in the same order, each series once.
    #[test]
    fn for_each_selected_visits_what_select_returns() {
        let store = SeriesStore::new(StoreConfig {
            retention_ms: None,
            max_bytes: None,
        });
        for (i, job) in ["b", "a", "c"].into_iter().enumerate() {
            let labels = Labels::from_pairs([("__name__", "up"), ("job", job)]);
            // Series `c` has no sample in the range read below.
            let start = if job == "c" { 10_000 } else { 0 };
            for t in 0..300i64 {
                store
                    .append(&labels, (start + t) * 15_000, (i as i64 * t) as f64)
                    .unwrap();
            }
        }
        let matchers = [Matcher::equal("__name__", "up")];
        for (mint, maxt) in [(0, i64::MAX), (1_000_000, 2_000_000), (-5, -1)] {
            let mut visited = Vec::new();
            store.for_each_selected(&matchers, mint, maxt, &mut |labels, samples| {
                visited.push(SeriesSamples {
                    labels: labels.clone(),
                    samples: samples.to_vec(),
                });
            });
            assert_eq!(
                visited,
                store.select(&matchers, mint, maxt),
                "[{mint}, {maxt}]"
            );
            visited.clear();
            store.for_each_newest(&matchers, mint, maxt, &mut |labels, samples| {
                visited.push(SeriesSamples {
                    labels: labels.clone(),
                    samples: samples.to_vec(),
                });
            });
            let newest = store.select_newest(&matchers, mint, maxt);
            assert_eq!(visited, newest, "newest in [{mint}, {maxt}]");
            // The count sizes a reader's output: never fewer than visited.
            assert_eq!(store.count_selected(&matchers), Some(3));
        }
        let job_a = [Matcher::equal("job", "a")];
        assert_eq!(store.count_selected(&job_a), Some(1));
    }

    /// `select_newest` must be the last sample `select` returns, whether the
    /// head answers it or a closed chunk has to be decoded.
    #[test]
    fn select_newest_is_the_last_selected_sample() {
        let store = SeriesStore::new(StoreConfig {
            retention_ms: None,
            max_bytes: None,
        });
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        for i in 0..300i64 {
            // A stale marker now and then: it is a sample like any other here.
            let v = if i % 37 == 0 {
                crate::STALE_NAN
            } else {
                i as f64
            };
            store.append(&labels, i * 15_000, v).unwrap();
        }
        let matchers = [Matcher::equal("job", "a")];
        let newest = 299 * 15_000;
        for maxt in (-20_000..newest + 20_000).step_by(7_001) {
            for range in [1, 15_000, 300_000, 3_600_000] {
                let mint = maxt - range;
                let all = store.select(&matchers, mint, maxt);
                let expected: Vec<(i64, u64)> = all
                    .iter()
                    .filter_map(|s| s.samples.last())
                    .map(|p| (p.t, p.v.to_bits()))
                    .collect();
                let got: Vec<(i64, u64)> = store
                    .select_newest(&matchers, mint, maxt)
                    .iter()
                    .inspect(|s| assert_eq!(s.labels, labels))
                    .flat_map(|s| s.samples.iter().map(|p| (p.t, p.v.to_bits())))
                    .collect();
                assert_eq!(got, expected, "mint {mint} maxt {maxt}");
            }
        }
    }
}
