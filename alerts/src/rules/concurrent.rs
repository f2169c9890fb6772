//! Runs the evaluations of a group's independent rules on several threads
//! at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// As large as the main thread's: a query's evaluation recurses once per
/// level of its expression.
const STACK_BYTES: usize = 8 << 20;

/// Runs `run` on every job, on up to `workers` threads, the calling one
/// among them; each thread takes the next job not yet taken, so that jobs
/// given costliest first spread evenly. Returns the results in the order
/// of `jobs`. `run` should not panic: the jobs of a thread that panicked
/// have no result (`None`). When no thread can be started, the calling
/// one runs every job.
pub(super) fn run_all<J: Sync, T: Send>(
    jobs: &[J],
    workers: usize,
    run: impl Fn(&J) -> T + Sync,
) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(index) else {
                return done;
            };
            done.push((index, run(job)));
        }
    };
    let mut results: Vec<Option<T>> = jobs.iter().map(|_| None).collect();
    thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers.min(jobs.len()))
            .map_while(|_| {
                thread::Builder::new()
                    .name("rule-eval".into())
                    .stack_size(STACK_BYTES)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let finished = helpers.into_iter().map(|helper| helper.join());
        for (index, result) in std::iter::once(own).chain(finished).flatten().flatten() {
            results[index] = Some(result);
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn every_job_runs_once_and_results_keep_the_jobs_order() {
        let threads = Mutex::new(HashSet::new());
        let jobs: Vec<u64> = (0..200).collect();
        let results = run_all(&jobs, 3, |&job| {
            if let Ok(mut seen) = threads.lock() {
                seen.insert(thread::current().id());
            }
            // Long enough that no one thread takes every job.
            thread::sleep(std::time::Duration::from_micros(200));
            job * 2
        });
        let expected: Vec<Option<u64>> = jobs.iter().map(|j| Some(j * 2)).collect();
        assert_eq!(results, expected);
        let threads = threads.into_inner().map(|s| s.len()).unwrap_or(0);
        assert!((2..=3).contains(&threads), "{threads} threads ran jobs");
    }

    #[test]
    fn one_worker_runs_every_job_on_the_calling_thread() {
        let caller = thread::current().id();
        let results = run_all(&[1, 2, 3], 1, |&job| (job, thread::current().id()));
        assert_eq!(
            results,
            vec![Some((1, caller)), Some((2, caller)), Some((3, caller))]
        );
        assert!(run_all(&[] as &[u8], 4, |&j| j).is_empty());
    }

    #[test]
    fn the_jobs_a_panicking_thread_took_have_no_result_and_the_rest_do() {
        let jobs: Vec<u32> = (0..50).collect();
        let results = run_all(&jobs, 2, |&job| {
            assert_ne!(job, 7, "job 7 fails");
            job
        });
        assert_eq!(results.len(), 50);
        assert!(results[7].is_none());
        let with_results = results.iter().flatten().count();
        assert!((1..50).contains(&with_results), "{with_results}");
    }
}
