//! Cache hints for select walks. A walk reads one series after another,
//! and each series' memory is a handful of separate allocations (the
//! series structure, its label set, its chunks' bytes, its read state),
//! each a cache miss of its own. Asking the processor to load the next
//! series' memory while the current one is decoded lets those misses
//! overlap instead of being taken one after another.

/// Lines of one allocation worth asking for: a window at the end of a
/// series reads at most this much of a chunk, and asking for more only
/// takes room from what is in use.
const MAX_LINES: usize = 8;

const LINE: usize = 64;

/// Asks the processor to start loading the cache lines of `bytes` (the
/// first [`MAX_LINES`] of them). A hint only: it reads nothing into the
/// program, and is a no-op where there is no such instruction.
pub(super) fn bytes(bytes: &[u8]) {
    lines(bytes.as_ptr(), bytes.len());
}

/// Like [`bytes`], for the memory of a value.
pub(super) fn value<T>(value: &T) {
    lines(std::ptr::from_ref(value).cast(), std::mem::size_of::<T>());
}

fn lines(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // A plain loop: `step_by` cost more than the prefetches.
        let end = len.min(MAX_LINES * LINE);
        let mut offset = 0;
        while offset < end {
            // SAFETY: a prefetch never faults and reads nothing into the
            // program, whatever the address; SSE, which it needs, is part
            // of every x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast()) };
            offset += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}
