//! The host: CPU (total and per core), load, memory, swap, disk and
//! network rates, from sysinfo; in a cgroup with limits, the limits are
//! the totals. Written to the store as `opsdeck_host_*` and kept as the
//! snapshot's host section.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck_metrics::{Labels, METRIC_NAME};
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};
use tokio_util::sync::CancellationToken;

use super::cgroup::{Cgroup, CgroupReading};
use super::{every, now_ms};
use crate::api::HostStats;
use crate::state::AgentState;

/// The source name the host's series are ingested under.
const SOURCE: &str = "host";

pub(crate) struct HostCollector {
    state: Arc<AgentState>,
    interval: Duration,
}

/// What is kept between readings to turn totals into rates.
struct Previous {
    at: Instant,
    cgroup_cpu_seconds: Option<f64>,
}

impl HostCollector {
    pub(crate) fn new(state: Arc<AgentState>, interval: Duration) -> Self {
        HostCollector { state, interval }
    }

    pub(crate) async fn run(self, cancel: CancellationToken) {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|text| Cgroup::detect(std::path::Path::new("/sys/fs/cgroup"), &text));
        let mut system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_cpu_usage())
                .with_memory(MemoryRefreshKind::everything()),
        );
        let mut disks = Disks::new_with_refreshed_list();
        let mut networks = Networks::new_with_refreshed_list();
        let mut previous = Previous {
            at: Instant::now(),
            cgroup_cpu_seconds: cgroup.as_ref().and_then(|c| c.read().cpu_usage_seconds),
        };
        // CPU usage needs two readings at least 200 ms apart.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        every(self.interval, &cancel, || {
            let stats = self.read(
                &mut system,
                &mut disks,
                &mut networks,
                cgroup.as_ref(),
                &mut previous,
            );
            self.store(&stats);
            *self.state.host.write() = Some(stats);
            std::future::ready(())
        })
        .await;
    }

    fn read(
        &self,
        system: &mut System,
        disks: &mut Disks,
        networks: &mut Networks,
        cgroup: Option<&Cgroup>,
        previous: &mut Previous,
    ) -> HostStats {
        system.refresh_cpu_usage();
        system.refresh_memory();
        disks.refresh(true);
        networks.refresh(true);
        let elapsed = previous.at.elapsed().as_secs_f64().max(0.001);
        previous.at = Instant::now();

        let (disk_read, disk_write) = disks.list().iter().fold((0u64, 0u64), |(r, w), d| {
            let usage = d.usage();
            (r + usage.read_bytes, w + usage.written_bytes)
        });
        let (rx, tx) = networks
            .iter()
            .filter(|(name, _)| name.as_str() != "lo")
            .fold((0u64, 0u64), |(rx, tx), (_, n)| {
                (rx + n.received(), tx + n.transmitted())
            });
        let load = System::load_average();
        let mut stats = HostStats {
            cpu_percent: f64::from(system.global_cpu_usage()),
            cpu_per_core: system
                .cpus()
                .iter()
                .map(|c| f64::from(c.cpu_usage()))
                .collect(),
            load: [load.one, load.five, load.fifteen],
            memory_total_bytes: system.total_memory(),
            memory_used_bytes: system.used_memory(),
            memory_available_bytes: system.available_memory(),
            swap_total_bytes: system.total_swap(),
            swap_used_bytes: system.used_swap(),
            disk_read_bytes_per_sec: disk_read as f64 / elapsed,
            disk_write_bytes_per_sec: disk_write as f64 / elapsed,
            net_rx_bytes_per_sec: rx as f64 / elapsed,
            net_tx_bytes_per_sec: tx as f64 / elapsed,
            cgroup_limited: false,
        };
        if let Some(cgroup) = cgroup {
            let reading = cgroup.read();
            apply_cgroup(&mut stats, &reading, previous.cgroup_cpu_seconds, elapsed);
            previous.cgroup_cpu_seconds = reading.cpu_usage_seconds;
        }
        stats
    }

    fn store(&self, stats: &HostStats) {
        let series = |name: &str, labels: &[(&str, String)]| {
            let mut l = Labels::from_pairs(labels.iter().map(|(k, v)| (*k, v.clone())));
            l.set(METRIC_NAME, name);
            l
        };
        let mut samples = vec![
            (
                series("opsdeck_host_cpu_usage_ratio", &[]),
                stats.cpu_percent / 100.0,
            ),
            (
                series("opsdeck_host_memory_total_bytes", &[]),
                stats.memory_total_bytes as f64,
            ),
            (
                series("opsdeck_host_memory_used_bytes", &[]),
                stats.memory_used_bytes as f64,
            ),
            (
                series("opsdeck_host_memory_available_bytes", &[]),
                stats.memory_available_bytes as f64,
            ),
            (
                series("opsdeck_host_swap_total_bytes", &[]),
                stats.swap_total_bytes as f64,
            ),
            (
                series("opsdeck_host_swap_used_bytes", &[]),
                stats.swap_used_bytes as f64,
            ),
            (
                series("opsdeck_host_disk_read_bytes_per_second", &[]),
                stats.disk_read_bytes_per_sec,
            ),
            (
                series("opsdeck_host_disk_written_bytes_per_second", &[]),
                stats.disk_write_bytes_per_sec,
            ),
            (
                series("opsdeck_host_network_receive_bytes_per_second", &[]),
                stats.net_rx_bytes_per_sec,
            ),
            (
                series("opsdeck_host_network_transmit_bytes_per_second", &[]),
                stats.net_tx_bytes_per_sec,
            ),
        ];
        for (window, value) in ["1m", "5m", "15m"].iter().zip(stats.load) {
            samples.push((
                series("opsdeck_host_load", &[("window", window.to_string())]),
                value,
            ));
        }
        for (i, usage) in stats.cpu_per_core.iter().enumerate() {
            samples.push((
                series(
                    "opsdeck_host_cpu_core_usage_ratio",
                    &[("cpu", i.to_string())],
                ),
                usage / 100.0,
            ));
        }
        self.state.store.ingest_scrape(SOURCE, now_ms(), samples);
    }
}

/// Replaces host totals with the cgroup's limits where it has them.
fn apply_cgroup(
    stats: &mut HostStats,
    reading: &CgroupReading,
    previous_cpu: Option<f64>,
    elapsed: f64,
) {
    if let (Some(limit), Some(used)) = (reading.memory_limit_bytes, reading.memory_used_bytes) {
        stats.memory_total_bytes = limit;
        stats.memory_used_bytes = used.min(limit);
        stats.memory_available_bytes = limit.saturating_sub(used);
        stats.cgroup_limited = true;
    }
    if let (Some(cores), Some(now), Some(before)) = (
        reading.cpu_limit_cores,
        reading.cpu_usage_seconds,
        previous_cpu,
    ) {
        let used_cores = (now - before).max(0.0) / elapsed;
        stats.cpu_percent = (used_cores / cores * 100.0).min(100.0);
        stats.cgroup_limited = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_limits_become_the_totals() {
        let mut stats = HostStats {
            cpu_percent: 5.0,
            cpu_per_core: vec![],
            load: [0.0; 3],
            memory_total_bytes: 64 << 30,
            memory_used_bytes: 10 << 30,
            memory_available_bytes: 54 << 30,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            disk_read_bytes_per_sec: 0.0,
            disk_write_bytes_per_sec: 0.0,
            net_rx_bytes_per_sec: 0.0,
            net_tx_bytes_per_sec: 0.0,
            cgroup_limited: false,
        };
        let reading = CgroupReading {
            cpu_limit_cores: Some(2.0),
            cpu_usage_seconds: Some(11.0),
            memory_limit_bytes: Some(1 << 30),
            memory_used_bytes: Some(256 << 20),
        };
        apply_cgroup(&mut stats, &reading, Some(10.0), 1.0);
        assert!(stats.cgroup_limited);
        assert_eq!(stats.memory_total_bytes, 1 << 30);
        assert_eq!(stats.memory_available_bytes, (1 << 30) - (256 << 20));
        assert_eq!(stats.cpu_percent, 50.0);
    }
}
