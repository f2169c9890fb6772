//! Scrape timestamps aligned to the scrape schedule, as Prometheus aligns
//! them (`--scrape.timestamp-tolerance`, prometheus#7846). The store
//! encodes a timestamp as the change in its distance from the previous
//! one: samples exactly one interval apart cost one bit, while the
//! millisecond or two by which a timer fires late costs about nine. At a
//! 1 s interval that jitter alone made timestamps most of the store's
//! memory.

use std::time::Duration;

/// The most a timestamp is moved to land on the schedule.
const MAX_TOLERANCE_MS: i64 = 5;

pub(super) struct ScrapeTimestamps {
    interval_ms: i64,
    /// 1 % of the interval, at most [`MAX_TOLERANCE_MS`]: a query cannot
    /// tell a sample moved by that little.
    tolerance_ms: i64,
    /// The scheduled time of the latest scrape.
    scheduled: Option<i64>,
}

impl ScrapeTimestamps {
    pub(super) fn new(interval: Duration) -> Self {
        let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        ScrapeTimestamps {
            interval_ms,
            tolerance_ms: (interval_ms / 100).min(MAX_TOLERANCE_MS),
            scheduled: None,
        }
    }

    /// The timestamp for a scrape starting at `now` (Unix ms): the
    /// scheduled time when `now` is within the tolerance of it. A scrape
    /// far off the schedule (a skipped tick, a slow scrape, the clock
    /// stepped) starts a new schedule at `now`.
    pub(super) fn stamp(&mut self, now: i64) -> i64 {
        let on_schedule = self.scheduled.and_then(|previous| {
            // Ticks skipped since the previous scrape still count.
            let elapsed = now.checked_sub(previous)?;
            let intervals = (elapsed + self.tolerance_ms) / self.interval_ms;
            let due = previous.checked_add(intervals.checked_mul(self.interval_ms)?)?;
            (intervals > 0 && (now - due).abs() <= self.tolerance_ms).then_some(due)
        });
        let t = on_schedule.unwrap_or(now);
        self.scheduled = Some(t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_within_tolerance_lands_on_the_schedule() {
        let mut stamps = ScrapeTimestamps::new(Duration::from_secs(1));
        assert_eq!(
            stamps.stamp(10_003),
            10_003,
            "the first scrape sets the schedule"
        );
        assert_eq!(stamps.stamp(11_005), 11_003);
        assert_eq!(stamps.stamp(11_999), 12_003, "early by 4 ms");
        assert_eq!(stamps.stamp(15_004), 15_003, "two ticks were skipped");
    }

    #[test]
    fn far_off_the_schedule_starts_a_new_one() {
        let mut stamps = ScrapeTimestamps::new(Duration::from_secs(1));
        stamps.stamp(10_000);
        assert_eq!(stamps.stamp(11_200), 11_200);
        assert_eq!(stamps.stamp(12_201), 12_200);
        assert_eq!(stamps.stamp(9_000), 9_000, "the clock stepped back");
        assert_eq!(stamps.stamp(9_000), 9_000, "no interval has passed");
    }

    #[test]
    fn short_intervals_get_a_proportional_tolerance() {
        let mut stamps = ScrapeTimestamps::new(Duration::from_millis(100));
        stamps.stamp(1_000);
        assert_eq!(stamps.stamp(1_101), 1_100);
        assert_eq!(stamps.stamp(1_202), 1_202, "2 ms is over 1 % of 100 ms");
    }
}
