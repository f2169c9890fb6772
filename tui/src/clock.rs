//! Wall-clock time in unix milliseconds. Rendering takes "now" as an
//! argument instead of calling this, so snapshots are deterministic.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
