//! One series: its labels and its chunks behind a short per-series lock.

use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use parking_lot::Mutex;

use super::chunk::{ClosedChunk, HeadChunk, ResumePoints};
use super::closed::{ClosedChunks, NotWritten};
use super::disk::ChunkFiles;
use super::prefetch;
use super::read_state::ReadState;
use crate::{is_stale_nan, Labels, Sample, SamplesSummary, SummaryKind};

pub(crate) type SeriesId = u64;

/// A head chunk is closed once it holds this many samples: twice
/// Prometheus's 120, because at 1 s scrapes the fixed cost of a chunk
/// (about 50 bytes) would otherwise add 0.4 bytes to every sample, while a
/// query still decodes at most one chunk it does not need.
pub(crate) const MAX_SAMPLES_PER_CHUNK: u32 = 240;

/// With chunk files, a head is closed at Prometheus's 120 samples: a
/// closed chunk's fixed cost is then on disk, and the heads are what is
/// left in memory, 5,000 of them for a large target, all growing in
/// step. A rule's `[2m]` then reads one chunk back from disk (page cache)
/// per series, resuming inside it.
const MAX_SAMPLES_PER_DISK_CHUNK: u32 = 120;

/// ...or once it spans this long, so that sparse series still free memory
/// in steps much smaller than the default one-hour retention.
pub(crate) const MAX_CHUNK_SPAN_MS: i64 = 15 * 60 * 1000;

pub(crate) struct Series {
    pub(crate) id: SeriesId,
    pub(crate) labels: Labels,
    /// Position of the labels in the order of all series' labels, as of
    /// the index's last ranking (see `SeriesIndex::set_ranks`).
    rank: AtomicU32,
    /// Set once the series is removed from the store. Read and written
    /// only with `data` locked (which orders it); kept outside it so that
    /// it fills the padding after `rank` instead of adding a word to
    /// `data`: 16 bytes less a series with glibc's allocation sizes.
    removed: AtomicBool,
    data: Mutex<SeriesData>,
}

/// What an accepted append did.
#[derive(Debug, PartialEq)]
pub(crate) enum Appended {
    /// A new sample was stored; the chunks grew by `bytes_delta` bytes.
    Sample { bytes_delta: isize },
    /// The sample repeated the newest one exactly and was ignored.
    Repeat,
}

/// Why a sample was not appended to a series.
#[derive(Debug, PartialEq)]
pub(crate) enum Rejection {
    OutOfOrder {
        last: i64,
    },
    Duplicate {
        last_value: f64,
    },
    /// The series was removed from the store after the caller looked it up.
    Removed,
}

struct SeriesData {
    closed: ClosedChunks,
    head: HeadChunk,
    /// Resume points and chunk summaries left by earlier reads, counted
    /// with the chunks' bytes; `None` until a read leaves some.
    reads: Option<Box<ReadState>>,
}

/// What a summarising read found, oldest first (see
/// [`Series::summarise_between`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    /// Decoded samples: those of the read's buffer from the end of the
    /// previous `Decoded` part (or its start) up to `end`.
    Decoded { end: usize },
    /// A closed chunk inside the range, summarised.
    Summary(SamplesSummary),
}

/// Bytes freed by dropping chunks, with the samples they held.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Freed {
    pub(crate) chunks: u64,
    pub(crate) samples: u64,
    pub(crate) bytes: usize,
}

impl Series {
    pub(crate) fn new(id: SeriesId, labels: Labels, t: i64, v: f64) -> Self {
        Series {
            id,
            labels,
            rank: AtomicU32::new(0),
            removed: AtomicBool::new(false),
            data: Mutex::new(SeriesData {
                closed: ClosedChunks::default(),
                head: HeadChunk::new(t, v),
                reads: None,
            }),
        }
    }

    /// Bytes of this series outside its chunks: the struct, the `Arc` that
    /// holds it and its label set (its counts and its encoded labels).
    pub(crate) fn fixed_bytes(&self) -> usize {
        const ARC_COUNTS: usize = 2 * size_of::<usize>();
        size_of::<Series>() + ARC_COUNTS + ARC_COUNTS + self.labels.encoded().len()
    }

    /// Only meaningful while the index's ranks are current; written under
    /// the index's write lock, read under its read lock.
    pub(crate) fn rank(&self) -> usize {
        self.rank.load(Ordering::Relaxed) as usize
    }

    /// A store holds far fewer than 2^32 series (each takes hundreds of
    /// bytes), so a rank fits in 32 bits.
    pub(crate) fn set_rank(&self, rank: usize) {
        let rank = u32::try_from(rank).unwrap_or(u32::MAX);
        self.rank.store(rank, Ordering::Relaxed);
    }

    /// Heap bytes of the chunks and of what reads left.
    pub(crate) fn chunk_bytes(&self) -> usize {
        self.data.lock().chunk_bytes()
    }

    /// Whether the series was removed; call with `data` locked.
    fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Appends a sample and returns the change in chunk bytes. A repeat of
    /// the last sample (same timestamp, same value bits) is accepted as a
    /// no-op, as Prometheus does. A full head is closed into `files` if
    /// given, else into memory.
    pub(crate) fn append(
        &self,
        t: i64,
        v: f64,
        files: Option<&ChunkFiles>,
    ) -> Result<Appended, Rejection> {
        let mut data = self.data.lock();
        if self.is_removed() {
            return Err(Rejection::Removed);
        }
        let last = data.head.max_t();
        if t < last {
            return Err(Rejection::OutOfOrder { last });
        }
        if t == last {
            let last_value = data.head.last_value();
            return if last_value.to_bits() == v.to_bits() {
                Ok(Appended::Repeat)
            } else {
                Err(Rejection::Duplicate { last_value })
            };
        }
        // A multiple rather than the count itself: a head that stayed open
        // because its chunk could not be written tries again a chunk later.
        let chunk_samples = match files {
            Some(_) => MAX_SAMPLES_PER_DISK_CHUNK,
            None => MAX_SAMPLES_PER_CHUNK,
        };
        let head_full = data.head.count().is_multiple_of(chunk_samples)
            || t.saturating_sub(data.head.min_t()) >= MAX_CHUNK_SPAN_MS;
        // Closing a head can shrink the bytes: its buffer's spare capacity
        // is not copied into the closed chunk.
        if head_full {
            if let Ok(bytes_delta) = data.close_head_and_start(t, v, files) {
                return Ok(Appended::Sample { bytes_delta });
            }
        }
        let head_before = data.head.heap_bytes();
        data.head.append(t, v);
        let bytes_delta = data.head.heap_bytes() as isize - head_before as isize;
        Ok(Appended::Sample { bytes_delta })
    }

    /// Timestamp and value of the newest sample.
    pub(crate) fn last_sample(&self) -> Sample {
        let data = self.data.lock();
        Sample {
            t: data.head.max_t(),
            v: data.head.last_value(),
        }
    }

    pub(crate) fn is_stale(&self) -> bool {
        is_stale_nan(self.data.lock().head.last_value())
    }

    /// Appends the samples in `[mint, maxt]` to `out`, oldest first, and
    /// returns the change in chunk bytes (resume points left for the next
    /// read). They are decoded under the series lock, straight from the
    /// chunks: a query reads a few chunks of a series (about a microsecond
    /// each), which is shorter than copying them out to decode unlocked,
    /// and the writer appends to a series once per scrape.
    pub(crate) fn extend_between(
        &self,
        (mint, maxt): (i64, i64),
        out: &mut Vec<Sample>,
        files: Option<&ChunkFiles>,
    ) -> isize {
        self.data
            .lock()
            .extend_between((mint, maxt), out, None, files)
    }

    /// Like [`Series::extend_between`], but a closed chunk inside the range
    /// is summarised instead of decoded, and with [`SummaryKind::Totals`]
    /// so are the chunk the range starts in, from where it starts, and a
    /// head inside the range (see `store::totals`): `parts` gets, oldest
    /// first, the runs of samples appended to `out` and the summaries
    /// between them.
    pub(crate) fn summarise_between(
        &self,
        (mint, maxt): (i64, i64),
        kind: SummaryKind,
        (out, parts): (&mut Vec<Sample>, &mut Vec<Part>),
        files: Option<&ChunkFiles>,
    ) -> isize {
        self.data
            .lock()
            .extend_between((mint, maxt), out, Some((parts, kind)), files)
    }

    /// The newest sample in `[mint, maxt]`, with the change in chunk bytes.
    /// The head keeps its newest sample uncompressed, so when that is not
    /// after `maxt` (an instant query at the present) nothing is decoded.
    pub(crate) fn newest_between(
        &self,
        (mint, maxt): (i64, i64),
        files: Option<&ChunkFiles>,
    ) -> (Option<Sample>, isize) {
        let mut data = self.data.lock();
        let newest = data.head.max_t();
        if newest <= maxt {
            let sample = (newest >= mint).then(|| Sample {
                t: newest,
                v: data.head.last_value(),
            });
            return (sample, 0);
        }
        let mut samples = Vec::new();
        let bytes_delta = data.extend_between((mint, maxt), &mut samples, None, files);
        (samples.pop(), bytes_delta)
    }

    /// Asks the processor to load what a read from `mint` to the present
    /// touches besides the series' structure: the label set (a read hands
    /// it over, and the engine groups and matches by it), the bytes of the
    /// head and, when the read starts before the head, of the newest
    /// closed chunk, and the read state. Needs the structure itself, so it
    /// is worth calling once that has been asked for (see
    /// `SeriesStore::walk_selected`). Skipped while the writer holds the
    /// series: it is only a hint.
    pub(crate) fn prefetch_contents(&self, mint: i64) {
        prefetch::bytes(self.labels.encoded());
        let Some(data) = self.data.try_lock() else {
            return;
        };
        prefetch::bytes(data.head.bytes());
        if mint < data.head.min_t() {
            if let Some(newest) = data.closed.newest_in_memory() {
                prefetch::bytes(newest.bytes());
            }
        }
        if let Some(reads) = data.reads.as_deref() {
            prefetch::value(reads);
        }
    }

    /// Drops closed chunks whose newest sample is older than `cutoff`.
    pub(crate) fn drop_chunks_before(&self, cutoff: i64) -> Freed {
        let mut data = self.data.lock();
        let mut freed = Freed::default();
        if self.is_removed() {
            // Its bytes were already given back when it was removed.
            return freed;
        }
        while data.closed.front().is_some_and(|c| c.max_t < cutoff) {
            if let Some(chunk) = data.closed.pop_front() {
                freed.chunks += 1;
                freed.samples += u64::from(chunk.count);
                freed.bytes += chunk.heap_bytes();
            }
        }
        // Resume points of dropped chunks can never be used again. The
        // oldest chunk on disk is not known here, only that it ends at or
        // after the cutoff, so it starts less than a chunk's span before.
        let oldest = if data.closed.forget_disk_before(cutoff) {
            cutoff.saturating_sub(MAX_CHUNK_SPAN_MS)
        } else {
            data.closed.front().map_or(data.head.min_t(), |c| c.min_t)
        };
        let reads_before = data.reads_bytes();
        if let Some(reads) = data.reads.as_mut() {
            reads.forget_before(oldest);
            if reads.is_empty() {
                // Give the room back; a later read makes it anew.
                data.reads = None;
            }
        }
        freed.bytes += reads_before - data.reads_bytes();
        freed
    }

    /// `(max_t, heap bytes)` of each closed chunk, for the eviction planner.
    pub(crate) fn closed_chunk_ages(&self) -> Vec<(i64, usize)> {
        let data = self.data.lock();
        data.closed
            .iter()
            .map(|c| (c.max_t, c.heap_bytes()))
            .collect()
    }

    /// Marks the series removed if `condition` holds for its newest sample,
    /// returning what it held. Later appends through a stale lookup then
    /// fail with [`Rejection::Removed`] instead of writing into the void.
    pub(crate) fn remove_if(&self, condition: impl FnOnce(Sample) -> bool) -> Option<Freed> {
        let data = self.data.lock();
        let newest = Sample {
            t: data.head.max_t(),
            v: data.head.last_value(),
        };
        if self.is_removed() || !condition(newest) {
            return None;
        }
        self.removed.store(true, Ordering::Relaxed);
        let samples = data.closed.iter().map(|c| u64::from(c.count)).sum::<u64>()
            + u64::from(data.head.count());
        Some(Freed {
            chunks: data.closed.len() as u64 + 1,
            samples,
            bytes: data.chunk_bytes(),
        })
    }
}

impl SeriesData {
    /// See [`Series::extend_between`], and with `parts`
    /// [`Series::summarise_between`].
    fn extend_between(
        &mut self,
        range: (i64, i64),
        out: &mut Vec<Sample>,
        parts: Option<(&mut Vec<Part>, SummaryKind)>,
        files: Option<&ChunkFiles>,
    ) -> isize {
        let reads_before = self.reads_bytes();
        match parts {
            Some((parts, SummaryKind::Moments)) => self.read_moments(range, out, parts, files),
            parts => self.read(range, out, parts, files),
        }
        self.reads_bytes() as isize - reads_before as isize
    }

    /// A read for [`SummaryKind::Moments`]. Summaries only have moments
    /// of finite values, and a value that is not finite (an infinity, a
    /// NaN) decides a mean or variance by Prometheus's own rules: a window
    /// that decodes one beside its summaries is decoded whole instead.
    fn read_moments(
        &mut self,
        range: (i64, i64),
        out: &mut Vec<Sample>,
        parts: &mut Vec<Part>,
        files: Option<&ChunkFiles>,
    ) {
        let (samples_before, parts_before) = (out.len(), parts.len());
        self.read(range, out, Some((&mut *parts, SummaryKind::Moments)), files);
        let summarised = parts[parts_before..]
            .iter()
            .any(|part| matches!(part, Part::Summary(_)));
        let decoded = out.get(samples_before..).unwrap_or_default();
        if summarised && decoded.iter().any(|p| !p.v.is_finite()) {
            parts.truncate(parts_before);
            out.truncate(samples_before);
            self.read(range, out, None, files);
            if out.len() > samples_before {
                parts.push(Part::Decoded { end: out.len() });
            }
        }
    }

    /// See [`SeriesData::extend_between`].
    fn read(
        &mut self,
        range: (i64, i64),
        out: &mut Vec<Sample>,
        parts: Option<(&mut Vec<Part>, SummaryKind)>,
        files: Option<&ChunkFiles>,
    ) {
        let mut from_disk = Vec::new();
        self.closed.read_from_disk(files, range, &mut from_disk);
        let SeriesData {
            closed,
            head,
            reads,
        } = self;
        // A series' closed chunks are all in memory or all on disk: one
        // of the two is empty. Two calls rather than one over both chained
        // keep the chunks in memory on the iterator they had before there
        // were chunk files (3 % of the PromQL batch's instructions).
        if from_disk.is_empty() {
            let (mint, maxt) = range;
            read_chunks(
                closed.overlapping(mint, maxt),
                head,
                reads,
                range,
                out,
                parts,
            );
        } else {
            read_chunks(from_disk.iter(), head, reads, range, out, parts);
        }
    }

    /// Heap bytes of the chunks, of the list of closed ones and of what
    /// reads left: what the store counted for them, since every change to
    /// them reports its difference.
    fn chunk_bytes(&self) -> usize {
        self.closed
            .iter()
            .map(ClosedChunk::heap_bytes)
            .sum::<usize>()
            + self.closed.list_bytes()
            + self.head.heap_bytes()
            + self.reads_bytes()
    }

    /// Heap bytes of what reads left.
    fn reads_bytes(&self) -> usize {
        self.reads.as_ref().map_or(0, |r| r.heap_bytes())
    }

    /// Moves the full head into the closed chunks and opens a new head with
    /// the sample `(t, v)`; returns the change in chunk bytes.
    fn close_head_and_start(
        &mut self,
        t: i64,
        v: f64,
        files: Option<&ChunkFiles>,
    ) -> Result<isize, NotWritten> {
        let before = self.closed.list_bytes() + self.head.heap_bytes();
        let closed_bytes = self.closed.push(&self.head, files)?;
        // Points left in the head stay good in the closed chunk, which has
        // the same bits; so do the head's totals.
        if let Some(points) = self
            .reads
            .as_deref_mut()
            .and_then(|r| r.points(self.head.min_t()))
        {
            points.set_end(self.head.end());
        }
        self.head = HeadChunk::new(t, v);
        let after = closed_bytes + self.closed.list_bytes() + self.head.heap_bytes();
        Ok(after as isize - before as isize)
    }
}

/// Appends the samples in `(mint, maxt)` of the `closed` chunks
/// overlapping it (oldest first) and of the head; see
/// [`SeriesData::extend_between`].
fn read_chunks<'c>(
    closed: impl Iterator<Item = &'c ClosedChunk> + Clone,
    head: &HeadChunk,
    reads: &mut Option<Box<ReadState>>,
    (mint, maxt): (i64, i64),
    out: &mut Vec<Sample>,
    parts: Option<(&mut Vec<Part>, SummaryKind)>,
) {
    let head_overlaps = head.max_t() >= mint && head.min_t() <= maxt;
    // The chunk the range starts in, if it starts after that chunk's
    // first sample: the next read of the same window resumes near mint.
    let start_chunk = match closed.clone().next() {
        Some(c) => Some(c.min_t),
        None => head_overlaps.then(|| head.min_t()),
    }
    .filter(|&min_t| mint > min_t);
    // Only the chunk the range starts in uses and leaves resume points.
    let resumed_chunk = start_chunk.filter(|&min_t| {
        let reads = reads.get_or_insert_with(Box::default);
        reads.keep_points_for(min_t)
    });
    let head = head_overlaps.then_some(head);
    let (parts, kind) = match parts {
        Some((parts, kind)) => (Some(parts), Some(kind)),
        None => (None, None),
    };
    // Sized for the samples the range is expected to hold, from each
    // chunk's count and the part of its time span the range covers:
    // growing the vector while decoding costs more than the decoding,
    // and sizing it for whole chunks made a rule over thousands of
    // series hold twice the memory it needs (which glibc then keeps).
    // A summarising read decodes little, into a buffer the walk reuses
    // for every series: it is left to grow.
    let summarising = parts.is_some();
    let summarised = |c: &ClosedChunk| summarising && c.min_t >= mint && c.max_t <= maxt;
    if !summarising {
        let capacity = closed
            .clone()
            .map(|c| expected_in((mint, maxt), c.min_t, c.max_t, c.count as usize))
            .sum::<usize>()
            + head.map_or(0, |h| {
                expected_in((mint, maxt), h.min_t(), h.max_t(), h.count() as usize)
            });
        out.reserve(capacity);
    }
    let mut passed_maxt = false;
    let mut summaries = Summaries {
        parts,
        run_start: out.len(),
    };
    for chunk in closed {
        if summarised(chunk) {
            let summary = reads.get_or_insert_with(Box::default).summary(chunk, out);
            // Only moments may be missing from a kept summary: those of a
            // chunk with a value that is not finite.
            if kind.is_none_or(|kind| holds(kind, summary.as_ref())) {
                summaries.push(summary, out);
                continue;
            }
        }
        let starts_here = resumed_chunk == Some(chunk.min_t);
        // Fits and totals can do without resume points: a window starting
        // in a chunk whose points a newer chunk holds (a series read with
        // `[1h]` and `[15m]`) is worked out too.
        let window_starts_here = start_chunk == Some(chunk.min_t);
        if let (Some(kind), true, Some(reads)) = (kind, window_starts_here, reads.as_deref_mut()) {
            if let Some(summary) = start_chunk_summary(chunk, reads, kind, (mint, maxt), out) {
                summaries.push(summary, out);
                continue;
            }
        }
        let points = reads
            .as_deref_mut()
            .filter(|_| starts_here)
            .and_then(|r| r.points(chunk.min_t));
        passed_maxt = chunk.extend_between((mint, maxt), out, points);
        if passed_maxt {
            break;
        }
    }
    if let (false, Some(head)) = (passed_maxt, head) {
        let mut points = reads
            .as_deref_mut()
            .filter(|_| resumed_chunk == Some(head.min_t()))
            .and_then(|r| r.points(head.min_t()));
        // After decoded samples, the head's are decoded too: one run of
        // samples is worked on faster than a run and a summary.
        let nothing_decoded = out.len() == summaries.run_start;
        let summary = kind
            .filter(|_| nothing_decoded && head.max_t() <= maxt)
            .and_then(|kind| head_summary(head, points.as_deref_mut(), kind, mint));
        match summary {
            Some(summary) => summaries.push(summary, out),
            None => {
                head.extend_between((mint, maxt), out, points);
            }
        }
    }
    summaries.finish(out);
}

/// A window's part of the closed chunk it starts in, from `mint` to the
/// chunk's end, worked out rather than decoded (`Some(None)`: it holds no
/// sample): from running totals (see `store::totals`), for extremes with
/// the chunk's extremes by blocks (see `store::suffix`), and for fits (and
/// totals where another chunk holds the resume points) from the chunk's
/// kept summary less the samples before the window.
/// `None` where it is to be decoded: the window ends inside the chunk or
/// holds a handful of its samples, the chunk's resume points are not kept
/// (another chunk's are) and `kind` needs them, or no way gives what
/// `kind` asks for.
fn start_chunk_summary(
    chunk: &ClosedChunk,
    reads: &mut ReadState,
    kind: SummaryKind,
    (mint, maxt): (i64, i64),
    scratch: &mut Vec<Sample>,
) -> Option<Option<SamplesSummary>> {
    let in_window = expected_in((mint, maxt), chunk.min_t, chunk.max_t, chunk.count as usize);
    if chunk.max_t > maxt || in_window <= FEW_SAMPLES {
        return None;
    }
    let points = reads
        .points(chunk.min_t)
        .filter(|_| kind != SummaryKind::Fit);
    if let Some(points) = points {
        let end = chunk.end(points);
        if end.gives(kind) {
            let summary = chunk.summary_from(mint, points, (&end, kind));
            if holds(kind, summary.as_ref()) {
                return Some(summary);
            }
        }
    }
    match kind {
        SummaryKind::Extremes => return reads.summary_with_extremes(chunk, mint, scratch),
        // A kept summary less the samples before the window has no moments.
        SummaryKind::Moments => return None,
        // Totals without the chunk's resume points (a newer chunk holds
        // them: `resets(…[1h])` on a series also read with `[5m]`).
        SummaryKind::Totals | SummaryKind::Fit => {}
    }
    reads
        .summary_less_before(chunk, mint, scratch)
        .filter(|summary| holds(kind, Some(summary)))
        .map(Some)
}

/// The head's part of a window that reaches past its newest sample (from
/// `mint`, with the head's resume points if the window starts in it),
/// worked out from its running totals (`Some(None)`: it holds no sample).
/// `None` where it is to be decoded: it holds a handful of samples, or its
/// totals do not give what `kind` asks for.
fn head_summary(
    head: &HeadChunk,
    points: Option<&mut ResumePoints>,
    kind: SummaryKind,
    mint: i64,
) -> Option<Option<SamplesSummary>> {
    let end = head.end();
    if kind == SummaryKind::Fit || head.count() as usize <= FEW_SAMPLES || !end.gives(kind) {
        return None;
    }
    let summary = match points {
        Some(points) => head.summary_from(mint, points, kind),
        None if head.min_t() >= mint => head.first().map(|first| end.summary_from(first, kind)),
        None => return None,
    };
    holds(kind, summary.as_ref()).then_some(summary)
}

/// Samples a window's part of a chunk is decoded up to, rather than worked
/// out from running totals: a handful decode in less time than a summary
/// takes to make and merge.
const FEW_SAMPLES: usize = 8;

/// Whether a summary from running totals (`None`: the chunk has no sample
/// in the range) holds what `kind` asks for.
fn holds(kind: SummaryKind, summary: Option<&SamplesSummary>) -> bool {
    summary.is_none_or(|s| match kind {
        SummaryKind::Totals => true,
        SummaryKind::Extremes => s.extremes.is_some(),
        SummaryKind::Fit => s.fit().is_some(),
        SummaryKind::Moments => s.moments().is_some(),
    })
}

/// The parts of a summarising read as they are found: the runs of samples
/// decoded between summaries, and the summaries.
struct Summaries<'p> {
    parts: Option<&'p mut Vec<Part>>,
    /// Where the samples decoded since the last summary start.
    run_start: usize,
}

impl Summaries<'_> {
    /// Adds a summary after the samples decoded so far into `out`.
    fn push(&mut self, summary: Option<SamplesSummary>, out: &[Sample]) {
        let Some(parts) = self.parts.as_deref_mut() else {
            return;
        };
        if out.len() > self.run_start {
            parts.push(Part::Decoded { end: out.len() });
            self.run_start = out.len();
        }
        parts.extend(summary.map(Part::Summary));
    }

    /// Adds the samples decoded into `out` since the last summary.
    fn finish(self, out: &[Sample]) {
        if let Some(parts) = self.parts {
            if out.len() > self.run_start {
                parts.push(Part::Decoded { end: out.len() });
            }
        }
    }
}

/// How many of a chunk's `count` samples, spread over `[min_t, max_t]`,
/// fall in `range`, assuming an even spread; one more, so that a short
/// overlap is not sized at zero.
///
/// In `i64`, whose division is one instruction where `i128`'s is a call:
/// a chunk spans minutes. Spans too long for that (timestamps far apart)
/// are sized at the whole count.
pub(crate) fn expected_in(range: (i64, i64), min_t: i64, max_t: i64, count: usize) -> usize {
    let overlap = range.1.min(max_t).checked_sub(range.0.max(min_t));
    let (Some(span), Some(overlap)) = (max_t.checked_sub(min_t), overlap) else {
        return count;
    };
    if overlap < 0 {
        return 0;
    }
    if span <= 0 {
        return count;
    }
    let share = i64::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(overlap))
        .map_or(count, |scaled| (scaled / span) as usize);
    (share + 1).min(count)
}

#[cfg(test)]
mod tests {
    use super::{expected_in, Part, Series};
    use crate::summary::Sums;
    use crate::{is_stale_nan, Labels, Sample, SamplesSummary, SummaryKind, STALE_NAN};
    use proptest::prelude::*;

    /// Mostly a counter (rising, now and then reset or repeated), with the
    /// odd NaN or stale marker.
    fn next_value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            8 => (0u32..40).prop_map(|step| Some(f64::from(step))),
            2 => Just(None),
            1 => (0u32..5).prop_map(|v| Some(-f64::from(v) - 1e9)),
            1 => prop_oneof![Just(f64::NAN), Just(STALE_NAN)].prop_map(Some),
        ]
    }

    /// Merges what a summarising read found into one summary.
    fn merged(samples: &[Sample], parts: &[Part], sums: Sums) -> Option<SamplesSummary> {
        let mut start = 0;
        parts
            .iter()
            .filter_map(|part| match *part {
                Part::Decoded { end } => {
                    let run = &samples[start..end];
                    start = end;
                    SamplesSummary::of(run, sums)
                }
                Part::Summary(summary) => Some(summary),
            })
            .reduce(|mut a, b| {
                a.merge(&b);
                a
            })
    }

    proptest! {
        /// Windows read for their totals, extremes, fits or moments (from
        /// resume points and running totals, decoding little) are
        /// summarised as decoding them whole summarises them, as the head
        /// grows, is closed and windows move.
        #[test]
        fn windows_read_for_totals_match_their_decoded_samples(
            steps in proptest::collection::vec((1i64..=30_000, next_value(), 0usize..4), 1..700),
        ) {
            let labels = Labels::from_pairs([("__name__", "x")]);
            let series = Series::new(1, labels, 0, 1.0);
            let (mut t, mut v) = (0i64, 1.0f64);
            for (step, value, reads) in steps {
                t += step;
                v = match value {
                    Some(x) if x.is_nan() || x < 0.0 => if x < 0.0 { (-x - 1e9).max(0.0) } else { x },
                    Some(step) => if v.is_nan() { step } else { v + step },
                    None => v,
                };
                prop_assert!(series.append(t, v, None).is_ok());
                for read in 0..reads {
                    let window = [15_000, 120_000, 300_000, 900_000, 3_600_000][(read + t as usize) % 5];
                    let maxt = if read == 3 { t - 1 } else { t + read as i64 };
                    let range = (maxt - window, maxt);
                    let kind = [SummaryKind::Totals, SummaryKind::Extremes, SummaryKind::Fit, SummaryKind::Moments][(read + t as usize / 7) % 4];
                    let (mut samples, mut parts) = (Vec::new(), Vec::new());
                    series.summarise_between(range, kind, (&mut samples, &mut parts), None);
                    let from_totals = merged(&samples, &parts, Sums::of_kind(kind));
                    let mut all = Vec::new();
                    series.extend_between(range, &mut all, None);
                    let decoded = SamplesSummary::of(&all, Sums::All);
                    prop_assert_eq!(from_totals.is_some(), decoded.is_some());
                    let (Some(a), Some(b)) = (from_totals, decoded) else { continue };
                    prop_assert_eq!((a.count, a.resets, a.changes), (b.count, b.resets, b.changes), "{:?}", range);
                    prop_assert_eq!(a.first.t, b.first.t);
                    prop_assert_eq!(a.last.t, b.last.t);
                    prop_assert_eq!(a.first.v.to_bits(), b.first.v.to_bits());
                    prop_assert_eq!(a.last.v.to_bits(), b.last.v.to_bits());
                    if kind == SummaryKind::Extremes {
                        let bits = |s: &SamplesSummary| s.extremes.map(|e| (e.min.to_bits(), e.max.to_bits(), e.has_nan));
                        prop_assert!(a.extremes.is_some());
                        prop_assert_eq!(bits(&a), bits(&b));
                    }
                    let kept: Vec<Sample> = all.iter().copied().filter(|p| !is_stale_nan(p.v)).collect();
                    let magnitude: f64 = kept.iter().map(|p| p.v.abs()).sum();
                    if kind == SummaryKind::Moments {
                        // Moments of finite values only, from totals within
                        // 1e-11 of each part's (see `store::totals`).
                        prop_assert_eq!(a.moments().is_some(), b.moments().is_some());
                        if let (Some(m), Some(n)) = (a.moments(), b.moments()) {
                            let squares: f64 = kept.iter().map(|p| p.v * p.v).sum();
                            let agree = |x: f64, y: f64, slack: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + slack;
                            prop_assert!(agree(m.sum, n.sum, 0.0), "{:?} vs {:?}", m, n);
                            prop_assert!(agree(m.squared_deviations, n.squared_deviations, 1e-15 * squares), "{:?} vs {:?}", m, n);
                        }
                    }
                    if kind == SummaryKind::Fit {
                        let (Some(f), Some(g)) = (a.fit(), b.fit()) else {
                            return Err(TestCaseError::fail("fit sums asked for"));
                        };
                        let x = |p: &Sample| (p.t - b.first.t) as f64 / 1000.0;
                        let scale = |term: &dyn Fn(&Sample) -> f64| kept.iter().map(|p| term(p).abs()).sum::<f64>().max(1.0);
                        for (ours, theirs, size) in [
                            (f.x, g.x, scale(&|p| x(p))),
                            (f.x2, g.x2, scale(&|p| x(p) * x(p))),
                            (f.y, g.y, scale(&|p| p.v)),
                            (f.xy, g.xy, scale(&|p| x(p) * p.v)),
                        ] {
                            let both_nan = ours.is_nan() && theirs.is_nan();
                            prop_assert!(both_nan || (ours - theirs).abs() <= 1e-12 * size, "{} vs {}", ours, theirs);
                        }
                        prop_assert_eq!(a.is_constant(), b.is_constant());
                    }
                    prop_assert!(
                        (a.reset_correction - b.reset_correction).abs() <= 1e-9 * magnitude.max(1.0)
                            || (a.reset_correction.is_nan() && b.reset_correction.is_nan()),
                        "{} vs {}", a.reset_correction, b.reset_correction
                    );
                }
            }
        }
    }

    #[test]
    fn a_series_with_its_arc_counts_fits_glibcs_256_byte_chunk() {
        // 248 requested bytes are the most a 256-byte chunk serves.
        assert!(size_of::<Series>() <= 232, "{}", size_of::<Series>());
    }

    #[test]
    fn reads_are_sized_for_the_part_of_a_chunk_the_range_covers() {
        // 240 samples a second apart; a 2-minute window at the end holds
        // 120, and one is spare.
        assert_eq!(expected_in((119_001, 239_000), 0, 239_000, 240), 121);
        assert_eq!(expected_in((0, 500_000), 0, 239_000, 240), 240);
        assert_eq!(expected_in((240_000, 300_000), 0, 239_000, 240), 0);
        assert_eq!(expected_in((5_000, 5_000), 5_000, 5_000, 1), 1);
        // Timestamps too far apart for the arithmetic: the whole chunk.
        assert_eq!(expected_in((i64::MIN, i64::MAX), i64::MIN, i64::MAX, 7), 7);
        assert_eq!(expected_in((i64::MIN, 0), i64::MIN, i64::MAX, 7), 7);
    }
}
