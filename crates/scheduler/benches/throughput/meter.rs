//! How the throughput bench measures a phase besides its wall-clock rate: the process's CPU
//! time per pod and the steal of the VM's host during it (this machine's host takes 0–40 % of
//! the CPU from one minute to the next, which moves the rates far more than the CPU per pod), and
//! phase marks on stderr to cut a profile of the run to one phase.

use std::time::Instant;

/// When the bench process started: phase marks on stderr are relative to it, so a profile of the
/// run can be cut to one phase (`perf report --time`, offset by the first sample's time).
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Prints `phase NAME at SECONDS s` on stderr.
pub fn phase(name: &str) {
    let at = STARTED.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("phase {name} at {at:.3} s");
}

/// CPU time used by this process so far (user + system), in seconds, from `/proc/self/stat`
/// (clock ticks of 1/100 s, Linux's USER_HZ).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// The machine's (total, steal) CPU ticks so far, from `/proc/stat`: a VM's host taking the
/// CPUs away shows as steal, and makes wall-clock rates fall while CPU per pod does not.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    (cpu.iter().take(8).sum(), cpu.get(7).copied().unwrap_or(0))
}

/// One measured phase: wall clock, this process's CPU time and the machine's steal.
pub struct Meter {
    wall: Instant,
    cpu: f64,
    ticks: (u64, u64),
}

/// What a phase measured.
#[derive(Clone, Copy)]
pub struct Rate {
    pub pods_per_s: f64,
    pub cpu_ms_per_pod: f64,
    pub steal_percent: f64,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
            ticks: machine_ticks(),
        }
    }

    pub fn finish(&self, pods: usize) -> Rate {
        let (total, steal) = machine_ticks();
        let ticks = total.saturating_sub(self.ticks.0).max(1);
        Rate {
            pods_per_s: pods as f64 / self.wall.elapsed().as_secs_f64(),
            cpu_ms_per_pod: (process_cpu_seconds() - self.cpu) * 1000.0 / pods as f64,
            steal_percent: steal.saturating_sub(self.ticks.1) as f64 * 100.0 / ticks as f64,
        }
    }
}

impl Rate {
    /// Each figure's median over `runs` (not empty), so one run on a slow minute of the host
    /// does not make the headline.
    pub fn median(runs: &[Rate]) -> Rate {
        let mid = |f: fn(&Rate) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Rate {
            pods_per_s: mid(|r| r.pods_per_s),
            cpu_ms_per_pod: mid(|r| r.cpu_ms_per_pod),
            steal_percent: mid(|r| r.steal_percent),
        }
    }
}
