//! Gorilla-style compressed chunks, in the layout of Prometheus's XOR chunk:
//! timestamps as delta-of-delta in variable-width buckets, values as the XOR
//! with the previous value, storing only its meaningful bits.
//!
//! A chunk's first timestamp lives in its metadata (`min_t`), so the bit
//! stream starts with the first value's raw 64 bits. Values are compared as
//! bit patterns, which keeps NaN payloads such as the stale marker exact.

use super::bits::{BitReader, BitWriter};
use super::series::{MAX_CHUNK_SPAN_MS, MAX_SAMPLES_PER_CHUNK};
use super::suffix::SuffixExtremes;
use super::totals::{ChunkEnd, Passed, RunTotals};
use crate::{Sample, SamplesSummary, SummaryKind};

/// Bucket widths for timestamp delta-of-deltas, as in Prometheus. A zero,
/// the common case for a steady scrape interval, is a single bit.
const TIME_DOD_WIDTHS: [u32; 3] = [14, 17, 20];

/// Bucket widths for the delta-of-delta of integer values. Counters and
/// integer gauges dominate real scrapes; a counter at a steady rate has a
/// small delta-of-delta even when its XOR has many meaningful bits.
const INT_DOD_WIDTHS: [u32; 3] = [6, 13, 24];

/// At least the bytes one appended sample takes, 146 bits at most: a
/// 64-bit delta-of-delta after its 4-bit prefix, then an XOR with a new
/// window (2 + 1 + 5 + 6 + 64 bits). Only sizes growth: the buffer grows
/// on its own if ever short.
const MAX_SAMPLE_BYTES: usize = 20;

/// Leading-zero counts are stored in 5 bits.
const MAX_LEADING_ZEROS: u32 = 31;

/// The open chunk of a series, appended to in place.
#[derive(Debug)]
pub(crate) struct HeadChunk {
    bits: BitWriter,
    count: u32,
    min_t: i64,
    max_t: i64,
    last_delta: i64,
    last_value_bits: u64,
    /// Values are treated as integers after scaling by this decimal scale,
    /// chosen from the chunk's first value (see [`DecimalScale`]).
    scale: DecimalScale,
    /// Difference between the last two values when both were integers,
    /// else 0.
    int_delta: i64,
    /// The XOR window of the last value written with a full header; `None`
    /// until one has been written.
    window: Option<XorWindow>,
    /// Of all samples appended, kept as they are appended: a window's
    /// counts and resets are then worked out without decoding the head.
    totals: RunTotals,
}

/// In bytes: every head holds one.
#[derive(Debug, Clone, Copy)]
struct XorWindow {
    leading: u8,
    trailing: u8,
}

/// A non-zero XOR, with the window it is written in: the previous one
/// when the meaningful bits fit inside it, else a new one given in a header.
struct XorEncoding {
    xor: u64,
    window: XorWindow,
    new_window: bool,
}

impl XorEncoding {
    fn new(xor: u64, previous: Option<XorWindow>) -> Self {
        // Both at most 64.
        let leading = xor.leading_zeros().min(MAX_LEADING_ZEROS) as u8;
        let trailing = xor.trailing_zeros() as u8;
        match previous {
            Some(window) if leading >= window.leading && trailing >= window.trailing => {
                XorEncoding {
                    xor,
                    window,
                    new_window: false,
                }
            }
            _ => XorEncoding {
                xor,
                window: XorWindow { leading, trailing },
                new_window: true,
            },
        }
    }

    fn significant(&self) -> u32 {
        64 - u32::from(self.window.leading) - u32::from(self.window.trailing)
    }

    /// Bits written, after the `11` prefix.
    fn len(&self) -> u32 {
        let header = if self.new_window { 1 + 5 + 6 } else { 1 };
        header + self.significant()
    }

    fn write(&self, bits: &mut BitWriter) {
        let significant = self.significant();
        bits.write_bit(self.new_window);
        if self.new_window {
            bits.write_bits(u64::from(self.window.leading), 5);
            // 64 significant bits do not fit in 6 bits; 0 stands for 64
            // because a non-zero XOR has at least one.
            bits.write_bits(u64::from(significant % 64), 6);
        }
        bits.write_bits(self.xor >> self.window.trailing, significant);
    }
}

impl HeadChunk {
    pub(crate) fn new(t: i64, v: f64) -> Self {
        let mut bits = BitWriter::default();
        bits.write_bits(v.to_bits(), 64);
        let scale = DecimalScale::of(v.to_bits());
        bits.write_bits(u64::from(scale.0), SCALE_BITS);
        HeadChunk {
            bits,
            count: 1,
            min_t: t,
            max_t: t,
            last_delta: 0,
            last_value_bits: v.to_bits(),
            scale,
            int_delta: 0,
            window: None,
            totals: RunTotals::starting_with(v),
        }
    }

    /// Appends a sample; the caller guarantees `t > self.max_t()`.
    pub(crate) fn append(&mut self, t: i64, v: f64) {
        self.make_room_for_a_sample();
        // Wrapping arithmetic is exactly undone by the decoder, so even
        // extreme timestamps cannot overflow into corruption.
        let delta = t.wrapping_sub(self.max_t);
        write_varbits(
            &mut self.bits,
            &TIME_DOD_WIDTHS,
            delta.wrapping_sub(self.last_delta),
        );
        self.totals
            .add(self.last_value(), v, first_value(self.bits.bytes()));
        self.write_value(v.to_bits());
        self.last_delta = delta;
        self.max_t = t;
        self.count += 1;
    }

    /// Grows the buffer by a quarter (at least two samples' worth)
    /// instead of doubling it: a moving counter's chunk ends near 300
    /// bytes, which doubling holds in 512, and the thousands of heads of
    /// a target grow in step, so at times nearly all of them would be
    /// half empty. A few more steps than doubling, each copying a few
    /// hundred bytes at most.
    fn make_room_for_a_sample(&mut self) {
        let len = self.bits.bytes().len();
        if self.bits.capacity() - len >= MAX_SAMPLE_BYTES {
            return;
        }
        self.bits.grow_to(len + (len / 4).max(2 * MAX_SAMPLE_BYTES));
    }

    /// Writes a value as `0` (same bits as the last), `10` + the
    /// delta-of-delta of integer values, or `11` + the XOR with the last
    /// value, whichever of the last two is shorter.
    fn write_value(&mut self, value_bits: u64) {
        let previous = self.last_value_bits;
        self.last_value_bits = value_bits;
        // The last value's integer is worked out again rather than kept:
        // 16 bytes less in every series, for a conversion per append.
        let int_delta = integer_delta(self.scale.to_int(previous), self.scale.to_int(value_bits));
        let int_dod = int_delta.map(|delta| delta.wrapping_sub(self.int_delta));
        // Both ends track the last integer delta whatever encoding is used.
        self.int_delta = int_delta.unwrap_or(0);
        if value_bits == previous {
            self.bits.write_bit(false);
            return;
        }
        let xor = XorEncoding::new(value_bits ^ previous, self.window);
        match int_dod {
            Some(dod) if 2 + varbits_len(&INT_DOD_WIDTHS, dod) <= 2 + xor.len() => {
                self.bits.write_bits(0b10, 2);
                write_varbits(&mut self.bits, &INT_DOD_WIDTHS, dod);
            }
            _ => {
                self.bits.write_bits(0b11, 2);
                xor.write(&mut self.bits);
                self.window = Some(xor.window);
            }
        }
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    pub(crate) fn min_t(&self) -> i64 {
        self.min_t
    }

    pub(crate) fn max_t(&self) -> i64 {
        self.max_t
    }

    pub(crate) fn last_value(&self) -> f64 {
        f64::from_bits(self.last_value_bits)
    }

    /// The totals, count and last sample of what was appended so far.
    pub(crate) fn end(&self) -> ChunkEnd {
        ChunkEnd {
            totals: self.totals,
            count: self.count,
            last: Sample {
                t: self.max_t,
                v: self.last_value(),
            },
        }
    }

    /// The first sample: a whole head's summary starts there. A new
    /// head's one sample is held unencoded too (see
    /// [`HeadChunk::extend_between`]).
    pub(crate) fn first(&self) -> Option<Sample> {
        if self.count == 1 {
            return Some(Sample {
                t: self.min_t,
                v: self.last_value(),
            });
        }
        ChunkSamples::new(self.bits.bytes(), self.count, self.min_t).first_sample()
    }

    /// See [`ChunkSamples::summary_from`], for a [usable](ChunkEnd::usable)
    /// [`HeadChunk::end`].
    pub(crate) fn summary_from(
        &self,
        mint: i64,
        resume: &mut ResumePoints,
        kind: SummaryKind,
    ) -> Option<SamplesSummary> {
        let chunk = (self.count, self.min_t);
        let end = (&self.end(), kind);
        ChunkSamples::summary_from(self.bits.bytes(), chunk, mint, resume, end)
    }

    /// Heap bytes held by the open chunk, counting spare capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.capacity()
    }

    /// The encoded samples.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bits.bytes()
    }

    /// Decodes the samples in `[mint, maxt]` appended so far, in place;
    /// see [`ChunkSamples::extend_between`].
    pub(crate) fn extend_between(
        &self,
        range: (i64, i64),
        out: &mut Vec<Sample>,
        resume: Option<&mut ResumePoints>,
    ) -> bool {
        if self.count == 1 {
            // A new head's one sample is also held unencoded: reading it
            // does not touch the bit buffer (one cache miss fewer per
            // series for a read just after a chunk was cut).
            let only = Sample {
                t: self.min_t,
                v: self.last_value(),
            };
            if only.t > range.1 {
                return true;
            }
            if only.t >= range.0 {
                out.push(only);
            }
            return false;
        }
        let bytes = self.bits.bytes();
        let chunk = (self.count, self.min_t, self.max_t);
        ChunkSamples::extend_between(bytes, chunk, range, out, resume)
    }

    /// An immutable copy, for closing the chunk.
    pub(crate) fn freeze(&self) -> ClosedChunk {
        ClosedChunk {
            min_t: self.min_t,
            max_t: self.max_t,
            count: self.count,
            data: Box::from(self.bits.bytes()),
        }
    }
}

/// A full chunk, never changed again. A plain box
/// rather than an `Arc` saves 16 bytes per chunk, a tenth of a byte per
/// sample.
#[derive(Debug, Clone)]
pub(crate) struct ClosedChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) count: u32,
    data: Box<[u8]>,
}

impl ClosedChunk {
    /// A chunk read back from where it was kept.
    pub(crate) fn new(min_t: i64, max_t: i64, count: u32, data: Box<[u8]>) -> Self {
        ClosedChunk {
            min_t,
            max_t,
            count,
            data,
        }
    }

    /// Heap bytes of the compressed data.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.len()
    }

    /// The encoded samples.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// See [`ChunkSamples::extend_between`].
    pub(crate) fn extend_between(
        &self,
        range: (i64, i64),
        out: &mut Vec<Sample>,
        resume: Option<&mut ResumePoints>,
    ) -> bool {
        let chunk = (self.count, self.min_t, self.max_t);
        ChunkSamples::extend_between(&self.data, chunk, range, out, resume)
    }

    /// The chunk's totals, count and last sample, kept with its resume
    /// points: worked out once, by decoding the chunk whole, unless the
    /// head left them there when it was closed.
    pub(crate) fn end(&self, resume: &mut ResumePoints) -> ChunkEnd {
        *resume
            .end
            .get_or_insert_with(|| ChunkSamples::new(&self.data, self.count, self.min_t).end())
    }

    /// Appends the samples before `mint` to `out`, and returns the first
    /// one from `mint` on.
    pub(crate) fn split_at(&self, mint: i64, out: &mut Vec<Sample>) -> Option<Sample> {
        let mut samples = ChunkSamples::new(&self.data, self.count, self.min_t);
        let mut next = samples.first_sample();
        while let Some(sample) = next.filter(|s| s.t < mint) {
            out.push(sample);
            next = samples.next_sample();
        }
        next
    }

    /// See [`ChunkSamples::summary_with_extremes`]; `end` is
    /// [`ClosedChunk::end`], and must be [usable](ChunkEnd::usable).
    pub(crate) fn summary_with_extremes(
        &self,
        mint: i64,
        resume: &mut ResumePoints,
        end: (&ChunkEnd, &SuffixExtremes),
    ) -> Option<SamplesSummary> {
        let chunk = (self.count, self.min_t);
        ChunkSamples::summary_with_extremes(&self.data, chunk, mint, resume, end)
    }

    /// See [`ChunkSamples::summary_from`]; `end` is [`ClosedChunk::end`].
    pub(crate) fn summary_from(
        &self,
        mint: i64,
        resume: &mut ResumePoints,
        end: (&ChunkEnd, SummaryKind),
    ) -> Option<SamplesSummary> {
        let chunk = (self.count, self.min_t);
        ChunkSamples::summary_from(&self.data, chunk, mint, resume, end)
    }
}

impl<'a> ChunkSamples<'a> {
    fn new(data: &'a [u8], count: u32, min_t: i64) -> Self {
        ChunkSamples {
            reader: BitReader::new(data),
            remaining: count,
            t: min_t,
            delta: 0,
            value_bits: 0,
            scale: DecimalScale(0),
            factor: 1.0,
            ints: IntTrack::NotInt,
            window: ReadWindow::NONE,
            reference: 0.0,
        }
    }
}

/// A read that passed over the samples before its window: the decoder,
/// the window's first sample in the chunk, and the last sample before it.
struct AtWindow<'a> {
    samples: ChunkSamples<'a>,
    first_kept: Option<Sample>,
    before: Option<Passed>,
}

/// Decodes a chunk's samples in order.
struct ChunkSamples<'a> {
    reader: BitReader<'a>,
    remaining: u32,
    t: i64,
    delta: i64,
    value_bits: u64,
    scale: DecimalScale,
    /// The scale's factor, which every integer-encoded value is divided by.
    factor: f64,
    ints: IntTrack,
    window: ReadWindow,
    /// The chunk's first value, which running totals are kept against
    /// (see `store::totals`).
    reference: f64,
}

/// The XOR window as the decoder keeps it: the significant bits' count
/// and where they sit, rather than the leading zeros the header gives,
/// so that a value in the previous window is read without working them
/// out again.
#[derive(Debug, Clone, Copy)]
struct ReadWindow {
    trailing: u32,
    significant: u32,
}

impl ReadWindow {
    /// Before any header: a window no valid chunk uses.
    const NONE: ReadWindow = ReadWindow {
        trailing: 0,
        significant: 64,
    };
}

/// The integer view of the last value (its scaled integer, if it is one)
/// and the last integer delta, which the `10` encoding continues.
///
/// Both are functions of the last two values' bits, so after an XOR they
/// are left uncomputed: converting every float to test whether it is an
/// integer is most of the cost of decoding a float series, and only an
/// integer-encoded sample that follows needs the result.
///
/// Flat, with no `Option` inside, so that keeping it up to date is a
/// store or two per sample rather than a rewrite of nested tags, and an
/// integer-encoded sample tests one tag.
#[derive(Debug, Clone, Copy)]
enum IntTrack {
    Known {
        last: i64,
        delta: i64,
    },
    /// The last value is not an integer (no integer-encoded sample can
    /// follow it).
    NotInt,
    /// Not computed since an XOR; `before` is the value preceding the
    /// current one (the current one itself after a repeat, which gives
    /// the same delta of zero).
    Pending {
        before: u64,
    },
}

impl IntTrack {
    fn known(last: Option<i64>, delta: i64) -> Self {
        match last {
            Some(last) => IntTrack::Known { last, delta },
            None => IntTrack::NotInt,
        }
    }
}

/// How far apart resume points are left as a read passes: a quarter of the
/// most samples, or of the longest span, a chunk holds, so that a read
/// resumes within a quarter chunk of where it starts. A read also leaves a
/// point just before its window (see [`ResumePoints::record_window_start`]),
/// which the next evaluation of the same rule resumes at.
const RESUME_EVERY_SAMPLES: u32 = MAX_SAMPLES_PER_CHUNK / 4;
const RESUME_EVERY_MS: i64 = MAX_CHUNK_SPAN_MS / 4;
/// Three points a chunk: a fourth made no difference to the 50-alert
/// batch, and two cost it 3.6 % more instructions.
const MAX_RESUME_POINTS: usize = 3;

/// The decoder's state after one of a chunk's samples: decoding can resume
/// there instead of at the chunk's start. That sample's time and number
/// are kept apart, in [`ResumePoints`]. Narrower than the decoder's own
/// fields (48 bytes rather than 64): a rule's window leaves points in
/// thousands of series, and they are read once per evaluation, not per
/// sample.
#[derive(Debug, Clone, Copy)]
struct ResumePoint {
    /// Of the chunk's samples up to this one.
    totals: RunTotals,
    delta: i64,
    value_bits: u64,
    /// The [`IntTrack`]'s one word: a `Known` track's delta (its last
    /// integer is the value's, worked out again on resuming, as the
    /// encoder worked it out), a `Pending` one's value before.
    ints_word: u64,
    /// Bits consumed: a chunk holds at most a few hundred samples, of at
    /// most a few hundred bits each.
    pos: u32,
    ints_kind: IntKind,
    scale: u8,
    window_trailing: u8,
    window_significant: u8,
}

#[derive(Debug, Clone, Copy)]
enum IntKind {
    Known,
    NotInt,
    Pending,
}

impl ResumePoint {
    /// Fills unused slots of [`ResumePoints`].
    const UNUSED: ResumePoint = ResumePoint {
        totals: RunTotals::NONE,
        delta: 0,
        value_bits: 0,
        ints_word: 0,
        pos: 0,
        ints_kind: IntKind::NotInt,
        scale: 0,
        window_trailing: ReadWindow::NONE.trailing as u8,
        window_significant: ReadWindow::NONE.significant as u8,
    };
}

/// Resume points in one chunk, named by its first timestamp, left by the
/// reads that decoded it. A chunk's bits never change once written (a
/// head only grows, and closing it copies the bits), so the points stay
/// valid for as long as the chunk exists. The points are held inline, not
/// in a vector of their own: one memory access fewer per read. The time
/// and sample number of each point sit together in front of the decoder
/// states, so that finding where to resume reads one cache line, and only
/// the state resumed from is touched besides.
#[derive(Debug)]
pub(crate) struct ResumePoints {
    chunk_min_t: i64,
    /// Points in use; a byte, so that the points fill 144 bytes, not 152.
    filled: u8,
    /// Time of the sample each point is after.
    times: [i64; MAX_RESUME_POINTS],
    /// Samples decoded at each point. A chunk holds at most a few hundred
    /// samples; 16 bits leave room in [`ReadState`] for a chunk's
    /// extremes by blocks.
    ///
    /// [`ReadState`]: super::read_state::ReadState
    decoded: [u16; MAX_RESUME_POINTS],
    points: [ResumePoint; MAX_RESUME_POINTS],
    /// The totals of the whole chunk, once the chunk is closed and a read
    /// asked for them (see [`ClosedChunk::end`]).
    end: Option<ChunkEnd>,
}

impl ResumePoints {
    pub(crate) fn new(chunk_min_t: i64) -> Self {
        ResumePoints {
            chunk_min_t,
            filled: 0,
            times: [0; MAX_RESUME_POINTS],
            decoded: [0; MAX_RESUME_POINTS],
            points: [ResumePoint::UNUSED; MAX_RESUME_POINTS],
            end: None,
        }
    }

    /// Keeps the totals of the chunk, as the head had them when it was
    /// closed: no read needs to decode the closed chunk for them.
    pub(crate) fn set_end(&mut self, end: ChunkEnd) {
        self.end = Some(end);
    }

    pub(crate) fn chunk_min_t(&self) -> i64 {
        self.chunk_min_t
    }

    fn len(&self) -> usize {
        usize::from(self.filled)
    }

    /// Records the state after the `decoded`-th sample, at `t`.
    fn record(&mut self, decoded: u32, t: i64, point: ResumePoint) {
        let Ok(decoded) = u16::try_from(decoded) else {
            return;
        };
        let i = self.len();
        if let (Some(time), Some(count), Some(slot)) = (
            self.times.get_mut(i),
            self.decoded.get_mut(i),
            self.points.get_mut(i),
        ) {
            (*time, *count, *slot) = (t, decoded, point);
            self.filled += 1;
        }
    }

    /// Records the state after the `decoded`-th sample, at `t`, the last
    /// sample before a read's window: the next read of that window, or of
    /// one that moved on by a step, resumes there instead of up to a
    /// quarter chunk earlier. With no room left it takes the place of the
    /// nearest point before it, the one this read resumed from, which the
    /// window has moved past; the points stay in time order.
    fn record_window_start(&mut self, decoded: u32, t: i64, point: ResumePoint) {
        let times = &self.times[..self.len()];
        let Ok(decoded) = u16::try_from(decoded) else {
            return;
        };
        if times.contains(&t) {
            return;
        }
        let at = times.partition_point(|&p| p < t);
        if self.len() < MAX_RESUME_POINTS {
            for i in (at..self.len()).rev() {
                self.times[i + 1] = self.times[i];
                self.decoded[i + 1] = self.decoded[i];
                self.points[i + 1] = self.points[i];
            }
            self.filled += 1;
            (self.times[at], self.decoded[at], self.points[at]) = (t, decoded, point);
        } else if let Some(before) = at.checked_sub(1) {
            (
                self.times[before],
                self.decoded[before],
                self.points[before],
            ) = (t, decoded, point);
        }
    }

    /// The last point before `mint`: the samples decoded there, the last
    /// one's time, and the decoder's state.
    fn last_before(&self, mint: i64) -> Option<(u32, i64, ResumePoint)> {
        let times = self.times.get(..self.len()).unwrap_or_default();
        let i = times.iter().rposition(|&t| t < mint)?;
        Some((u32::from(self.decoded[i]), times[i], self.points[i]))
    }

    fn is_full(&self) -> bool {
        self.len() >= MAX_RESUME_POINTS
    }

    /// Whether a point is due after `decoded` samples, the last at `t`.
    fn due(&self, decoded: u32, t: i64) -> bool {
        if self.is_full() {
            return false;
        }
        let (last_decoded, last_t) = match self.len().checked_sub(1) {
            Some(last) => (u32::from(self.decoded[last]), self.times[last]),
            None => (0, self.chunk_min_t),
        };
        decoded > last_decoded
            && (decoded - last_decoded >= RESUME_EVERY_SAMPLES
                || t.saturating_sub(last_t) >= RESUME_EVERY_MS)
    }
}

impl<'a> ChunkSamples<'a> {
    /// Appends the samples in `[mint, maxt]` of a chunk to `out`, stopping
    /// at the first one after `maxt`; returns whether it got there. One
    /// loop over a decoder that lives in this function (so its state stays
    /// in registers) is faster than an iterator.
    ///
    /// `count`, `min_t` and `max_t` describe the chunk. With `resume`, the
    /// resume points of this chunk, decoding starts at
    /// the last point before `mint` instead of the chunk's start, and
    /// leaves new points as it passes where they are due. Needs
    /// `mint <= maxt`.
    fn extend_between(
        data: &[u8],
        (count, min_t, max_t): (u32, i64, i64),
        (mint, maxt): (i64, i64),
        out: &mut Vec<Sample>,
        mut resume: Option<&mut ResumePoints>,
    ) -> bool {
        let AtWindow {
            mut samples,
            first_kept,
            before,
        } = ChunkSamples::pass_to(data, (count, min_t), mint, resume.as_deref_mut());
        // Once a chunk's points are all left (usually so), no sample needs
        // to be checked for one: a loop of its own keeps the samples.
        match (resume.filter(|points| !points.is_full()), first_kept) {
            (_, None) => false,
            // The chunk ends inside the range (the usual case): no sample
            // needs comparing with `maxt`.
            (None, Some(first)) if max_t <= maxt => samples.keep_up_to::<false>(first, maxt, out),
            (None, Some(first)) => samples.keep_up_to::<true>(first, maxt, out),
            (Some(points), Some(first)) => {
                let mut totals = before.map_or(RunTotals::starting_with(first.v), |b| {
                    b.totals_to(first, samples.reference)
                });
                let mut sample = first;
                loop {
                    samples.leave_point_if_due(points, count, sample.t, totals);
                    if sample.t > maxt {
                        return true;
                    }
                    out.push(sample);
                    let Some(next) = samples.next_sample() else {
                        return false;
                    };
                    totals.add(sample.v, next.v, samples.reference);
                    sample = next;
                }
            }
        }
    }

    /// The summary of a chunk's samples from `mint` to its end, worked out
    /// from the totals up to the last sample before `mint` and the
    /// chunk's `end` (which must be [usable](ChunkEnd::usable)): only the
    /// samples from the resume point before `mint` to the first sample
    /// after it are decoded. Leaves resume points as
    /// [`ChunkSamples::extend_between`] does. `None` when no sample is
    /// from `mint` on. Moments only for `kind` [`SummaryKind::Moments`].
    fn summary_from(
        data: &[u8],
        chunk: (u32, i64),
        mint: i64,
        resume: &mut ResumePoints,
        (end, kind): (&ChunkEnd, SummaryKind),
    ) -> Option<SamplesSummary> {
        let at = ChunkSamples::pass_to(data, chunk, mint, Some(resume));
        let first = at.first_kept?;
        Some(match at.before {
            Some(before) => end.summary_after(&before, first, at.samples.reference, kind),
            None => end.summary_from(first, kind),
        })
    }

    /// [`ChunkSamples::summary_from`] with the extremes of the samples
    /// from `mint` on, taken from `suffix`, the chunk's extremes by
    /// blocks: besides, only the samples from `mint` to the next block's
    /// start are decoded.
    fn summary_with_extremes(
        data: &[u8],
        chunk: (u32, i64),
        mint: i64,
        resume: &mut ResumePoints,
        (end, suffix): (&ChunkEnd, &SuffixExtremes),
    ) -> Option<SamplesSummary> {
        let at = ChunkSamples::pass_to(data, chunk, mint, Some(resume));
        let first = at.first_kept?;
        let kind = SummaryKind::Extremes;
        let summary = match at.before {
            Some(before) => end.summary_after(&before, first, at.samples.reference, kind),
            None => end.summary_from(first, kind),
        };
        let mut samples = at.samples;
        let index = chunk.0.saturating_sub(samples.remaining + 1);
        let extremes = suffix.from(index, first, || samples.next_sample());
        Some(SamplesSummary {
            extremes: Some(extremes),
            ..summary
        })
    }

    /// Decodes a chunk (of `count` samples from `min_t`) up to its first
    /// sample at or after `mint`: one loop passing over the samples before
    /// `mint`, so that the loop keeping the window's samples tests each
    /// against `maxt` alone. With `resume`, the resume points of this
    /// chunk, decoding starts at the last point before `mint` instead of
    /// the chunk's start, and leaves new points as it passes where they
    /// are due, and one at the window's start.
    #[inline(always)]
    fn pass_to(
        data: &'a [u8],
        (count, min_t): (u32, i64),
        mint: i64,
        mut resume: Option<&mut ResumePoints>,
    ) -> AtWindow<'a> {
        let start = resume.as_deref().and_then(|r| r.last_before(mint));
        let (mut samples, mut next, mut before) = match start {
            Some((decoded, t, point)) => {
                let mut samples = ChunkSamples::resume(data, count, decoded, t, point);
                let next = samples.next_sample();
                let sample = Sample {
                    t,
                    v: f64::from_bits(point.value_bits),
                };
                let totals = point.totals;
                (
                    samples,
                    next,
                    Some(Passed {
                        decoded,
                        sample,
                        totals,
                    }),
                )
            }
            None => {
                let mut samples = ChunkSamples::new(data, count, min_t);
                let first = samples.first_sample();
                (samples, first, None)
            }
        };
        // The state after the last sample passed over, left as a resume
        // point at the window's start.
        let mut window_start = None;
        while let Some(sample) = next.filter(|s| s.t < mint) {
            let totals = before.map_or(RunTotals::starting_with(sample.v), |b| {
                b.totals_to(sample, samples.reference)
            });
            let decoded = count - samples.remaining;
            before = Some(Passed {
                decoded,
                sample,
                totals,
            });
            if let Some(points) = resume.as_deref_mut() {
                window_start = Some(samples.resume_point(totals));
                samples.leave_point_if_due(points, count, sample.t, totals);
            }
            next = samples.next_sample();
        }
        if let (Some(points), Some(point), Some(passed), Some(_)) =
            (resume, window_start, before, next)
        {
            points.record_window_start(passed.decoded, passed.sample.t, point);
        }
        AtWindow {
            samples,
            first_kept: next,
            before,
        }
    }

    /// The totals, count and last sample of a whole chunk, by decoding it.
    fn end(mut self) -> ChunkEnd {
        let Some(first) = self.first_sample() else {
            // Only a codec bug can get here: totals that are never used.
            return ChunkEnd {
                totals: RunTotals::NONE,
                count: 0,
                last: Sample { t: 0, v: f64::NAN },
            };
        };
        let (mut totals, mut count, mut last) = (RunTotals::starting_with(first.v), 1, first);
        while let Some(sample) = self.next_sample() {
            totals.add(last.v, sample.v, self.reference);
            (count, last) = (count + 1, sample);
        }
        ChunkEnd {
            totals,
            count,
            last,
        }
    }

    /// Appends `next` and the samples after it, up to `maxt` if
    /// `TO_MAXT` (else all of them), to `out`; returns whether it got past
    /// `maxt`. The samples are written into `out`'s spare room, rather
    /// than pushed one by one (which stores the length back at every
    /// sample); a read is sized for its window beforehand, so the room is
    /// rarely short. The loop keeps few values besides the decoder's, so
    /// that they all stay in registers.
    #[inline(always)]
    fn keep_up_to<const TO_MAXT: bool>(
        &mut self,
        mut next: Sample,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> bool {
        loop {
            if out.len() == out.capacity() {
                out.reserve(self.remaining as usize + 1);
            }
            let len = out.len();
            // Slots for `next` and the samples left, as far as there is
            // room: the loop counts slots, not samples left as well.
            let room = out.spare_capacity_mut();
            let slots = room.len().min(self.remaining as usize + 1);
            let mut written = 0;
            let passed = loop {
                if TO_MAXT && next.t > maxt {
                    break Some(true);
                }
                let Some(slot) = room.get_mut(written) else {
                    break None;
                };
                slot.write(next);
                written += 1;
                if written == slots {
                    break None;
                }
                match self.read_following() {
                    Some(sample) => next = sample,
                    None => break Some(false),
                }
            };
            // SAFETY: the loop above wrote the first `written` slots of
            // the spare room after `len`.
            unsafe { out.set_len(len + written) };
            // `next` was written too, unless it is after `maxt`.
            self.remaining -= (written as u32).saturating_sub(1);
            match passed {
                Some(passed) => return passed,
                None if self.remaining == 0 => return false,
                None => match self.read_following() {
                    Some(sample) => {
                        self.remaining -= 1;
                        next = sample;
                    }
                    None => return false,
                },
            }
        }
    }

    /// Leaves a resume point after the sample just decoded, at `t`, with
    /// the chunk's `totals` up to it, if one is due there.
    #[inline(always)]
    fn leave_point_if_due(&self, points: &mut ResumePoints, count: u32, t: i64, totals: RunTotals) {
        let decoded = count - self.remaining;
        if points.due(decoded, t) {
            points.record(decoded, t, self.resume_point(totals));
        }
    }

    /// Continues decoding where `point` was left, after the `decoded`-th
    /// sample, at `t`.
    fn resume(data: &'a [u8], count: u32, decoded: u32, t: i64, point: ResumePoint) -> Self {
        let scale = DecimalScale(point.scale);
        let ints = match point.ints_kind {
            IntKind::Known => {
                IntTrack::known(scale.to_int(point.value_bits), point.ints_word as i64)
            }
            IntKind::NotInt => IntTrack::NotInt,
            IntKind::Pending => IntTrack::Pending {
                before: point.ints_word,
            },
        };
        ChunkSamples {
            reader: BitReader::at(data, point.pos as usize),
            remaining: count.saturating_sub(decoded),
            t,
            delta: point.delta,
            value_bits: point.value_bits,
            scale,
            factor: scale.factor(),
            ints,
            window: ReadWindow {
                trailing: u32::from(point.window_trailing),
                significant: u32::from(point.window_significant),
            },
            reference: first_value(data),
        }
    }

    /// The state after the last sample returned, whose chunk's totals up
    /// to it are `totals`.
    fn resume_point(&self, totals: RunTotals) -> ResumePoint {
        let (ints_kind, ints_word) = match self.ints {
            IntTrack::Known { delta, .. } => (IntKind::Known, delta as u64),
            IntTrack::NotInt => (IntKind::NotInt, 0),
            IntTrack::Pending { before } => (IntKind::Pending, before),
        };
        // The narrowing casts cannot lose bits: a window's counts are at
        // most 64, and a chunk's bits far below 2^32.
        ResumePoint {
            totals,
            delta: self.delta,
            value_bits: self.value_bits,
            ints_word,
            pos: self.reader.position() as u32,
            ints_kind,
            scale: self.scale.0,
            window_trailing: self.window.trailing as u8,
            window_significant: self.window.significant as u8,
        }
    }

    /// The chunk's first sample, for a decoder made by
    /// [`ChunkSamples::new`]; [`ChunkSamples::next_sample`] gives the
    /// others. Two functions rather than one that asks each time which
    /// sample it is at.
    fn first_sample(&mut self) -> Option<Sample> {
        self.take(Self::read_first)
    }

    /// The sample after the last one returned.
    #[inline(always)]
    fn next_sample(&mut self) -> Option<Sample> {
        self.take(Self::read_following)
    }

    #[inline(always)]
    fn take(&mut self, read: impl FnOnce(&mut Self) -> Option<Sample>) -> Option<Sample> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let sample = read(self);
        if sample.is_none() {
            // Only a codec bug can get here; stop rather than invent data.
            self.remaining = 0;
        }
        sample
    }

    /// The first sample: the first value's raw bits, then the chunk's
    /// decimal scale.
    fn read_first(&mut self) -> Option<Sample> {
        self.value_bits = self.reader.read_bits(64);
        self.reference = f64::from_bits(self.value_bits);
        self.scale = DecimalScale::new(self.reader.read_bits(SCALE_BITS) as u32)?;
        self.factor = self.scale.factor();
        self.ints = IntTrack::known(self.scale.to_int(self.value_bits), 0);
        self.current()
    }

    #[inline(always)]
    fn read_following(&mut self) -> Option<Sample> {
        let word = self.reader.peek_word();
        // A steady interval (the usual case) is a single zero bit, tested
        // for first; the value's prefix and header are then still in
        // `word`: no new load.
        let value_word = if word >> 63 == 0 {
            self.reader.consume(1);
            word << 1
        } else {
            let dod = read_varbits(&mut self.reader, word, &TIME_DOD_WIDTHS);
            self.delta = self.delta.wrapping_add(dod);
            self.reader.peek_word()
        };
        self.t = self.t.wrapping_add(self.delta);
        self.value_bits = self.read_value(value_word)?;
        self.current()
    }

    /// The sample just read, unless reading it went past the end of the
    /// input.
    #[inline(always)]
    fn current(&self) -> Option<Sample> {
        if self.reader.overrun() {
            return None;
        }
        Some(Sample {
            t: self.t,
            v: f64::from_bits(self.value_bits),
        })
    }

    /// Mirrors [`HeadChunk::write_value`]. `word` holds the unread bits,
    /// left-aligned, at least 56 of them.
    #[inline(always)]
    fn read_value(&mut self, word: u64) -> Option<u64> {
        let previous = self.value_bits;
        // `0` same value, `10` integer delta-of-delta, `110` XOR in the
        // previous window, `111` XOR with a new window (5 bits of leading
        // zeros, 6 of significant bits): 14 bits at most, all in `word`.
        if word >> 63 == 0 {
            // Same value: the integer delta, if any, is zero.
            self.reader.consume(1);
            self.ints = match self.ints {
                IntTrack::Known { last, .. } => IntTrack::Known { last, delta: 0 },
                IntTrack::NotInt => IntTrack::NotInt,
                IntTrack::Pending { .. } => IntTrack::Pending { before: previous },
            };
            return Some(previous);
        }
        if (word >> 62) & 1 == 0 {
            self.reader.consume(2);
            let dod = read_varbits(&mut self.reader, word << 2, &INT_DOD_WIDTHS);
            let (last, delta) = match self.ints {
                IntTrack::Known { last, delta } => (last, delta),
                IntTrack::NotInt => return None,
                IntTrack::Pending { before } => pending_ints(self.scale, before, self.value_bits)?,
            };
            let delta = delta.wrapping_add(dod);
            let value = last.checked_add(delta)?;
            self.ints = IntTrack::Known { last: value, delta };
            // As `DecimalScale::to_value`, with the factor at hand.
            return Some((value as f64 / self.factor).to_bits());
        }
        let header = if (word >> 61) & 1 == 1 {
            let leading = ((word >> 56) & 0b1_1111) as u32;
            let significant = match ((word >> 50) & 0b11_1111) as u32 {
                0 => 64,
                n => n,
            };
            let trailing = 64u32.checked_sub(leading + significant)?;
            self.window = ReadWindow {
                trailing,
                significant,
            };
            3 + 5 + 6
        } else {
            3
        };
        self.reader.consume(header);
        let ReadWindow {
            trailing,
            significant,
        } = self.window;
        self.ints = IntTrack::Pending { before: previous };
        // The bits usually follow the header inside `word`: taking them
        // from there saves a load that waits on the position just moved.
        let xor_bits = if significant + header <= 56 {
            self.reader.consume(significant);
            (word << header) >> (64 - significant)
        } else {
            self.reader.read_bits(significant)
        };
        Some(previous ^ (xor_bits << trailing))
    }
}

/// A chunk's first value: its bits open the chunk.
fn first_value(data: &[u8]) -> f64 {
    let bits = data
        .first_chunk::<8>()
        .map_or(0, |b| u64::from_be_bytes(*b));
    f64::from_bits(bits)
}

/// The last value (`last`, whose value before was `before`) as an
/// integer and the last integer delta, which an XOR left pending, for an
/// integer-encoded sample that follows it; `None` when the last value is
/// not an integer, after which no valid chunk has one. Out of line, and
/// given values rather than the decoder (whose state then stays in
/// registers): the usual case, a run of integer-encoded samples, never
/// calls it.
#[inline(never)]
fn pending_ints(scale: DecimalScale, before: u64, last: u64) -> Option<(i64, i64)> {
    let last = scale.to_int(last)?;
    let delta = integer_delta(scale.to_int(before), Some(last)).unwrap_or(0);
    Some((last, delta))
}

/// Writes a signed integer as: `0` for zero; else one to three `1` bits
/// and a `0` choosing the first bucket of `widths` that holds it, then the
/// value in that many bits (two's complement); else `1111` and 64 bits.
fn write_varbits(bits: &mut BitWriter, widths: &[u32; 3], value: i64) {
    if value == 0 {
        bits.write_bit(false);
        return;
    }
    for (i, &width) in widths.iter().enumerate() {
        let half = 1i64 << (width - 1);
        if (-half..half).contains(&value) {
            let ones = i as u32 + 1;
            // `ones` one bits followed by a zero bit.
            bits.write_bits(((1 << ones) - 1) << 1, ones + 1);
            bits.write_bits(value as u64, width);
            return;
        }
    }
    bits.write_bits(0b1111, 4);
    bits.write_bits(value as u64, 64);
}

/// Bits [`write_varbits`] uses for `value`.
fn varbits_len(widths: &[u32; 3], value: i64) -> u32 {
    if value == 0 {
        return 1;
    }
    for (i, &width) in widths.iter().enumerate() {
        let half = 1i64 << (width - 1);
        if (-half..half).contains(&value) {
            return i as u32 + 2 + width;
        }
    }
    4 + 64
}

/// Reads what [`write_varbits`] wrote, given the reader's unread bits
/// left-aligned in `word` (at least 28 of them: the prefix of up to four
/// bits and a bucketed payload of at most 24). Past the end of the input
/// it reads zeros; the caller checks for that once per sample.
#[inline(always)]
fn read_varbits(reader: &mut BitReader<'_>, word: u64, widths: &[u32; 3]) -> i64 {
    let ones = word.leading_ones().min(4);
    match ones {
        0 => {
            reader.consume(1);
            0
        }
        4 => {
            reader.consume(4);
            reader.read_bits(64) as i64
        }
        n => {
            let width = widths[n as usize - 1];
            reader.consume(n + 1 + width);
            // Left-align the payload; the arithmetic shift sign-extends it.
            ((word << (n + 1)) as i64) >> (64 - width)
        }
    }
}

/// `current - previous` when both values are integers.
#[inline]
fn integer_delta(previous: Option<i64>, current: Option<i64>) -> Option<i64> {
    Some(current? - previous?)
}

/// Bits for the decimal scale in a chunk's header.
const SCALE_BITS: u32 = 3;

/// Powers of ten a value may be scaled by; each is exact as an `f64`.
const SCALE_FACTORS: [f64; 7] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// A number of decimal digits: values with at most that many decimals
/// (`12.34` at scale 2) are stored as the integers they become when scaled
/// (`1234`). CPU seconds and other short decimals then compress like
/// integer counters instead of costing 40 bits of XOR each.
///
/// `m / 10^k` is correctly rounded, so it is the very `f64` a parser makes
/// of the decimal text: the conversion is exact both ways, which
/// [`DecimalScale::to_int`] checks for every value.
///
/// A byte: every head holds one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DecimalScale(u8);

impl DecimalScale {
    fn new(digits: u32) -> Option<Self> {
        let digits = u8::try_from(digits).ok()?;
        (usize::from(digits) < SCALE_FACTORS.len()).then_some(DecimalScale(digits))
    }

    /// The smallest scale at which the value is an integer (0 if none).
    fn of(bits: u64) -> Self {
        (0..SCALE_FACTORS.len() as u8)
            .map(DecimalScale)
            .find(|scale| scale.to_int(bits).is_some())
            .unwrap_or(DecimalScale(0))
    }

    fn factor(self) -> f64 {
        SCALE_FACTORS[self.0 as usize]
    }

    /// The value scaled to an integer, when that converts back exactly
    /// (negative zero excluded: it would come back as plain zero). Casts
    /// rather than `f64::round`, which is a library call on baseline x86-64.
    #[inline]
    fn to_int(self, bits: u64) -> Option<i64> {
        const EXACT_LIMIT: f64 = (1u64 << 53) as f64;
        let v = f64::from_bits(bits);
        if v.is_nan() || bits == (-0.0f64).to_bits() {
            return None;
        }
        let scaled = v * self.factor();
        if scaled.abs() > EXACT_LIMIT {
            return None;
        }
        // The product may land just beside the integer: try the truncated
        // value and its neighbour away from zero.
        let truncated = scaled as i64;
        [truncated, truncated + scaled.signum() as i64]
            .into_iter()
            .find(|&int| self.to_value(int) == bits)
    }

    /// The value of a scaled integer. At scale 0 the division by one is
    /// exact: no branch on the scale.
    #[inline]
    fn to_value(self, int: i64) -> u64 {
        (int as f64 / self.factor()).to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{is_stale_nan, STALE_NAN};
    use proptest::prelude::*;

    fn encode(samples: &[Sample]) -> ClosedChunk {
        let mut head = HeadChunk::new(samples[0].t, samples[0].v);
        for s in &samples[1..] {
            head.append(s.t, s.v);
        }
        head.freeze()
    }

    fn decode(chunk: &ClosedChunk) -> Vec<Sample> {
        let mut out = Vec::new();
        assert!(!chunk.extend_between((i64::MIN, i64::MAX), &mut out, None));
        out
    }

    fn bits_of(samples: &[Sample]) -> Vec<(i64, u64)> {
        samples.iter().map(|s| (s.t, s.v.to_bits())).collect()
    }

    #[test]
    fn stale_markers_and_special_values_round_trip_bit_exact() {
        let values = [
            1.0,
            STALE_NAN,
            f64::NAN,
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            STALE_NAN,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample {
                t: 1_700_000_000_000 + i as i64 * 1000,
                v,
            })
            .collect();
        let chunk = encode(&samples);
        let decoded = decode(&chunk);
        assert_eq!(bits_of(&decoded), bits_of(&samples));
        assert!(is_stale_nan(decoded[1].v) && is_stale_nan(decoded[7].v));
        assert!(
            !is_stale_nan(decoded[2].v),
            "an ordinary NaN stays ordinary"
        );
    }

    #[test]
    fn extend_between_keeps_the_range_and_says_when_it_passed_it() {
        let samples: Vec<Sample> = (0..60)
            .map(|i| Sample {
                t: i * 15_000,
                v: (i * i) as f64,
            })
            .collect();
        let chunk = encode(&samples);
        let mut out = vec![Sample { t: -1, v: 0.0 }];
        assert!(chunk.extend_between((30_000, 60_000), &mut out, None));
        assert_eq!(out.len(), 4, "appended after what was there");
        assert_eq!(bits_of(&out[1..]), bits_of(&samples[2..5]));
        out.clear();
        assert!(!chunk.extend_between((800_000, 10_000_000), &mut out, None));
        assert_eq!(bits_of(&out), bits_of(&samples[54..]));
    }

    #[test]
    fn steady_counter_compresses_to_about_a_byte_per_sample() {
        let samples: Vec<Sample> = (0..240)
            .map(|i| Sample {
                t: 1_700_000_000_000 + i * 1000,
                v: (1_000_000 + i * 37 + (i * i) % 11) as f64,
            })
            .collect();
        let chunk = encode(&samples);
        let per_sample = chunk.heap_bytes() as f64 / samples.len() as f64;
        assert!(per_sample < 1.6, "{per_sample} bytes/sample");
    }

    #[test]
    fn a_head_grows_to_about_its_final_size_not_to_the_next_power_of_two() {
        // A counter moving by varying steps: about 1.2 bytes a sample, 290
        // bytes a chunk, which doubling would hold in 512.
        let mut head = HeadChunk::new(0, 0.0);
        let mut value = 0.0;
        let mut most_spare = 0;
        for i in 1..MAX_SAMPLES_PER_CHUNK as i64 {
            value += ((i * 7919) % 13) as f64;
            head.append(i * 1000, value);
            let used = head.bytes().len();
            assert!(head.heap_bytes() >= used);
            if i > 60 {
                most_spare = most_spare.max(head.heap_bytes() - used);
            }
        }
        let used = head.bytes().len();
        assert!((200..400).contains(&used), "{used} bytes");
        assert!(head.heap_bytes() < used + 2 * MAX_SAMPLE_BYTES + 8);
        assert!(most_spare < used / 2, "{most_spare} spare of {used}");
    }

    #[test]
    fn short_decimals_compress_like_integers() {
        // A CPU-seconds counter: two decimals, rising by up to 0.09 a second.
        let samples: Vec<Sample> = (0..240)
            .map(|i| Sample {
                t: 1_700_000_000_000 + i * 1000,
                v: (1_234_567 + i * 5 + (i * i) % 4) as f64 / 100.0,
            })
            .collect();
        let chunk = encode(&samples);
        let decoded = decode(&chunk);
        assert_eq!(bits_of(&decoded), bits_of(&samples));
        let per_sample = chunk.heap_bytes() as f64 / samples.len() as f64;
        assert!(per_sample < 1.6, "{per_sample} bytes/sample");
    }

    #[test]
    fn decimal_scale_is_the_fewest_digits_that_are_exact() {
        let scale = |v: f64| DecimalScale::of(v.to_bits()).0;
        assert_eq!(scale(42.0), 0);
        assert_eq!(scale(12345.67), 2);
        assert_eq!(scale(-0.001), 3);
        assert_eq!(scale(0.1 + 0.2), 0, "not a short decimal");
        assert_eq!(scale(f64::NAN), 0);
        assert_eq!(
            DecimalScale(2).to_int(12345.67f64.to_bits()),
            Some(1_234_567)
        );
        assert_eq!(DecimalScale(2).to_int((-0.0f64).to_bits()), None);
    }

    #[test]
    fn every_dod_bucket_round_trips() {
        let mut t = 0i64;
        let mut samples = vec![Sample { t, v: 0.0 }];
        for step in [
            1,
            1,
            8_000,
            8_192,
            70_000,
            600_000,
            1 << 40,
            1,
            i64::MAX / 4,
        ] {
            t += step;
            samples.push(Sample { t, v: 1.0 });
        }
        assert_eq!(bits_of(&decode(&encode(&samples))), bits_of(&samples));
    }

    /// Repeats (`None`), arbitrary bit patterns, and integers small and
    /// near the edge of exact conversion, which take the integer encoding.
    fn value_strategy() -> impl Strategy<Value = Option<f64>> {
        const EXACT: i64 = 1 << 53;
        prop_oneof![
            Just(None),
            any::<u64>().prop_map(|b| Some(f64::from_bits(b))),
            (-1000i64..1000).prop_map(|i| Some(i as f64)),
            (-EXACT..=EXACT).prop_map(|i| Some(i as f64)),
            (-1_000_000_000i64..1_000_000_000, 0usize..8)
                .prop_map(|(i, digits)| Some(i as f64 / 10f64.powi(digits as i32))),
            Just(Some(-0.0)),
            Just(Some(STALE_NAN)),
        ]
    }

    proptest! {
        /// Reads that resume at points left by earlier reads (while the
        /// head grows, and after it is closed) return exactly what
        /// decoding from the start returns.
        #[test]
        fn resumed_reads_match_reads_from_the_start(
            steps in proptest::collection::vec((1i64..=40_000, value_strategy()), 1..400),
            reads in proptest::collection::vec((0usize..400, 0usize..400, 0usize..40), 1..30),
        ) {
            let mut samples = vec![Sample { t: 1_000_000, v: 7.0 }];
            for (step, value) in steps {
                let previous = samples[samples.len() - 1];
                let v = value.unwrap_or(previous.v);
                samples.push(Sample { t: previous.t + step, v });
            }
            let mut head = HeadChunk::new(samples[0].t, samples[0].v);
            let mut appended = 1;
            let mut points = ResumePoints::new(samples[0].t);
            let read = |chunk_reads: &dyn Fn(&mut Vec<Sample>, Option<&mut ResumePoints>) -> bool,
                        points: &mut ResumePoints| {
                let mut resumed = Vec::new();
                let mut plain = Vec::new();
                let passed = chunk_reads(&mut resumed, Some(points));
                prop_assert_eq!(passed, chunk_reads(&mut plain, None));
                prop_assert_eq!(bits_of(&resumed), bits_of(&plain));
                Ok(())
            };
            for (from, to, grow) in reads {
                for s in samples.iter().skip(appended).take(grow) {
                    head.append(s.t, s.v);
                }
                appended = (appended + grow).min(samples.len());
                let at = |i: usize| samples[i % samples.len()].t + (i as i64 % 3) - 1;
                let (a, b) = (at(from), at(to));
                let range = (a.min(b), a.max(b));
                read(&|out, p| head.extend_between(range, out, p), &mut points)?;
                let closed = head.freeze();
                read(&|out, p| closed.extend_between(range, out, p), &mut points)?;
            }
            prop_assert!(points.len() <= MAX_RESUME_POINTS);
            let times = &points.times[..points.len()];
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]), "in time order: {:?}", times);
        }

        #[test]
        fn arbitrary_series_round_trip(
            start in any::<i64>(),
            steps in proptest::collection::vec((1i64..=(1 << 50), value_strategy()), 0..300),
        ) {
            let mut samples = vec![Sample { t: start, v: 1.5 }];
            let mut t = start;
            for (step, value) in steps {
                t = t.wrapping_add(step);
                let v = value.unwrap_or(samples[samples.len() - 1].v);
                samples.push(Sample { t, v });
            }
            let decoded = decode(&encode(&samples));
            prop_assert_eq!(bits_of(&decoded), bits_of(&samples));
        }
    }
}
