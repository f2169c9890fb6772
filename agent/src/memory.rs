//! Process-wide memory tuning for the agent binary: the allocator and the
//! async runtime.

/// Above this size glibc's malloc serves an allocation with its own
/// mapping, given back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 << 10;

/// Tunes glibc's malloc for an agent whose heap is a few MiB of
/// long-lived series data plus buffers of a few hundred KiB that each
/// scrape fills and frees (the HTTP client's read buffer, hash tables).
///
/// One arena: by default glibc gives busy threads their own arenas (up to
/// 8 per core), each keeping freed scrape buffers around; one arena cut
/// the steady-state RSS by about 5 MiB in the `steady_state` bench at no
/// measurable CPU cost, since the agent's threads mostly wait.
///
/// A fixed mmap threshold: by default it rises to the size of any mapped
/// block freed, after which those buffers come from the heap and their
/// holes stay resident among long-lived data; fixed at glibc's initial
/// 128 KiB, anonymous memory went from 10.6 to 9.7 MiB in the bench, at
/// the same CPU (a few page faults a scrape).
///
/// Call once, first thing, from the binary; a no-op on other C libraries.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Blocking threads only run PromQL queries for the API; a handful keeps
/// concurrent dashboard queries going without tokio's default of 512.
const MAX_BLOCKING_THREADS: usize = 4;

/// The async runtime the agent runs on: a single thread. The agent mostly
/// waits for timers and sockets, and its busiest step (parsing and storing
/// one scrape) takes a few milliseconds a second; in the `steady_state`
/// bench a multi-thread runtime with two workers cost about 0.7 MiB more
/// RSS and more CPU (workers waking each other) than one thread. The price
/// is that an API request arriving during a scrape's parse or a rule
/// evaluation waits for it; PromQL queries from the API run on the
/// blocking threads.
pub fn agent_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .thread_name("opsdeck-agent")
        .build()
}

/// Gives the pages wholly inside `start..end` of this process's code back
/// to the kernel: they stop counting in the agent's resident memory, and
/// should any of that code run again its pages are read back in, from the
/// page cache or the executable. For code that only start-up runs (see
/// `scripts/code-layout`); returns the bytes released.
///
/// # Safety
/// `start..end` must lie within a read-only mapping of the executable,
/// whose contents the kernel can read back from the file: released pages
/// of writable or anonymous memory would come back as zeroes.
#[cfg(target_os = "linux")]
pub unsafe fn release_code_pages(start: usize, end: usize) -> std::io::Result<usize> {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .map_err(|_| std::io::Error::last_os_error())?;
    let first = start.next_multiple_of(page);
    let last = end - end % page;
    if last <= first {
        return Ok(0);
    }
    // SAFETY: the caller promises a read-only file mapping, which
    // MADV_DONTNEED only unmaps; later accesses fault the same bytes back.
    let released = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_DONTNEED,
        )
    };
    if released != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(last - first)
}
