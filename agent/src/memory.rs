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

#[cfg(target_os = "linux")]
fn page_size() -> std::io::Result<usize> {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .map_err(|_| std::io::Error::last_os_error())
}

/// # Safety
/// `start..start + len` must be this process's memory, and `advice` one
/// that does not change its contents, or that the caller has made safe.
#[cfg(target_os = "linux")]
unsafe fn advise(start: usize, len: usize, advice: libc::c_int) -> std::io::Result<()> {
    // SAFETY: as the caller promised.
    if unsafe { libc::madvise(start as *mut libc::c_void, len, advice) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the pages wholly inside `start..end` back to the kernel: they
/// stop counting in the process's resident memory, and should any of them
/// be used again it is read back in, from the page cache or the file.
/// Returns the bytes released.
///
/// # Safety
/// `start..end` must lie within a private, read-only mapping of a file,
/// none of whose pages in that range is a private copy (written, or
/// anonymous), so that the kernel can read them back from the file:
/// released copies would come back as the file's bytes or as zeroes.
#[cfg(target_os = "linux")]
unsafe fn release_file_pages(start: usize, end: usize) -> std::io::Result<usize> {
    let page = page_size()?;
    let first = start.next_multiple_of(page);
    let last = end - end % page;
    if last <= first {
        return Ok(0);
    }
    // SAFETY: the caller promises file pages of a read-only mapping,
    // which MADV_DONTNEED only unmaps; later accesses fault the same
    // bytes back.
    unsafe { advise(first, last - first, libc::MADV_DONTNEED) }?;
    Ok(last - first)
}

/// Gives back the pages this process maps read-only from files and no
/// longer uses: the shared libraries' code and constants, the
/// executable's constants, and its code from `own_hot_end` on (the code
/// `scripts/code-layout` found only start-up runs, and the code it never
/// saw run; `None` keeps all of the executable's code). Returns the bytes
/// released.
///
/// Start-up runs far more code than the agent's steady state (config,
/// database, rule parsing, the first scrape's new series) and reads
/// constants all over the executable, and the kernel maps a file's pages
/// 64 KiB at a time around each page touched, from whatever the page cache
/// holds around it. So the released constants (the executable's and the
/// libraries') are marked for random access (no read-ahead), and the
/// executable's are also dropped from the page cache (the pages no other
/// process maps): what comes back is the pages the agent reads.
/// Code is left in the page cache: kernels from 6.16 read code ahead even
/// when told not to, and dropping the code too left the agent's
/// file-backed memory where it was (4.2 MiB both ways over ten minutes).
///
/// Pages that are this process's private copies (relocated data, which a
/// position-independent executable has much of) stay: releasing them
/// would bring back the file's bytes instead.
#[cfg(target_os = "linux")]
pub fn release_mapped_file_pages(own_hot_end: Option<usize>) -> std::io::Result<usize> {
    use procfs::process::{MMPermissions, MMapPath, Process};
    let process = Process::myself().map_err(std::io::Error::other)?;
    let maps = process.maps().map_err(std::io::Error::other)?;
    let mut pagemap = process.pagemap().map_err(std::io::Error::other)?;
    let page = page_size()?;
    let own_code = release_mapped_file_pages as *const () as u64;
    let own_file = maps
        .iter()
        .find(|map| (map.address.0..map.address.1).contains(&own_code))
        .map(|map| (map.dev, map.inode));
    let executable = std::fs::File::open("/proc/self/exe")?;
    let mut released = 0;
    for map in &maps {
        let read_only = map
            .perms
            .contains(MMPermissions::READ | MMPermissions::PRIVATE)
            && !map.perms.contains(MMPermissions::WRITE);
        if !read_only || !matches!(map.pathname, MMapPath::Path(_)) {
            continue;
        }
        let (Ok(map_start), Ok(end), Ok(offset)) = (
            usize::try_from(map.address.0),
            usize::try_from(map.address.1),
            i64::try_from(map.offset),
        ) else {
            continue;
        };
        let mut start = map_start;
        let code = map.perms.contains(MMPermissions::EXECUTE);
        let own = own_file == Some((map.dev, map.inode));
        if own && code {
            match own_hot_end {
                Some(hot_end) => start = start.max(hot_end.next_multiple_of(page)),
                None => continue,
            }
        }
        if start >= end {
            continue;
        }
        let pages = pagemap
            .get_range_info(start / page..end / page)
            .map_err(std::io::Error::other)?;
        match release_read_only_range(start, end, code, &pages, page) {
            Ok(bytes) => released += bytes,
            // The mapping went away after /proc/self/maps was read (another
            // thread unmapped it): nothing of it is resident any more.
            Err(error) if error.raw_os_error() == Some(libc::ENOMEM) => continue,
            Err(error) => return Err(error),
        }
        if own && !code {
            let file_bytes = |bytes: usize| i64::try_from(bytes).map_err(std::io::Error::other);
            drop_from_page_cache(
                &executable,
                offset + file_bytes(start - map_start)?,
                file_bytes(end - start)?,
            )?;
        }
    }
    Ok(released)
}

/// Releases the pages of the read-only private file mapping
/// `start..end` that are still the file's (`pages`, from
/// /proc/self/pagemap); data, unlike code, is first marked for random
/// access.
#[cfg(target_os = "linux")]
fn release_read_only_range(
    start: usize,
    end: usize,
    code: bool,
    pages: &[procfs::process::PageInfo],
    page: usize,
) -> std::io::Result<usize> {
    if !code {
        // SAFETY: marking our own memory for random access changes only
        // how the kernel reads it in.
        unsafe { advise(start, end - start, libc::MADV_RANDOM) }?;
    }
    let mut released = 0;
    for run in file_page_runs(pages) {
        // SAFETY: a read-only private mapping (nothing writes to it, so
        // its pages stay as they are), and none of the pages in the run
        // is a private copy.
        released +=
            unsafe { release_file_pages(start + run.start * page, start + run.end * page) }?;
    }
    Ok(released)
}

/// The runs of pages, by index, that hold no private copy: each is the
/// file's page, or not mapped at all.
#[cfg(target_os = "linux")]
fn file_page_runs(
    pages: &[procfs::process::PageInfo],
) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    use procfs::process::{MemoryPageFlags, PageInfo};
    let private_copy = |info: &PageInfo| match info {
        // Only anonymous memory is swapped: a private copy.
        PageInfo::SwapPage(_) => true,
        PageInfo::MemoryPage(flags) => {
            flags.contains(MemoryPageFlags::PRESENT) && !flags.contains(MemoryPageFlags::FILE)
        }
    };
    let mut index = 0;
    std::iter::from_fn(move || {
        while pages.get(index).is_some_and(private_copy) {
            index += 1;
        }
        let start = index;
        while pages.get(index).is_some_and(|p| !private_copy(p)) {
            index += 1;
        }
        (index > start).then_some(start..index)
    })
}

/// Drops the pages of `file` from `offset` on for `len` bytes that no
/// process maps from the page cache.
#[cfg(target_os = "linux")]
fn drop_from_page_cache(file: &std::fs::File, offset: i64, len: i64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: an advice on a file descriptor we hold open.
    let status =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) };
    if status != 0 {
        return Err(std::io::Error::from_raw_os_error(status));
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::release_file_pages;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    const PAGE: usize = 4096;

    /// Held by every test that maps, unmaps or releases file pages: a
    /// release reads /proc/self/maps and then advises each mapping, so a
    /// mapping another test unmaps in between fails the advice, and a
    /// release in the middle of another test changes the RSS it measures.
    static MAPPINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn exclusive_mappings() -> std::sync::MutexGuard<'static, ()> {
        MAPPINGS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

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
        let _mappings = exclusive_mappings();
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
        let _mappings = exclusive_mappings();
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
        let _mappings = exclusive_mappings();
        let strlen = libc::strlen as *const () as usize;
        let before = rss_kib_around(strlen);
        let released = super::release_mapped_file_pages(None).expect("release");
        let after = rss_kib_around(strlen);
        assert!(released > 0);
        assert!(
            after < before,
            "libc's code: {before} KiB resident before, {after} KiB after"
        );
        let text = b"still runs\0";
        assert_eq!(unsafe { libc::strlen(text.as_ptr().cast()) }, 10);
    }

    #[test]
    fn private_copies_in_read_only_mappings_survive_the_release() {
        let _mappings = exclusive_mappings();
        // As the dynamic loader leaves relocated data: a private file
        // mapping written to, then made read-only.
        let len = 8 * PAGE;
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&vec![1u8; len]).expect("write");
        // SAFETY: a fresh private mapping of a file we hold open.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(address, libc::MAP_FAILED);
        let bytes: *mut u8 = address.cast();
        // SAFETY: pages 0..8 are mapped writable; page 2 gets a private
        // copy, the others are read, so that they are the file's pages.
        unsafe {
            bytes.add(2 * PAGE).write(7);
            for page in [0, 1, 3, 4, 5, 6, 7] {
                assert_eq!(bytes.add(page * PAGE).read_volatile(), 1);
            }
            assert_eq!(libc::mprotect(address, len, libc::PROT_READ), 0);
        }
        let before = mapping_rss_kib(address as usize);
        super::release_mapped_file_pages(None).expect("release");
        let after = mapping_rss_kib(address as usize);
        assert_eq!(before, 32);
        assert_eq!(after, 4, "only the private copy stays resident");
        // SAFETY: the mapping is `len` readable bytes.
        let mapped = unsafe { std::slice::from_raw_parts(bytes, len) };
        assert_eq!(mapped[2 * PAGE], 7, "the private copy keeps its write");
        assert!(mapped.iter().filter(|b| **b != 1).count() == 1);
        // SAFETY: unmapping our own mapping; `mapped` is not used after.
        unsafe { libc::munmap(address, len) };
    }

    #[test]
    fn runs_skip_private_copies_and_swapped_pages() {
        use procfs::process::{MemoryPageFlags, PageInfo, SwapPageFlags};
        let file = PageInfo::MemoryPage(MemoryPageFlags::PRESENT | MemoryPageFlags::FILE);
        let unmapped = PageInfo::MemoryPage(MemoryPageFlags::empty());
        let copy = PageInfo::MemoryPage(MemoryPageFlags::PRESENT);
        let swapped = PageInfo::SwapPage(SwapPageFlags::SWAP);
        let pages = [copy, file, unmapped, copy, swapped, file, file];
        let runs: Vec<_> = super::file_page_runs(&pages).collect();
        assert_eq!(runs, vec![1..3, 5..7]);
        assert_eq!(super::file_page_runs(&[copy, swapped]).count(), 0);
    }
}
