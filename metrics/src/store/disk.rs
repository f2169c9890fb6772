//! Closed chunks kept in files instead of in memory, as Prometheus keeps
//! its head's full chunks on disk. A store with a chunk directory writes
//! each chunk to the newest segment file there when it closes, and reads
//! it back with `pread` when a query needs it. The bytes then live in the
//! kernel's page cache, which is shared and reclaimable, rather than in
//! the process's resident memory; an hour of a 5,000-series target is
//! about 20 MiB of chunks.
//!
//! A series keeps only its newest chunk on disk in memory ([`DiskChunk`]):
//! each chunk's record starts with the one before it, so a read walks a
//! series' chunks back from the newest until it passes the start of its
//! range. Per chunk in memory that would be 32 bytes, a tenth of the
//! chunk; per series it is 32 bytes however long the retention.
//!
//! Segments are written in time order and deleted whole once their newest
//! chunk is older than the retention cutoff. The files hold no more than
//! the store's memory would: they are removed when the store opens them,
//! since nothing else of the store outlives the process.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use super::chunk::{ClosedChunk, HeadChunk};
use super::series::Freed;

/// A segment takes no more chunks once it holds this many bytes: small
/// enough that a deleted segment's last chunk expired at most about a
/// minute before (a megabyte holds a minute of chunks of 5,000 series
/// scraped every second), large enough that an hour is a few dozen files.
const SEGMENT_BYTES: u64 = 1 << 20;

/// A chunk's record: its own first timestamp (checked on reading, so a
/// stale reference cannot decode another chunk's bytes), then the
/// series' previous chunk on disk, then the chunk's bytes.
const HEADER_BYTES: usize = 8 + DESCRIPTOR_BYTES;
const DESCRIPTOR_BYTES: usize = 8 + 4 + 4 + 8 + 8;

/// A chunk on disk: where its record is, and what a read decides on
/// before reading it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DiskChunk {
    /// Segment id in the high 32 bits, offset in the low; ids start at 1,
    /// so it is never zero (and an `Option<DiskChunk>` costs nothing more).
    at: NonZeroU64,
    /// Bytes of the chunk's data, after the header.
    len: u32,
    pub(crate) count: u32,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
}

impl DiskChunk {
    fn segment(&self) -> u32 {
        (self.at.get() >> 32) as u32
    }

    fn offset(&self) -> u64 {
        self.at.get() & u64::from(u32::MAX)
    }

    fn encode(chunk: Option<&DiskChunk>, out: &mut Vec<u8>) {
        let Some(chunk) = chunk else {
            out.extend_from_slice(&[0; DESCRIPTOR_BYTES]);
            return;
        };
        out.extend_from_slice(&chunk.at.get().to_le_bytes());
        out.extend_from_slice(&chunk.len.to_le_bytes());
        out.extend_from_slice(&chunk.count.to_le_bytes());
        out.extend_from_slice(&chunk.min_t.to_le_bytes());
        out.extend_from_slice(&chunk.max_t.to_le_bytes());
    }

    fn decode(bytes: &[u8; DESCRIPTOR_BYTES]) -> Option<DiskChunk> {
        let (at, rest) = bytes.split_at(8);
        let (len, rest) = rest.split_at(4);
        let (count, rest) = rest.split_at(4);
        let (min_t, max_t) = rest.split_at(8);
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
        Some(DiskChunk {
            at: NonZeroU64::new(u64_of(at))?,
            len: u32_of(len),
            count: u32_of(count),
            min_t: u64_of(min_t) as i64,
            max_t: u64_of(max_t) as i64,
        })
    }
}

/// A chunk's record as read: its data, and the chunk before it in its
/// series.
struct Record {
    data: Box<[u8]>,
    previous: Option<DiskChunk>,
}

/// The chunk files of one store.
pub(crate) struct ChunkFiles {
    dir: PathBuf,
    segments: RwLock<Segments>,
    /// Bytes of all segments.
    bytes: AtomicU64,
    /// Writes and reads that failed, and records that did not check out.
    errors: AtomicU64,
}

#[derive(Default)]
struct Segments {
    /// Oldest first.
    list: VecDeque<Segment>,
    /// Never reused, so that a reference into a deleted segment finds it
    /// gone rather than a newer segment's bytes.
    next_id: u32,
    /// A record is assembled here, to be written with one call.
    record: Vec<u8>,
}

struct Segment {
    id: u32,
    file: File,
    len: u64,
    /// Newest timestamp of any chunk in it.
    max_t: i64,
    chunks: u64,
    samples: u64,
}

impl ChunkFiles {
    /// Uses `dir` (made if missing) for a store's chunks, removing the
    /// segments a previous store left there.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if parse_segment_name(&entry.file_name().to_string_lossy()).is_some() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(ChunkFiles {
            dir: dir.to_path_buf(),
            segments: RwLock::new(Segments {
                next_id: 1,
                ..Segments::default()
            }),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Writes the full head `chunk` as a closed chunk, whose series'
    /// previous chunk on disk is `previous`.
    pub(crate) fn write(
        &self,
        chunk: &HeadChunk,
        previous: Option<&DiskChunk>,
    ) -> io::Result<DiskChunk> {
        self.counting_errors(self.try_write(chunk, previous))
    }

    fn try_write(&self, chunk: &HeadChunk, previous: Option<&DiskChunk>) -> io::Result<DiskChunk> {
        let (min_t, max_t, count) = (chunk.min_t(), chunk.max_t(), chunk.count());
        let data = chunk.bytes();
        let len = u32::try_from(data.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut segments = self.segments.write();
        let Segments {
            list,
            next_id,
            record,
        } = &mut *segments;
        record.clear();
        record.extend_from_slice(&min_t.to_le_bytes());
        DiskChunk::encode(previous, record);
        record.extend_from_slice(data);
        let record_len = record.len() as u64;
        let full = |s: &Segment| s.len > 0 && s.len + record_len > SEGMENT_BYTES;
        if list.back().is_none_or(full) {
            let id = *next_id;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(self.dir.join(segment_name(id)))?;
            *next_id = id.checked_add(1).ok_or(io::ErrorKind::StorageFull)?;
            list.push_back(Segment {
                id,
                file,
                len: 0,
                max_t: i64::MIN,
                chunks: 0,
                samples: 0,
            });
        }
        let segment = list.back_mut().ok_or(io::ErrorKind::NotFound)?;
        let offset = u32::try_from(segment.len).map_err(|_| io::ErrorKind::InvalidInput)?;
        segment.file.write_all_at(record, segment.len)?;
        segment.len += record_len;
        segment.max_t = segment.max_t.max(max_t);
        segment.chunks += 1;
        segment.samples += u64::from(count);
        self.bytes.fetch_add(record_len, Ordering::Relaxed);
        let at = (u64::from(segment.id) << 32) | u64::from(offset);
        Ok(DiskChunk {
            at: NonZeroU64::new(at).ok_or(io::ErrorKind::InvalidData)?,
            len,
            count,
            min_t,
            max_t,
        })
    }

    /// Appends to `out`, oldest first, the chunks of a series whose newest
    /// chunk on disk is `newest` that hold samples in `[mint, maxt]`. The
    /// walk back stops early at a deleted segment (the rest expired) or at
    /// a failed read (counted in [`ChunkFiles::errors`]): a query then
    /// gets the newer samples rather than none.
    pub(crate) fn read_overlapping(
        &self,
        newest: &DiskChunk,
        (mint, maxt): (i64, i64),
        out: &mut Vec<ClosedChunk>,
    ) {
        let start = out.len();
        let mut next = Some(*newest);
        while let Some(chunk) = next.filter(|c| c.max_t >= mint) {
            let Ok(Some(Record { data, previous })) = self.read(&chunk) else {
                break;
            };
            if chunk.min_t <= maxt {
                out.push(ClosedChunk::new(
                    chunk.min_t,
                    chunk.max_t,
                    chunk.count,
                    data,
                ));
            }
            next = previous.filter(|_| chunk.min_t > mint);
        }
        out[start..].reverse();
    }

    /// The record of `chunk`, or `None` if its segment was deleted.
    fn read(&self, chunk: &DiskChunk) -> io::Result<Option<Record>> {
        let segments = self.segments.read();
        let first = segments.list.front().map_or(0, |s| s.id);
        let Some(segment) = chunk
            .segment()
            .checked_sub(first)
            .and_then(|i| segments.list.get(i as usize))
        else {
            return Ok(None);
        };
        let mut record = vec![0; HEADER_BYTES + chunk.len as usize];
        let read = segment.file.read_exact_at(&mut record, chunk.offset());
        drop(segments);
        self.counting_errors(read)?;
        let (own_min_t, previous) = record.split_at(8);
        let previous: &[u8; DESCRIPTOR_BYTES] = previous
            .get(..DESCRIPTOR_BYTES)
            .and_then(|p| p.try_into().ok())
            .ok_or(io::ErrorKind::InvalidData)?;
        let previous = DiskChunk::decode(previous);
        if own_min_t != chunk.min_t.to_le_bytes() {
            let mismatch = io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "chunk record at offset {} of segment {} is not the chunk starting at {}",
                    chunk.offset(),
                    segment_name(chunk.segment()),
                    chunk.min_t
                ),
            );
            return self.counting_errors(Err(mismatch));
        }
        // The data moved to the front of the buffer it was read into,
        // rather than copied into a second one: reads are a rule's, every
        // evaluation, thousands of series.
        record.drain(..HEADER_BYTES);
        Ok(Some(Record {
            data: record.into_boxed_slice(),
            previous,
        }))
    }

    /// Deletes the segments whose chunks all end before `cutoff`, and
    /// returns the chunks and samples they held (no memory: `bytes` is 0).
    pub(crate) fn expire_before(&self, cutoff: i64) -> Freed {
        let mut freed = Freed::default();
        let mut segments = self.segments.write();
        while let Some(segment) = segments.list.front().filter(|s| s.max_t < cutoff) {
            freed.chunks += segment.chunks;
            freed.samples += segment.samples;
            let (len, name) = (segment.len, segment_name(segment.id));
            segments.list.pop_front();
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            // Reads find the segment gone as soon as it leaves the list;
            // a file left behind is removed when the store next opens.
            if fs::remove_file(self.dir.join(name)).is_err() {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        freed
    }

    fn counting_errors<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

fn segment_name(id: u32) -> String {
    format!("{id:08}.chunks")
}

fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".chunks")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    /// A full head of one sample a second from `start` to `end` (ms).
    fn chunk(start: i64, end: i64) -> HeadChunk {
        let mut head = HeadChunk::new(start, start as f64);
        for t in (start + 1000..=end).step_by(1000) {
            head.append(t, t as f64);
        }
        head
    }

    fn samples(chunks: &[ClosedChunk]) -> Vec<Sample> {
        let mut out = Vec::new();
        for c in chunks {
            c.extend_between((i64::MIN, i64::MAX), &mut out, None);
        }
        out
    }

    #[test]
    fn a_series_reads_back_the_chunks_its_range_touches_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::open(dir.path()).unwrap();
        let originals: Vec<HeadChunk> = (0..5)
            .map(|i| chunk(i * 100_000, i * 100_000 + 59_000))
            .collect();
        let mut newest = None;
        for c in &originals {
            // Another series' chunk between each: a walk must skip them.
            files.write(&chunk(0, 5_000), None).unwrap();
            newest = Some(files.write(c, newest.as_ref()).unwrap());
        }
        let newest = newest.unwrap();
        let mut out = Vec::new();
        files.read_overlapping(&newest, (i64::MIN, i64::MAX), &mut out);
        let originals: Vec<ClosedChunk> = originals.iter().map(HeadChunk::freeze).collect();
        assert_eq!(samples(&out), samples(&originals));
        out.clear();
        files.read_overlapping(&newest, (150_000, 230_000), &mut out);
        let starts: Vec<i64> = out.iter().map(|c| c.min_t).collect();
        assert_eq!(starts, [100_000, 200_000]);
        out.clear();
        files.read_overlapping(&newest, (460_000, 470_000), &mut out);
        assert!(out.is_empty(), "after the newest chunk ends");
        assert_eq!(files.errors(), 0);
    }

    #[test]
    fn expired_segments_are_deleted_and_walks_stop_at_them() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::open(dir.path()).unwrap();
        // Big chunks (random values) so that several segments fill up.
        let mut newest = None;
        let mut t = 0;
        while files.segments.read().list.len() < 4 {
            let mut head = HeadChunk::new(t, 0.0);
            for i in 1..240 {
                head.append(t + i * 1000, (t + i) as f64 * 1.000_000_1);
            }
            t += 240_000;
            newest = Some(files.write(&head, newest.as_ref()).unwrap());
        }
        let before = files.bytes();
        let oldest_kept = files.segments.read().list.get(2).map(|s| s.max_t).unwrap();
        let freed = files.expire_before(oldest_kept);
        assert!(freed.chunks > 0 && freed.samples == freed.chunks * 240);
        assert!(files.bytes() < before);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "two of four segments left");
        let mut out = Vec::new();
        files.read_overlapping(&newest.unwrap(), (i64::MIN, i64::MAX), &mut out);
        assert!(
            out.len() < t as usize / 240_000,
            "the expired chunks are not read"
        );
        assert!(!out.is_empty() && out.windows(2).all(|w| w[0].max_t < w[1].min_t));
        assert_eq!(out.last().map(|c| c.max_t), Some(t - 1000));
        assert_eq!(files.errors(), 0);
    }

    #[test]
    fn opening_removes_the_segments_left_by_an_earlier_store_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("00000007.chunks"), b"old").unwrap();
        fs::write(dir.path().join("notes.txt"), b"keep").unwrap();
        let files = ChunkFiles::open(dir.path()).unwrap();
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["notes.txt"]);
        assert_eq!(files.bytes(), 0);
    }

    #[test]
    fn a_record_that_is_not_the_chunk_asked_for_is_an_error_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::open(dir.path()).unwrap();
        let written = files.write(&chunk(0, 10_000), None).unwrap();
        let wrong = DiskChunk {
            min_t: 5,
            ..written
        };
        let mut out = Vec::new();
        files.read_overlapping(&wrong, (i64::MIN, i64::MAX), &mut out);
        assert!(out.is_empty());
        assert_eq!(files.errors(), 1);
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("0000004.chunks"), None);
        assert_eq!(parse_segment_name("0000004x.chunks"), None);
        assert_eq!(parse_segment_name("00000042"), None);
    }
}
