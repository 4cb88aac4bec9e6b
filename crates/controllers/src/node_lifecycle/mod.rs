//! The node lifecycle controller (`node-lifecycle-controller`) and the taint eviction
//! controller (`taint-eviction-controller`), as upstream's.
//!
//! - [`monitor`]: every `monitor_period`, a node whose Lease (in `kube-node-lease`) and Ready
//!   heartbeat have not moved for the grace period gets its conditions set Unknown
//!   (`NodeStatusUnknown`, "Kubelet stopped posting node status."), a `NodeNotReady` event, and
//!   its pods marked not ready; not-ready nodes are queued per zone for the NoExecute taint
//!   (`not-ready` / `unreachable`), applied at the zone's eviction rate (zone states Normal /
//!   PartialDisruption / FullDisruption as upstream); a Ready node loses the taints. NoSchedule
//!   taints follow the conditions (TaintNodesByCondition).
//! - [`taint_eviction`]: pods on nodes with NoExecute taints they do not tolerate (or whose
//!   `tolerationSeconds` ran out) get the `DisruptionTarget` condition and are deleted.
//! - [`health`]: the pure decisions; [`rate`]: the per-zone token bucket.

pub mod health;
mod monitor;
pub mod rate;
pub mod taint_eviction;

use std::time::Duration;

use crate::clock::Clock;
use crate::context::Context;

/// The component the node lifecycle controller's events are reported as.
pub const COMPONENT: &str = "node-controller";

/// The controller's knobs (upstream's flags and defaults).
#[derive(Clone, Debug)]
pub struct Config {
    /// How often node health is checked (`--node-monitor-period`, 5 s).
    pub monitor_period: Duration,
    /// How long a running node may stay silent (`--node-monitor-grace-period`, 50 s since 1.32).
    pub grace_period: Duration,
    /// How long a node that never reported may stay silent (`--node-startup-grace-period`, 60 s).
    pub startup_grace_period: Duration,
    /// Nodes tainted per second in a healthy zone (`--node-eviction-rate`, 0.1).
    pub eviction_rate: f64,
    /// Nodes tainted per second in a partially disrupted large zone
    /// (`--secondary-node-eviction-rate`, 0.01).
    pub secondary_eviction_rate: f64,
    /// Zones up to this size stop tainting when partially disrupted
    /// (`--large-cluster-size-threshold`, 50).
    pub large_cluster_threshold: usize,
    /// The share of not-ready nodes making a zone partially disrupted
    /// (`--unhealthy-zone-threshold`, 0.55).
    pub unhealthy_zone_threshold: f64,
    /// How often the tainting queues are worked (upstream's 100 ms).
    pub tainting_period: Duration,
    /// Wall time (conditions' and taints' times).
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            large_cluster_threshold: 50,
            unhealthy_zone_threshold: 0.55,
            tainting_period: Duration::from_millis(100),
            clock: Clock::system(),
        }
    }
}

/// Runs the node lifecycle controller with upstream's defaults.
pub async fn run(ctx: Context) {
    run_with(ctx, Config::default()).await
}

/// Runs the node lifecycle controller with `config` until the future is dropped.
pub async fn run_with(ctx: Context, config: Config) {
    monitor::run(ctx, config).await
}
