//! Reading processes straight from `/proc`: one `stat` read per process
//! instead of sysinfo's full refresh, which is about 10x slower and has
//! had single-pid bugs (FIELD-NOTES "Host and process"). Linux only.

use std::path::Path;

/// The fields of `/proc/<pid>/stat` the agent uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub threads: u64,
    /// Since boot, in clock ticks.
    pub start_ticks: u64,
    pub virtual_bytes: u64,
    pub rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may itself contain spaces and parentheses, so fields are counted
/// from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcStat {
        pid,
        ppid: field(4)? as u32,
        cpu_ticks: field(14)? + field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        rss_pages: field(24)?,
    })
}

pub(crate) fn read_stat(proc_root: &Path, pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?)
}

/// Open file descriptors; `None` when not permitted (another user's process).
pub(crate) fn count_fds(proc_root: &Path, pid: u32) -> Option<u64> {
    let entries = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")).ok()?;
    Some(entries.count() as u64)
}

/// The children of `pid`, from each of its threads'
/// `/proc/<pid>/task/<tid>/children` (a child belongs to the thread that
/// forked it). `None` when the kernel does not provide these files
/// (built without `CONFIG_PROC_CHILDREN`) or the process is gone; the
/// caller then scans all of `/proc`.
///
/// A thread that exits while its siblings are read takes its file with it:
/// it is skipped rather than the whole list being lost (its children pass
/// to a sibling thread, which the next collection reads).
pub(crate) fn children(proc_root: &Path, pid: u32) -> Option<Vec<u32>> {
    let tasks = std::fs::read_dir(proc_root.join(pid.to_string()).join("task")).ok()?;
    let mut children = Vec::new();
    let mut any_read = false;
    for task in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        any_read = true;
        children.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    any_read.then_some(children)
}

/// Every numeric entry of `/proc`.
pub(crate) fn all_pids(proc_root: &Path) -> Vec<u32> {
    std::fs::read_dir(proc_root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the process is called `name`: its `comm`, or the file name of
/// its first argument (so `node server.js` matches `node`, and a PM2
/// worker whose title is set matches too).
pub(crate) fn has_name(proc_root: &Path, pid: u32, name: &str) -> bool {
    let dir = proc_root.join(pid.to_string());
    if std::fs::read_to_string(dir.join("comm")).is_ok_and(|comm| comm.trim_end() == name) {
        return true;
    }
    std::fs::read(dir.join("cmdline")).is_ok_and(|cmdline| {
        let first = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        let first = String::from_utf8_lossy(first);
        Path::new(first.as_ref())
            .file_name()
            .is_some_and(|f| f.to_string_lossy() == name)
    })
}

/// System constants needed to turn ticks and pages into seconds and bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SystemClock {
    pub ticks_per_second: f64,
    pub page_size: u64,
    /// Unix seconds at boot.
    pub boot_time: u64,
}

impl SystemClock {
    pub(crate) fn read(proc_root: &Path) -> Option<SystemClock> {
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let stat = std::fs::read_to_string(proc_root.join("stat")).ok()?;
        let boot_time = stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        (ticks > 0 && page > 0).then_some(SystemClock {
            ticks_per_second: ticks as f64,
            page_size: page as u64,
            boot_time,
        })
    }

    /// Unix milliseconds at which a process with `start_ticks` started.
    pub(crate) fn start_time_ms(&self, start_ticks: u64) -> i64 {
        ((self.boot_time as f64 + start_ticks as f64 / self.ticks_per_second) * 1000.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "4242 (node (worker) 1) S 4200 4242 4242 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 11 0 98765 1234567 890 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.ppid, 4200);
        assert_eq!(stat.cpu_ticks, 200);
        assert_eq!(stat.threads, 11);
        assert_eq!(stat.start_ticks, 98765);
        assert_eq!(stat.virtual_bytes, 1_234_567);
        assert_eq!(stat.rss_pages, 890);
    }

    #[test]
    fn a_thread_gone_mid_listing_loses_only_its_own_file() {
        let root = tempfile::tempdir().expect("temp dir");
        let tasks = root.path().join("42").join("task");
        for (tid, children) in [("42", Some("7 8")), ("43", None), ("44", Some("9 "))] {
            std::fs::create_dir_all(tasks.join(tid)).expect("task dir");
            if let Some(children) = children {
                std::fs::write(tasks.join(tid).join("children"), children).expect("write");
            }
        }
        let mut listed = children(root.path(), 42).expect("children files exist");
        listed.sort_unstable();
        assert_eq!(listed, vec![7, 8, 9]);

        // No thread has the file: a kernel without CONFIG_PROC_CHILDREN.
        for tid in ["42", "44"] {
            std::fs::remove_file(tasks.join(tid).join("children")).expect("remove");
        }
        assert_eq!(children(root.path(), 42), None);
        assert_eq!(children(root.path(), 41), None, "no such process");
    }

    #[test]
    fn lists_the_children_of_this_process() {
        let proc_root = Path::new("/proc");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let listed = children(proc_root, std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        if Path::new("/proc/self/task")
            .join(std::process::id().to_string())
            .join("children")
            .exists()
        {
            assert!(listed.unwrap().contains(&child.id()));
        } else {
            assert_eq!(listed, None, "a kernel without CONFIG_PROC_CHILDREN");
        }
    }

    #[test]
    fn reads_this_process() {
        let proc_root = Path::new("/proc");
        let me = std::process::id();
        let stat = read_stat(proc_root, me).unwrap();
        assert_eq!(stat.pid, me);
        assert!(stat.threads >= 1);
        assert!(count_fds(proc_root, me).unwrap() >= 3);
        let clock = SystemClock::read(proc_root).unwrap();
        let started = clock.start_time_ms(stat.start_ticks);
        let now = chrono::Utc::now().timestamp_millis();
        assert!(started <= now && started > now - 24 * 3600 * 1000);
    }
}
