//! Gives back the pages of code the agent no longer runs once it is up.
//!
//! Release builds link the functions the agent runs after start-up first
//! and those only its start-up runs (config, database, rule parsing, the
//! first scrape's new series) right after them, between the symbols
//! `__opsdeck_startup_text_start` and `_end` (`layout/hot-text.ld`, made by
//! `scripts/code-layout`); every other function comes after those. Once
//! the agent is up, everything from the start-up block on is dead weight
//! in its resident memory; like a kernel's init sections it is released.
//!
//! So is the code of the shared libraries (libc, libm, the dynamic loader,
//! libgcc): the kernel maps a file's code 64 KiB or a page-cache folio at
//! a time around each page touched, so the few functions the agent calls
//! after start-up kept about 1.5 MiB of those libraries resident, most of
//! it touched only while starting. Whatever of any released code runs
//! again, the kernel reads back in, from the page cache or the file.

use std::time::Duration;

/// Long enough after the agent starts listening for every target's first
/// scrape and the rules' first evaluation to be done: what start-up still
/// runs after the release is read back in, costing page faults, not
/// correctness.
pub const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// Releases the idle code's pages; on systems other than Linux, nothing.
pub fn release() {
    #[cfg(target_os = "linux")]
    match opsdeck_agent::memory::release_idle_code(hot_code_end()) {
        Ok(bytes) => tracing::debug!(bytes, "released the idle code's pages"),
        Err(err) => tracing::debug!(%err, "cannot release the idle code's pages"),
    }
}

/// The agent's own hot code: the start of the executable's code up to the
/// start-up block. `None` in builds linked without the layout (debug
/// builds, `OPSDECK_CODE_LAYOUT=0`), whose hot code is spread over the
/// whole executable, which is then left as it is.
#[cfg(target_os = "linux")]
fn hot_code_end() -> Option<usize> {
    #[cfg(opsdeck_startup_text)]
    {
        unsafe extern "C" {
            static __opsdeck_startup_text_start: u8;
        }
        // Only the symbol's address is taken; the bytes are code.
        Some(std::ptr::addr_of!(__opsdeck_startup_text_start) as usize)
    }
    #[cfg(not(opsdeck_startup_text))]
    None
}
