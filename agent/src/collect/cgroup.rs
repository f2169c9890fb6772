//! The agent's own cgroup limits, v2 or v1, read from the files the
//! kernel exposes (sysinfo gives memory limits only, and no CPU quota; see
//! FIELD-NOTES "Host and process"). In a container these are the node's
//! real totals.

use std::path::{Path, PathBuf};

/// Where the cgroup's files are and which version it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cgroup {
    V2 {
        dir: PathBuf,
    },
    V1 {
        cpu: Option<PathBuf>,
        memory: Option<PathBuf>,
    },
}

/// One reading of the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CgroupReading {
    /// CPU quota in cores (`cpu.max` or the CFS quota over the period).
    pub cpu_limit_cores: Option<f64>,
    /// CPU time used by the cgroup so far, seconds.
    pub cpu_usage_seconds: Option<f64>,
    pub memory_limit_bytes: Option<u64>,
    /// Working set: usage minus inactive file cache, as the kubelet counts.
    pub memory_used_bytes: Option<u64>,
}

/// Limits at or above this are "no limit" (cgroup v1 writes a huge number).
const UNLIMITED: u64 = 1 << 60;

impl Cgroup {
    /// Finds this process's cgroup under `root` (normally `/sys/fs/cgroup`)
    /// from the text of `/proc/self/cgroup`.
    pub(crate) fn detect(root: &Path, proc_self_cgroup: &str) -> Option<Cgroup> {
        let mut v1_cpu = None;
        let mut v1_memory = None;
        for line in proc_self_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let relative = path.trim_start_matches('/');
            if id == "0" && controllers.is_empty() {
                // With a cgroup namespace the path is "/" and the files sit at the root.
                let dir = [root.join(relative), root.to_path_buf()]
                    .into_iter()
                    .find(|d| d.join("cgroup.controllers").exists())?;
                return Some(Cgroup::V2 { dir });
            }
            let pick = |name: &str| {
                [root.join(name).join(relative), root.join(name)]
                    .into_iter()
                    .find(|d| d.is_dir())
            };
            for controller in controllers.split(',') {
                match controller {
                    "cpu" => v1_cpu = pick(controllers).or_else(|| pick("cpu")),
                    "memory" => v1_memory = pick("memory"),
                    _ => {}
                }
            }
        }
        (v1_cpu.is_some() || v1_memory.is_some()).then_some(Cgroup::V1 {
            cpu: v1_cpu,
            memory: v1_memory,
        })
    }

    pub(crate) fn read(&self) -> CgroupReading {
        match self {
            Cgroup::V2 { dir } => read_v2(dir),
            Cgroup::V1 { cpu, memory } => read_v1(cpu.as_deref(), memory.as_deref()),
        }
    }
}

fn read_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_u64(path: &Path) -> Option<u64> {
    read_file(path)?.trim().parse().ok()
}

/// `key value` lines, as in `cpu.stat` and `memory.stat`.
fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn read_v2(dir: &Path) -> CgroupReading {
    let cpu_limit_cores = read_file(&dir.join("cpu.max")).and_then(|text| {
        let mut parts = text.split_whitespace();
        let quota = parts.next()?;
        let period: f64 = parts.next()?.parse().ok()?;
        let quota: f64 = quota.parse().ok()?; // "max" does not parse: no limit
        (period > 0.0).then_some(quota / period)
    });
    let cpu_usage_seconds = read_file(&dir.join("cpu.stat"))
        .and_then(|text| stat_value(&text, "usage_usec"))
        .map(|usec| usec as f64 / 1e6);
    let memory_limit_bytes = read_u64(&dir.join("memory.max")).filter(|l| *l < UNLIMITED);
    let inactive = read_file(&dir.join("memory.stat"))
        .and_then(|text| stat_value(&text, "inactive_file"))
        .unwrap_or(0);
    let memory_used_bytes =
        read_u64(&dir.join("memory.current")).map(|u| u.saturating_sub(inactive));
    CgroupReading {
        cpu_limit_cores,
        cpu_usage_seconds,
        memory_limit_bytes,
        memory_used_bytes,
    }
}

fn read_v1(cpu: Option<&Path>, memory: Option<&Path>) -> CgroupReading {
    let mut reading = CgroupReading::default();
    if let Some(cpu) = cpu {
        let quota =
            read_file(&cpu.join("cpu.cfs_quota_us")).and_then(|t| t.trim().parse::<i64>().ok());
        let period = read_u64(&cpu.join("cpu.cfs_period_us"));
        reading.cpu_limit_cores = match (quota, period) {
            (Some(q), Some(p)) if q > 0 && p > 0 => Some(q as f64 / p as f64),
            _ => None,
        };
        reading.cpu_usage_seconds = read_u64(&cpu.join("cpuacct.usage")).map(|ns| ns as f64 / 1e9);
    }
    if let Some(memory) = memory {
        reading.memory_limit_bytes =
            read_u64(&memory.join("memory.limit_in_bytes")).filter(|l| *l < UNLIMITED);
        let inactive = read_file(&memory.join("memory.stat"))
            .and_then(|text| stat_value(&text, "total_inactive_file"))
            .unwrap_or(0);
        reading.memory_used_bytes =
            read_u64(&memory.join("memory.usage_in_bytes")).map(|u| u.saturating_sub(inactive));
    }
    reading
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn v2_limits_and_working_set() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kubepods/pod1");
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "cgroup.controllers", "cpu memory");
        write(&dir, "cpu.max", "150000 100000\n");
        write(&dir, "cpu.stat", "usage_usec 2500000\nuser_usec 1\n");
        write(&dir, "memory.max", "536870912\n");
        write(&dir, "memory.current", "300000000\n");
        write(&dir, "memory.stat", "anon 1\ninactive_file 100000000\n");
        let cgroup = Cgroup::detect(root.path(), "0::/kubepods/pod1\n").unwrap();
        let reading = cgroup.read();
        assert_eq!(reading.cpu_limit_cores, Some(1.5));
        assert_eq!(reading.cpu_usage_seconds, Some(2.5));
        assert_eq!(reading.memory_limit_bytes, Some(536_870_912));
        assert_eq!(reading.memory_used_bytes, Some(200_000_000));
    }

    #[test]
    fn v2_without_limits_reads_as_none() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "cgroup.controllers", "cpu memory");
        write(root.path(), "cpu.max", "max 100000\n");
        write(root.path(), "memory.max", "max\n");
        let reading = Cgroup::detect(root.path(), "0::/\n").unwrap().read();
        assert_eq!(reading.cpu_limit_cores, None);
        assert_eq!(reading.memory_limit_bytes, None);
    }

    #[test]
    fn v1_quota_and_unlimited_memory() {
        let root = tempfile::tempdir().unwrap();
        let cpu = root.path().join("cpu,cpuacct");
        let memory = root.path().join("memory");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::create_dir_all(&memory).unwrap();
        write(&cpu, "cpu.cfs_quota_us", "50000\n");
        write(&cpu, "cpu.cfs_period_us", "100000\n");
        write(&memory, "memory.limit_in_bytes", "9223372036854771712\n");
        let cgroup = Cgroup::detect(root.path(), "4:memory:/\n3:cpu,cpuacct:/\n").unwrap();
        let reading = cgroup.read();
        assert_eq!(reading.cpu_limit_cores, Some(0.5));
        assert_eq!(reading.memory_limit_bytes, None);
    }
}
