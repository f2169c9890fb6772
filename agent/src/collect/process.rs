//! The application process, found by pid, pidfile or name, with its
//! descendants (PM2 workers, shard processes): CPU %, RSS, virtual memory,
//! threads, open fds, start time, and the restarts the agent has seen
//! (kept in the database, so they count across agent restarts too).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck_metrics::{Labels, METRIC_NAME};
use tokio_util::sync::CancellationToken;

use super::procfs::{self, ProcStat, SystemClock};
use super::{every, now_ms};
use crate::api::ProcessStats;
use crate::config::ProcessConfig;
use crate::persist;
use crate::state::AgentState;

const SOURCE: &str = "process";
const META_ROOT_PID: &str = "process.root_pid";
const META_ROOT_START: &str = "process.root_start_ticks";
const META_RESTARTS: &str = "process.restarts_seen";

#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error("pidfile {}: {message}", path.display())]
    Pidfile { path: PathBuf, message: String },
    #[error("no process with pid {0}")]
    NoPid(u32),
    #[error("no process named {0:?}")]
    NoName(String),
    #[error("cannot read the system clock from /proc")]
    Clock,
}

/// The root process as last seen: a different pid or start time is a restart.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RootIdentity {
    pid: u32,
    start_ticks: u64,
}

pub(crate) struct ProcessCollector {
    config: ProcessConfig,
    state: Arc<AgentState>,
    db: Arc<persist::Store>,
    proc_root: PathBuf,
    /// Per pid: start ticks and CPU ticks at the last reading.
    previous: HashMap<u32, (u64, u64)>,
    previous_at: Option<Instant>,
    /// CPU seconds of the tree since the agent started: a counter that
    /// does not drop when a child exits.
    cpu_seconds_total: f64,
    root: Option<RootIdentity>,
    restarts_seen: u64,
}

fn describe(config: &ProcessConfig) -> String {
    match (&config.pid, &config.pidfile, &config.name) {
        (Some(pid), _, _) => format!("proc:pid={pid}"),
        (_, Some(path), _) => format!("proc:pidfile={}", path.display()),
        (_, _, Some(name)) => format!("proc:name={name}"),
        _ => "proc:".into(),
    }
}

impl ProcessCollector {
    pub(crate) fn new(
        config: ProcessConfig,
        state: Arc<AgentState>,
        db: Arc<persist::Store>,
    ) -> Self {
        state.register_source(SOURCE, &describe(&config));
        let meta = |key| db.meta(key).ok().flatten();
        let root = match (meta(META_ROOT_PID), meta(META_ROOT_START)) {
            (Some(pid), Some(start_ticks)) => Some(RootIdentity {
                pid: pid as u32,
                start_ticks,
            }),
            _ => None,
        };
        ProcessCollector {
            restarts_seen: meta(META_RESTARTS).unwrap_or(0),
            config,
            state,
            db,
            proc_root: PathBuf::from("/proc"),
            previous: HashMap::new(),
            previous_at: None,
            cpu_seconds_total: 0.0,
            root,
        }
    }

    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let interval: Duration = self.config.interval;
        every(interval, &cancel, || {
            self.collect_once();
            std::future::ready(())
        })
        .await;
        self.state.store.mark_source_stale(SOURCE, now_ms());
    }

    fn collect_once(&mut self) {
        let started = Instant::now();
        let t = now_ms();
        let result = self.read();
        let duration = started.elapsed().as_secs_f64();
        match result {
            Ok(stats) => {
                self.store(&stats, t);
                *self.state.process.write() = Some(stats);
                self.state.record_scrape(SOURCE, t, duration, Ok(1));
            }
            Err(err) => {
                tracing::warn!(error = %err, "process collection failed");
                self.state.store.mark_source_stale(SOURCE, t);
                *self.state.process.write() = None;
                self.previous.clear();
                self.state
                    .record_scrape(SOURCE, t, duration, Err(err.to_string()));
            }
        }
    }

    fn root_pid(&self) -> Result<u32, ProcessError> {
        if let Some(pid) = self.config.pid {
            return procfs::read_stat(&self.proc_root, pid)
                .map(|_| pid)
                .ok_or(ProcessError::NoPid(pid));
        }
        if let Some(path) = &self.config.pidfile {
            let pidfile_error = |message: String| ProcessError::Pidfile {
                path: path.clone(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| pidfile_error(e.to_string()))?;
            let pid: u32 = text
                .trim()
                .parse()
                .map_err(|_| pidfile_error(format!("{:?} is not a pid", text.trim())))?;
            return procfs::read_stat(&self.proc_root, pid)
                .map(|_| pid)
                .ok_or(ProcessError::NoPid(pid));
        }
        let name = self.config.name.clone().unwrap_or_default();
        // The oldest matching process whose parent does not match: the
        // tree's root, not one of its workers.
        let mut candidates: Vec<ProcStat> = procfs::all_pids(&self.proc_root)
            .into_iter()
            .filter(|pid| procfs::has_name(&self.proc_root, *pid, &name))
            .filter_map(|pid| procfs::read_stat(&self.proc_root, pid))
            .collect();
        let pids: Vec<u32> = candidates.iter().map(|s| s.pid).collect();
        candidates.retain(|s| !pids.contains(&s.ppid));
        candidates
            .iter()
            .min_by_key(|s| (s.start_ticks, s.pid))
            .map(|s| s.pid)
            .ok_or(ProcessError::NoName(name))
    }

    /// The root and, when configured, all its descendants: followed down
    /// from the root through the kernel's lists of children, which reads a
    /// few files per process of the tree instead of every process's.
    fn tree(&self, root: ProcStat) -> Vec<ProcStat> {
        if !self.config.children {
            return vec![root];
        }
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            let Some(kids) = procfs::children(&self.proc_root, tree[i].pid) else {
                // No children files: the root has them if the kernel does,
                // so this is the root, or a child that exited meanwhile.
                if i == 0 {
                    return self.tree_by_scan(root);
                }
                i += 1;
                continue;
            };
            tree.extend(
                kids.into_iter()
                    .filter_map(|pid| procfs::read_stat(&self.proc_root, pid)),
            );
            i += 1;
        }
        tree
    }

    /// [`ProcessCollector::tree`] from a scan of every process's parent.
    fn tree_by_scan(&self, root: ProcStat) -> Vec<ProcStat> {
        let all: Vec<ProcStat> = procfs::all_pids(&self.proc_root)
            .into_iter()
            .filter_map(|pid| procfs::read_stat(&self.proc_root, pid))
            .collect();
        let mut children: BTreeMap<u32, Vec<ProcStat>> = BTreeMap::new();
        for stat in &all {
            children.entry(stat.ppid).or_default().push(*stat);
        }
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            if let Some(kids) = children.get(&tree[i].pid) {
                tree.extend(kids.iter().copied());
            }
            i += 1;
        }
        tree
    }

    fn read(&mut self) -> Result<ProcessStats, ProcessError> {
        let clock = SystemClock::read(&self.proc_root).ok_or(ProcessError::Clock)?;
        let root_pid = self.root_pid()?;
        let root =
            procfs::read_stat(&self.proc_root, root_pid).ok_or(ProcessError::NoPid(root_pid))?;
        self.note_root(RootIdentity {
            pid: root.pid,
            start_ticks: root.start_ticks,
        });
        let tree = self.tree(root);

        let now = Instant::now();
        let mut delta_ticks = 0u64;
        for stat in &tree {
            if let Some((start, ticks)) = self.previous.get(&stat.pid) {
                if *start == stat.start_ticks {
                    delta_ticks += stat.cpu_ticks.saturating_sub(*ticks);
                }
            }
        }
        let cpu_percent = self.previous_at.map(|at| {
            let elapsed = now.duration_since(at).as_secs_f64().max(0.001);
            delta_ticks as f64 / clock.ticks_per_second / elapsed * 100.0
        });
        self.cpu_seconds_total += delta_ticks as f64 / clock.ticks_per_second;
        self.previous = tree
            .iter()
            .map(|s| (s.pid, (s.start_ticks, s.cpu_ticks)))
            .collect();
        self.previous_at = Some(now);

        let fds: Vec<Option<u64>> = tree
            .iter()
            .map(|s| procfs::count_fds(&self.proc_root, s.pid))
            .collect();
        Ok(ProcessStats {
            pids: tree.iter().map(|s| s.pid).collect(),
            cpu_percent,
            rss_bytes: Some(tree.iter().map(|s| s.rss_pages * clock.page_size).sum()),
            virtual_bytes: Some(tree.iter().map(|s| s.virtual_bytes).sum()),
            threads: Some(tree.iter().map(|s| s.threads).sum()),
            open_fds: fds.iter().copied().sum(),
            start_time_ms: Some(clock.start_time_ms(root.start_ticks)),
            restarts_seen: self.restarts_seen,
            heap_used_bytes: None,
            heap_total_bytes: None,
            heap_limit_bytes: None,
            gc_seconds_per_second: None,
            event_loop_lag_seconds: None,
        })
    }

    /// Counts a restart when the root is not the one seen last, and
    /// remembers the root in the database.
    fn note_root(&mut self, identity: RootIdentity) {
        if self.root == Some(identity) {
            return;
        }
        if self.root.is_some() {
            self.restarts_seen += 1;
            tracing::info!(
                pid = identity.pid,
                restarts = self.restarts_seen,
                "application process restarted"
            );
        }
        self.root = Some(identity);
        let saved = self.db.set_meta(&[
            (META_ROOT_PID, u64::from(identity.pid)),
            (META_ROOT_START, identity.start_ticks),
            (META_RESTARTS, self.restarts_seen),
        ]);
        if let Err(err) = saved {
            tracing::warn!(%err, "cannot record the application process");
        }
    }

    fn store(&self, stats: &ProcessStats, t: i64) {
        let series = |name: &str| {
            let mut labels = Labels::new();
            labels.set(METRIC_NAME, name);
            labels
        };
        let mut samples = vec![
            (
                series("opsdeck_process_cpu_seconds_total"),
                self.cpu_seconds_total,
            ),
            (series("opsdeck_process_count"), stats.pids.len() as f64),
            (
                series("opsdeck_process_restarts_seen_total"),
                stats.restarts_seen as f64,
            ),
        ];
        let optional = [
            ("opsdeck_process_resident_memory_bytes", stats.rss_bytes),
            ("opsdeck_process_virtual_memory_bytes", stats.virtual_bytes),
            ("opsdeck_process_threads", stats.threads),
            ("opsdeck_process_open_fds", stats.open_fds),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                samples.push((series(name), v as f64));
            }
        }
        if let Some(start) = stats.start_time_ms {
            samples.push((
                series("opsdeck_process_start_time_seconds"),
                start as f64 / 1000.0,
            ));
        }
        self.state.store.ingest_scrape(SOURCE, t, samples);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn collector(config: ProcessConfig, dir: &Path) -> ProcessCollector {
        let db = Arc::new(persist::Store::open(dir).unwrap());
        let rules = opsdeck_alerts::Evaluator::new(Default::default());
        let notifier =
            opsdeck_alerts::notify::Notifier::start(&Default::default(), db.shared()).unwrap();
        let state = Arc::new(AgentState::new(Arc::default(), rules, notifier));
        ProcessCollector::new(config, state, db)
    }

    #[test]
    fn reads_this_test_process_and_counts_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProcessConfig {
            pid: Some(std::process::id()),
            pidfile: None,
            name: None,
            children: true,
            interval: Duration::from_secs(1),
        };
        let mut c = collector(config, dir.path());
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let stats = c.read();
        let _ = child.kill();
        let _ = child.wait();
        let stats = stats.unwrap();
        assert!(stats.pids.contains(&std::process::id()));
        assert!(stats.pids.contains(&child.id()), "children are in the tree");
        assert!(stats.rss_bytes.unwrap() > 0);
        assert!(stats.threads.unwrap() >= 1);
        assert_eq!(stats.restarts_seen, 0);
        // Another root (as after a restart) is counted and persisted.
        c.note_root(RootIdentity {
            pid: 1,
            start_ticks: 0,
        });
        assert_eq!(c.restarts_seen, 1);
        assert_eq!(c.db.meta(META_RESTARTS).unwrap(), Some(1));
    }

    #[test]
    fn missing_pidfile_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProcessConfig {
            pid: None,
            pidfile: Some(dir.path().join("app.pid")),
            name: None,
            children: true,
            interval: Duration::from_secs(1),
        };
        let mut c = collector(config, dir.path());
        let err = c.read().unwrap_err().to_string();
        assert!(err.contains("app.pid"), "{err}");
    }
}
