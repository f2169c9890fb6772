//! Gives back the pages of code and constants the agent no longer uses
//! once it is up.
//!
//! Release builds link the functions the agent runs after start-up first,
//! up to the symbol `__opsdeck_hot_text_end` (`layout/hot-text.ld`, made
//! by `scripts/code-layout`); every other function comes after it. Those
//! that only start-up runs (config, database, rule parsing, the first
//! scrape's new series) are about as much code again as the hot block, and
//! once the agent is up they are dead weight in its resident memory: like
//! a kernel's init sections, everything after the hot block is released.
//!
//! So is the code of the shared libraries (libc, libm, the dynamic loader,
//! libgcc): the kernel maps a file's code 64 KiB or a page-cache folio at
//! a time around each page touched, so the few functions the agent calls
//! after start-up kept about 1.5 MiB of those libraries resident, most of
//! it touched only while starting. And so are the read-only data of the
//! executable and of the libraries (constants, tables, unwinding data),
//! which start-up reads all over: the executable's is also dropped from
//! the page cache, so that what the agent reads again comes back a page at
//! a time (the executable's data with pointers in it too, since release
//! builds are not position-independent: see `build.rs`). Whatever of any
//! released page is used again, the kernel reads back in.

use std::time::Duration;

/// Long enough after the agent starts listening for every target's first
/// scrape and the rules' first evaluation to be done: what start-up still
/// runs after the release is read back in, costing page faults, not
/// correctness.
pub const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// Releases the idle code's pages; on systems other than Linux, nothing.
pub fn release() {
    #[cfg(target_os = "linux")]
    match opsdeck_agent::memory::release_mapped_file_pages(hot_code_end()) {
        Ok(bytes) => tracing::debug!(bytes, "released the idle code's pages"),
        Err(err) => tracing::debug!(%err, "cannot release the idle code's pages"),
    }
}

/// Where the agent's own hot code ends. `None` in builds linked without
/// the layout (debug builds, `OPSDECK_CODE_LAYOUT=0`), whose hot code is
/// spread over the whole executable, which is then left as it is.
#[cfg(target_os = "linux")]
fn hot_code_end() -> Option<usize> {
    #[cfg(opsdeck_hot_text)]
    {
        unsafe extern "C" {
            static __opsdeck_hot_text_end: u8;
        }
        // Only the symbol's address is taken; the bytes are code.
        Some(std::ptr::addr_of!(__opsdeck_hot_text_end) as usize)
    }
    #[cfg(not(opsdeck_hot_text))]
    None
}
