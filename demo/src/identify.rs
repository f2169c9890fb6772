//! Discord's identify rate limit: a bot identifies at most
//! `max_concurrency` (here 1) shard per 5 s, and has a budget of 1000
//! identifies per 24 h. Shards that need to identify wait in a queue.

use std::collections::VecDeque;

use crate::clock::SimMillis;

/// Simulated time between two identifies.
pub const IDENTIFY_INTERVAL_MS: SimMillis = 5_000;
/// Identifies allowed per budget window (`session_start_limit.total`).
pub const IDENTIFY_BUDGET: u32 = 1_000;
/// How long a budget window lasts, simulated.
const BUDGET_WINDOW_MS: SimMillis = 24 * 60 * 60 * 1_000;

#[derive(Debug, Clone)]
pub struct IdentifyQueue {
    waiting: VecDeque<u32>,
    next_slot: SimMillis,
    remaining: u32,
    window_ends: SimMillis,
}

impl IdentifyQueue {
    /// A queue whose budget already paid for `spent` identifies (the shards
    /// that were up when the node started).
    pub fn new(spent: u32) -> Self {
        Self {
            waiting: VecDeque::new(),
            next_slot: 0,
            remaining: IDENTIFY_BUDGET.saturating_sub(spent),
            window_ends: BUDGET_WINDOW_MS,
        }
    }

    pub fn enqueue(&mut self, shard: u32) {
        if !self.waiting.contains(&shard) {
            self.waiting.push_back(shard);
        }
    }

    /// Takes a shard out of the queue (it will not identify).
    pub fn remove(&mut self, shard: u32) {
        self.waiting.retain(|&queued| queued != shard);
    }

    pub fn is_queued(&self, shard: u32) -> bool {
        self.waiting.contains(&shard)
    }

    pub fn queued(&self) -> impl Iterator<Item = u32> + '_ {
        self.waiting.iter().copied()
    }

    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Simulated time at which the next identify may start.
    pub fn next_slot(&self) -> SimMillis {
        self.next_slot
    }

    /// The shard allowed to identify at `now`, if any: the first in line,
    /// once 5 s have passed since the previous identify and while budget is left.
    pub fn poll(&mut self, now: SimMillis) -> Option<u32> {
        if now >= self.window_ends {
            self.remaining = IDENTIFY_BUDGET;
            self.window_ends = now + BUDGET_WINDOW_MS;
        }
        if now < self.next_slot || self.remaining == 0 {
            return None;
        }
        let shard = self.waiting.pop_front()?;
        self.next_slot = now + IDENTIFY_INTERVAL_MS;
        self.remaining -= 1;
        Some(shard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_are_paced_five_seconds_apart_in_queue_order() {
        let mut queue = IdentifyQueue::new(0);
        queue.enqueue(3);
        queue.enqueue(1);
        queue.enqueue(3);
        assert_eq!(queue.poll(0), Some(3));
        assert_eq!(queue.poll(4_999), None);
        assert_eq!(queue.poll(5_000), Some(1));
        assert_eq!(queue.poll(20_000), None);
        assert_eq!(queue.remaining(), IDENTIFY_BUDGET - 2);
    }

    #[test]
    fn an_empty_budget_holds_the_queue_until_the_window_ends() {
        let mut queue = IdentifyQueue::new(IDENTIFY_BUDGET);
        queue.enqueue(0);
        assert_eq!(queue.poll(10_000), None);
        assert_eq!(queue.poll(BUDGET_WINDOW_MS), Some(0));
        assert_eq!(queue.remaining(), IDENTIFY_BUDGET - 1);
    }
}
