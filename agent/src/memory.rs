//! Process-wide memory tuning for the agent binary: the allocator and the
//! async runtime.

/// Limits glibc's malloc to one arena. By default glibc gives busy threads
/// their own arenas (up to 8 per core), each keeping freed scrape buffers
/// around; one arena cut the steady-state RSS by about 5 MiB in the
/// `steady_state` bench at no measurable CPU cost, since the agent's
/// threads mostly wait. Call once, first thing, from the binary; a no-op
/// on other C libraries.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
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
