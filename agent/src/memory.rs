//! Process-wide memory tuning for the agent binary: the allocator and the
//! async runtime.

/// Above this size glibc's malloc serves an allocation with its own
/// mapping, given back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 10;

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
/// the same CPU (a few page faults a scrape). At 32 KiB the steps by
/// which the HTTP client's read buffer grows during a scrape (32 and
/// 64 KiB) and the scrape's list of written series are mapped too, and
/// the long-lived tables of that size cost at most a page of rounding:
/// anonymous memory 5.0/5.0/4.9 -> 4.9/4.8/4.8 MiB, CPU unchanged.
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
/// page cache or the file. Returns the bytes released.
///
/// # Safety
/// `start..end` must lie within a private, read-only mapping of a file
/// none of whose pages were ever written, so that the kernel can read
/// them back from the file: released pages of written or anonymous memory
/// would come back as the file's bytes or as zeroes.
#[cfg(target_os = "linux")]
unsafe fn release_file_pages(start: usize, end: usize) -> std::io::Result<usize> {
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

/// Releases the code this process maps but mostly no longer runs: every
/// shared library's (the kernel maps code 64 KiB or a page-cache folio at
/// a time around each page touched, so a handful of functions keep most
/// of a library resident) and the executable's own from `own_hot_end` on
/// (the code `scripts/code-layout` found only start-up runs, and the code
/// it never saw run). `None` leaves the executable alone. Returns the
/// bytes released.
///
/// Only private, read-only, executable file mappings with no anonymous
/// page are touched: a library whose code was relocated in place (text
/// relocations) has written, anonymous pages, which must stay.
#[cfg(target_os = "linux")]
pub fn release_idle_code(own_hot_end: Option<usize>) -> std::io::Result<usize> {
    use procfs::process::{MMPermissions, MMapPath, Process};
    let maps = Process::myself()
        .and_then(|process| process.smaps())
        .map_err(std::io::Error::other)?;
    let own_code = release_idle_code as *const () as usize;
    let mut released = 0;
    for map in maps {
        let code = map
            .perms
            .contains(MMPermissions::EXECUTE | MMPermissions::PRIVATE)
            && !map.perms.contains(MMPermissions::WRITE);
        let pristine = map.extension.map.get("Anonymous") == Some(&0);
        if !code || !pristine || !matches!(map.pathname, MMapPath::Path(_)) {
            continue;
        }
        let (Ok(start), Ok(end)) = (
            usize::try_from(map.address.0),
            usize::try_from(map.address.1),
        ) else {
            continue;
        };
        let mapping = start..end;
        let idle = if !mapping.contains(&own_code) {
            mapping
        } else {
            match own_hot_end {
                Some(hot_end) if mapping.contains(&hot_end) => hot_end..end,
                _ => continue,
            }
        };
        // SAFETY: a private, read-only mapping of a file with no anonymous
        // page, which is what release_file_pages needs.
        released += unsafe { release_file_pages(idle.start, idle.end) }?;
    }
    Ok(released)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::release_file_pages;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    const PAGE: usize = 4096;

    /// Maps `file` read-only and private, as the loader maps code.
    fn map(file: &std::fs::File, len: usize) -> *mut u8 {
        // SAFETY: a fresh read-only private mapping of a file we hold open.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(
            address,
            libc::MAP_FAILED,
            "{}",
            std::io::Error::last_os_error()
        );
        address.cast()
    }

    fn resident_pages(address: *mut u8, len: usize) -> usize {
        let mut flags = vec![0u8; len / PAGE];
        // SAFETY: `address..address + len` is one mapping of ours.
        let status = unsafe { libc::mincore(address.cast(), len, flags.as_mut_ptr()) };
        assert_eq!(status, 0, "{}", std::io::Error::last_os_error());
        flags.iter().filter(|f| **f & 1 == 1).count()
    }

    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let len = 16 * PAGE;
        let contents: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&contents).expect("write");
        let address = map(&file, len);
        // SAFETY: the mapping is `len` readable bytes.
        let mapped = unsafe { std::slice::from_raw_parts(address, len) };
        assert_eq!(mapped, &contents[..]);

        // A range that starts and ends mid-page releases only the pages
        // wholly inside it: of 2.5 .. 10.5, pages 3 to 9.
        let start = address as usize + 2 * PAGE + PAGE / 2;
        let end = address as usize + 10 * PAGE + PAGE / 2;
        // SAFETY: a read-only private file mapping.
        let released = unsafe { release_file_pages(start, end) }.expect("madvise");
        assert_eq!(released, 7 * PAGE);
        assert_eq!(
            mapped,
            &contents[..],
            "released pages read back from the file"
        );

        // Less than a whole page releases nothing.
        // SAFETY: as above.
        let none = unsafe { release_file_pages(start, start + PAGE / 2) }.expect("madvise");
        assert_eq!(none, 0);
        // SAFETY: unmapping our own mapping; `mapped` is not used after.
        unsafe { libc::munmap(address.cast(), len) };
    }

    #[test]
    fn released_pages_are_the_ones_not_counted_resident() {
        let len = 16 * PAGE;
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&vec![1u8; len]).expect("write");
        let address = map(&file, len);
        // SAFETY: the mapping is `len` readable bytes.
        let mapped = unsafe { std::slice::from_raw_parts(address, len) };
        let sum: u64 = mapped.iter().step_by(PAGE).map(|b| u64::from(*b)).sum();
        assert_eq!(sum, 16);
        // mincore reports the page cache, which still holds released pages;
        // what MADV_DONTNEED changes is this process's page tables, seen
        // as the mapping's RSS in /proc/self/smaps.
        assert_eq!(resident_pages(address, len), 16);
        let before = mapping_rss_kib(address as usize);
        // SAFETY: a read-only private file mapping.
        unsafe { release_file_pages(address as usize, address as usize + len) }.expect("madvise");
        let after = mapping_rss_kib(address as usize);
        assert_eq!(before, 64, "all 16 pages were mapped");
        assert_eq!(after, 0, "no page stays mapped after the release");
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(address.cast(), len) };
    }

    /// The RSS of the mapping that starts at `address`, from /proc/self/smaps.
    fn mapping_rss_kib(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let header = format!("{address:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header));
        lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("the mapping's Rss line")
    }

    /// Resident KiB of the mapping that holds `address`.
    fn rss_kib_around(address: usize) -> u64 {
        let maps = procfs::process::Process::myself()
            .and_then(|process| process.smaps())
            .expect("smaps");
        let map = maps
            .into_iter()
            .find(|m| (m.address.0..m.address.1).contains(&(address as u64)))
            .expect("a mapping holds the address");
        map.extension.map.get("Rss").copied().expect("an Rss line") / 1024
    }

    #[test]
    fn library_code_is_released_and_runs_again() {
        let strlen = libc::strlen as *const () as usize;
        let before = rss_kib_around(strlen);
        let released = super::release_idle_code(None).expect("release");
        let after = rss_kib_around(strlen);
        assert!(released > 0);
        assert!(
            after < before,
            "libc's code: {before} KiB resident before, {after} KiB after"
        );
        let text = b"still runs\0";
        assert_eq!(unsafe { libc::strlen(text.as_ptr().cast()) }, 10);
    }
}
