//! What the simulated nodes look like and how they behave: [`SimConfig`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;
use rkube_api::validation::quantity::Quantity;

use crate::SimError;

/// The label every simulated node carries (value [`MARKER_VALUE`]), like kwok's `type=kwok`.
/// Workloads meant for simulated nodes select it; the simulator watches its nodes through it.
pub const MARKER_LABEL: &str = "type";
/// The value of [`MARKER_LABEL`] on simulated nodes.
pub const MARKER_VALUE: &str = "rkube-sim";

/// The configuration of a set of simulated nodes. [`SimConfig::new`] gives kwok-like defaults
/// (32 CPUs, 256 GiB, 110 pods) and the kubelet's timings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many nodes to simulate; node `i` (from 0) is named `{prefix}{i}`.
    pub count: usize,
    /// The node name prefix (default `sim-node-`).
    pub prefix: String,
    /// CPU capacity (and allocatable) of every node, as a quantity (default `32`).
    pub cpu: String,
    /// Memory capacity of every node, as a quantity (default `256Gi`).
    pub memory: String,
    /// How many pods a node takes (default 110, the kubelet's `maxPods`).
    pub max_pods: u32,
    /// Ephemeral storage capacity of every node, as a quantity (default `100Gi`).
    pub ephemeral_storage: String,
    /// Extra node labels, added to the well-known ones (`kubernetes.io/hostname`, `…/os`,
    /// `…/arch`). The marker label [`MARKER_LABEL`]`=`[`MARKER_VALUE`] always wins.
    pub labels: BTreeMap<String, String>,
    /// Taints registered with every node (none by default).
    pub taints: Vec<Taint>,
    /// Node `i` gets the InternalIP `node_ip_base + 1 + i`, skipping addresses ending in `.0`
    /// and `.255` (default 172.16.0.0: 172.16.0.1, 172.16.0.2, …, 172.16.0.254, 172.16.1.1, …).
    pub node_ip_base: Ipv4Addr,
    /// The Lease's `leaseDurationSeconds` (kubelet default 40 s).
    pub lease_duration: Duration,
    /// How often each node renews its Lease (kubelet default 10 s, a quarter of the duration).
    /// The renewals of all nodes are spread evenly over this interval.
    pub lease_renew_interval: Duration,
    /// How often each node re-reports its status (the conditions' `lastHeartbeatTime`) although
    /// nothing changed: the kubelet's `nodeStatusReportFrequency`, default 5 min. With Leases the
    /// node lifecycle controller does not need these; they keep `kubectl describe node` honest.
    /// Spread evenly over the interval like the Lease renewals.
    pub status_report_interval: Duration,
    /// How long a pod owned by a Job runs before it goes Succeeded (default 1 s).
    pub job_pod_run_time: Duration,
    /// Whether to run the pod agent (pods bound to the nodes go Running, Jobs' pods Succeeded,
    /// deleted pods go away). Without it only the nodes and their heartbeats are simulated.
    pub pod_agent: bool,
    /// At most this many node registrations in flight (default 64).
    pub register_concurrency: usize,
    /// At most this many writes in flight per activity: Lease renewals, status reports and pod
    /// writes each get this bound (default 32).
    pub write_concurrency: usize,
}

impl SimConfig {
    /// `count` nodes with the defaults.
    pub fn new(count: usize) -> SimConfig {
        SimConfig {
            count,
            prefix: "sim-node-".into(),
            cpu: "32".into(),
            memory: "256Gi".into(),
            max_pods: 110,
            ephemeral_storage: "100Gi".into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            node_ip_base: Ipv4Addr::new(172, 16, 0, 0),
            lease_duration: Duration::from_secs(40),
            lease_renew_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(300),
            job_pod_run_time: Duration::from_secs(1),
            pod_agent: true,
            register_concurrency: 64,
            write_concurrency: 32,
        }
    }

    /// The name of node `i`.
    pub fn node_name(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    /// The InternalIP of node `i` (see [`SimConfig::node_ip_base`]).
    pub fn node_ip(&self, i: usize) -> Ipv4Addr {
        let host = (i / 254) as u32 * 256 + (i % 254) as u32 + 1;
        Ipv4Addr::from(u32::from(self.node_ip_base).wrapping_add(host))
    }

    /// Checks what the apiserver would otherwise reject for every node at once.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Config(m));
        if self.count == 0 {
            return bad("the node count must be at least 1".into());
        }
        let last = self.node_name(self.count - 1);
        let valid_name = !self.prefix.is_empty()
            && last.len() <= 253
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && self.prefix.as_bytes()[0].is_ascii_alphanumeric();
        if !valid_name {
            return bad(format!(
                "the name prefix {:?} does not make valid node names (lower-case letters, digits, \
                 '-' and '.', starting with a letter or digit)",
                self.prefix
            ));
        }
        for (what, q) in [
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("ephemeral-storage", &self.ephemeral_storage),
        ] {
            if !matches!(Quantity::parse(q), Ok(Some(_))) {
                return bad(format!(
                    "{what} {q:?} is not a quantity (e.g. 32, 500m, 256Gi)"
                ));
            }
        }
        if self.max_pods == 0 {
            return bad("pods per node must be at least 1".into());
        }
        if self.lease_renew_interval.is_zero() || self.status_report_interval.is_zero() {
            return bad("the lease renew and status report intervals must be positive".into());
        }
        if self.lease_duration < self.lease_renew_interval {
            return bad(format!(
                "the lease duration ({:?}) must not be shorter than the renew interval ({:?})",
                self.lease_duration, self.lease_renew_interval
            ));
        }
        if self.lease_duration.as_secs() < 1 || self.lease_duration.as_secs() > i32::MAX as u64 {
            return bad("the lease duration must be at least one second".into());
        }
        if self.register_concurrency == 0 || self.write_concurrency == 0 {
            return bad("concurrency bounds must be at least 1".into());
        }
        if self.count > 1 << 20 {
            return bad("at most 1048576 nodes (their InternalIPs would repeat)".into());
        }
        Ok(())
    }
}

/// Parses a taint as kubectl writes it: `KEY[=VALUE]:EFFECT`, e.g. `sim=true:NoSchedule`.
pub fn parse_taint(s: &str) -> Result<Taint, String> {
    let bad = || {
        format!(
            "{s:?} is not KEY[=VALUE]:EFFECT (EFFECT: NoSchedule, PreferNoSchedule or NoExecute)"
        )
    };
    let (kv, effect) = s.rsplit_once(':').ok_or_else(bad)?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(bad());
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(bad());
    }
    Ok(Taint {
        key: key.into(),
        value,
        effect: effect.into(),
        time_added: None,
    })
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig::new(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ips_are_distinct_and_skip_network_and_broadcast() {
        let c = SimConfig::new(5000);
        assert_eq!(c.node_ip(0), Ipv4Addr::new(172, 16, 0, 1));
        assert_eq!(c.node_ip(253), Ipv4Addr::new(172, 16, 0, 254));
        assert_eq!(c.node_ip(254), Ipv4Addr::new(172, 16, 1, 1));
        let all: std::collections::HashSet<_> = (0..5000).map(|i| c.node_ip(i)).collect();
        assert_eq!(all.len(), 5000);
        assert!(
            all.iter()
                .all(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255)
        );
    }

    #[test]
    fn taints_parse_as_kubectl_writes_them() {
        let t = parse_taint("sim=true:NoSchedule").unwrap();
        assert_eq!(
            (t.key.as_str(), t.value.as_deref(), t.effect.as_str()),
            ("sim", Some("true"), "NoSchedule")
        );
        let t = parse_taint("dedicated:NoExecute").unwrap();
        assert_eq!((t.key.as_str(), t.value), ("dedicated", None));
        assert!(parse_taint("x=y:Sometimes").is_err());
        assert!(parse_taint("x=y").is_err());
        assert!(parse_taint("=y:NoSchedule").is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(SimConfig::new(3).validate().is_ok());
        let mut c = SimConfig::new(3);
        c.memory = "lots".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("memory \"lots\"")
        );
        let mut c = SimConfig::new(3);
        c.prefix = "Sim_".into();
        assert!(c.validate().unwrap_err().to_string().contains("prefix"));
        assert!(SimConfig::new(0).validate().is_err());
        let mut c = SimConfig::new(3);
        c.lease_renew_interval = Duration::from_secs(60);
        assert!(c.validate().is_err());
    }
}
