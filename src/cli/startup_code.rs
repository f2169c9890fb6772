//! Gives back the pages of code that only the agent's start-up runs.
//!
//! Release builds link the functions the agent runs after start-up first
//! and those only its start-up runs (config, database, rule parsing, the
//! first scrape's new series) right after them, between the symbols
//! `__opsdeck_startup_text_start` and `_end` (`layout/hot-text.ld`, made by
//! `scripts/code-layout`). Once the agent is up those pages are dead
//! weight in its resident memory, about 1.5 MiB; like a kernel's init
//! sections they are released. Should such code run again (a series
//! created later, a reload), the kernel reads its pages back in.

use std::time::Duration;

/// Long enough after the agent starts listening for every target's first
/// scrape and the rules' first evaluation to be done: what start-up still
/// runs after the release is read back in, costing page faults, not
/// correctness.
pub const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// Releases the start-up code's pages; a no-op in builds linked without
/// the layout (debug builds, `OPSDECK_CODE_LAYOUT=0`, other systems).
pub fn release() {
    #[cfg(all(opsdeck_startup_text, target_os = "linux"))]
    {
        unsafe extern "C" {
            static __opsdeck_startup_text_start: u8;
            static __opsdeck_startup_text_end: u8;
        }
        // Only the symbols' addresses are taken; the bytes are code.
        let start = std::ptr::addr_of!(__opsdeck_startup_text_start) as usize;
        let end = std::ptr::addr_of!(__opsdeck_startup_text_end) as usize;
        // SAFETY: the linker script puts both symbols inside .text, which
        // is mapped read-only from the executable.
        match unsafe { opsdeck_agent::memory::release_file_pages(start, end) } {
            Ok(bytes) => tracing::debug!(bytes, "released the start-up code's pages"),
            Err(err) => tracing::debug!(%err, "cannot release the start-up code's pages"),
        }
    }
}
