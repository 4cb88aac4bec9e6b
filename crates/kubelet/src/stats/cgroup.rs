//! Reading cgroup v1 counters: CPU time (cpuacct), memory usage and working set, and the
//! network counters of the pod's network namespace.

use std::path::Path;

/// The cgroupfs mount point.
pub const ROOT: &str = "/sys/fs/cgroup";

/// CPU and memory counters of one cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Memory usage in bytes (page cache included).
    pub memory_usage: u64,
    /// Working set: usage less inactive file pages (what the OOM killer weighs).
    pub working_set: u64,
    /// Anonymous and swap-cache memory.
    pub rss: u64,
    /// Page faults.
    pub page_faults: u64,
    /// Major page faults.
    pub major_page_faults: u64,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn stat_value(stat: &str, key: &str) -> u64 {
    stat.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// Counters of cgroup `path` (relative, e.g. `/kubepods/burstable/pod<uid>`), `None` when it
/// does not exist.
pub fn read(path: &str) -> Option<Counters> {
    let rel = path.trim_start_matches('/');
    let cpu = Path::new(ROOT).join("cpuacct").join(rel);
    let mem = Path::new(ROOT).join("memory").join(rel);
    let cpu_ns = read_u64(&cpu.join("cpuacct.usage"))?;
    let usage = read_u64(&mem.join("memory.usage_in_bytes")).unwrap_or(0);
    let stat = std::fs::read_to_string(mem.join("memory.stat")).unwrap_or_default();
    let inactive = stat_value(&stat, "total_inactive_file");
    Some(Counters {
        cpu_ns,
        memory_usage: usage,
        working_set: usage.saturating_sub(inactive),
        rss: stat_value(&stat, "total_rss"),
        page_faults: stat_value(&stat, "total_pgfault"),
        major_page_faults: stat_value(&stat, "total_pgmajfault"),
    })
}

/// The first process in a cgroup (for a pod: its sandbox's pause process).
pub fn first_pid(path: &str) -> Option<u32> {
    let procs = Path::new(ROOT)
        .join("memory")
        .join(path.trim_start_matches('/'))
        .join("cgroup.procs");
    std::fs::read_to_string(procs)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// One interface's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// Parses /proc/<pid>/net/dev, skipping loopback.
pub fn net_dev(text: &str) -> Vec<Interface> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (name != "lo" && v.len() >= 11).then(|| Interface {
                name: name.into(),
                rx_bytes: v[0],
                rx_errors: v[2],
                tx_bytes: v[8],
                tx_errors: v[10],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_net_dev_and_memory_stat() {
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1500 12 1 0 0 0 0 0 900 8 2 0 0 0 0 0\n";
        assert_eq!(
            net_dev(dev),
            [Interface {
                name: "eth0".into(),
                rx_bytes: 1500,
                rx_errors: 1,
                tx_bytes: 900,
                tx_errors: 2
            }]
        );
        let stat = "cache 5\ntotal_inactive_file 4096\ntotal_rss 8192\ntotal_pgfault 7\n";
        assert_eq!(stat_value(stat, "total_inactive_file"), 4096);
        assert_eq!(stat_value(stat, "total_rss"), 8192);
        assert_eq!(stat_value(stat, "total_pgmajfault"), 0);
    }

    #[test]
    fn reads_the_root_cgroup() {
        let c = read("/").expect("root cgroup counters");
        assert!(c.cpu_ns > 0 && c.memory_usage > 0);
        assert!(read("/no/such/cgroup").is_none());
    }
}
