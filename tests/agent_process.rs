//! The process collector against real processes: a parent with children
//! found through a pidfile, its numbers from /proc, and a restart (a new
//! pid in the pidfile) counted once. Linux only.
#![cfg(target_os = "linux")]

mod agent_support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use agent_support::Agent;

/// Kills the whole process group (the shell and its children) on drop.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// A shell with two sleeping children, like a manager with workers.
fn app() -> KillOnDrop {
    KillOnDrop(
        Command::new("sh")
            .args(["-c", "sleep 120 & sleep 120 & wait"])
            .process_group(0)
            .spawn()
            .expect("start sh"),
    )
}

#[test]
fn pidfile_process_tree_and_restarts() {
    let first = app();
    let dir = tempfile::tempdir().expect("temp dir");
    let pidfile = dir.path().join("app.pid");
    std::fs::write(&pidfile, format!("{}\n", first.0.id())).expect("pidfile");
    let agent = Agent::start(&format!(
        "interval: 200ms\nhost:\n  enabled: false\nprocess:\n  pidfile: {}\n  interval: 300ms\n",
        pidfile.display()
    ));
    let snapshot = agent.snapshot_where("process tree with children", |s| {
        s.process.as_ref().is_some_and(|p| p.pids.len() == 3)
    });
    let process = snapshot.process.expect("process");
    assert_eq!(process.pids[0], first.0.id());
    assert!(process.rss_bytes.unwrap_or(0) > 0);
    assert!(process.threads.unwrap_or(0) >= 3);
    assert!(process.open_fds.is_some());
    assert!(process.start_time_ms.is_some());
    assert_eq!(process.restarts_seen, 0);
    assert_eq!(agent.query("opsdeck_process_count")[0].1, 3.0);

    // The app restarts: a new process writes its pid.
    drop(first);
    let second = app();
    std::fs::write(&pidfile, format!("{}\n", second.0.id())).expect("pidfile");
    let snapshot = agent.snapshot_where("restart seen", |s| {
        s.process.as_ref().is_some_and(|p| p.restarts_seen == 1)
    });
    assert_eq!(snapshot.process.expect("process").pids[0], second.0.id());

    // Gone: reported as the `process` source, not a crash.
    drop(second);
    let snapshot = agent.snapshot_where("process reported missing", |s| {
        s.targets
            .iter()
            .any(|t| t.name == "process" && !t.up && t.last_error.is_some())
    });
    let error = snapshot
        .targets
        .iter()
        .find(|t| t.name == "process")
        .and_then(|t| t.last_error.clone())
        .unwrap_or_default();
    assert!(error.contains("no process with pid"), "{error}");
    assert_eq!(agent.get("/healthz").status(), 200);
}
