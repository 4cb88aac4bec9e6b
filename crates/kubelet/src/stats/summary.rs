//! The Summary API document (`/stats/summary`, stats/v1alpha1) and its collector.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use k8s_cri::v1 as cri;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

use super::cgroup::{self, Counters};
use crate::cri::Cri;
use crate::pods::labels;

/// The whole document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The node.
    pub node: NodeStats,
    /// Its pods.
    pub pods: Vec<PodStats>,
}

/// Node-level usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// The node's name.
    pub node_name: String,
    /// When the kubelet started collecting.
    pub start_time: Time,
    /// CPU.
    pub cpu: CpuStats,
    /// Memory.
    pub memory: MemoryStats,
    /// Network (host interfaces).
    pub network: NetworkStats,
    /// The filesystem holding the agent's directory.
    pub fs: FsStats,
}

/// One pod's usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// Which pod.
    pub pod_ref: PodReference,
    /// When its sandbox was created.
    pub start_time: Time,
    /// Its running containers.
    pub containers: Vec<ContainerStats>,
    /// The pod cgroup's CPU.
    pub cpu: CpuStats,
    /// The pod cgroup's memory.
    pub memory: MemoryStats,
    /// The pod network namespace's interfaces.
    pub network: Option<NetworkStats>,
}

/// Pod identity.
#[derive(Clone, Debug, Serialize)]
pub struct PodReference {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// UID.
    pub uid: String,
}

/// One container's usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    /// Spec name.
    pub name: String,
    /// When it started.
    pub start_time: Time,
    /// CPU.
    pub cpu: CpuStats,
    /// Memory.
    pub memory: MemoryStats,
    /// Its writable layer.
    pub rootfs: Option<FsStats>,
    /// Its log files.
    pub logs: Option<FsStats>,
}

/// CPU usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// Sample time.
    pub time: Time,
    /// Average usage since the previous sample, in nanocores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_nano_cores: Option<u64>,
    /// Cumulative CPU time in nanoseconds.
    pub usage_core_nano_seconds: u64,
}

/// Memory usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// Sample time.
    pub time: Time,
    /// Memory left before the limit (or the machine's memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Usage including page cache.
    pub usage_bytes: u64,
    /// Working set.
    pub working_set_bytes: u64,
    /// RSS.
    pub rss_bytes: u64,
    /// Page faults.
    pub page_faults: u64,
    /// Major page faults.
    pub major_page_faults: u64,
}

/// Network counters (the first interface flattened, as upstream).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStats {
    /// Sample time.
    pub time: Time,
    /// First interface's name.
    pub name: String,
    /// Its received bytes.
    pub rx_bytes: u64,
    /// Its receive errors.
    pub rx_errors: u64,
    /// Its sent bytes.
    pub tx_bytes: u64,
    /// Its transmit errors.
    pub tx_errors: u64,
    /// Every interface.
    pub interfaces: Vec<InterfaceStats>,
}

/// One interface.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStats {
    /// Name.
    pub name: String,
    /// Received bytes.
    pub rx_bytes: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Sent bytes.
    pub tx_bytes: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// Filesystem usage.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FsStats {
    /// Sample time.
    pub time: Time,
    /// Free bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<u64>,
    /// Used bytes.
    pub used_bytes: u64,
}

/// Collects summaries, remembering the previous CPU sample of each cgroup for rates.
pub struct Collector {
    node_name: String,
    root_dir: PathBuf,
    started: Time,
    previous: Mutex<HashMap<String, CpuSample>>,
}

/// When a cgroup was last sampled, its CPU time then, and the rate computed then.
type CpuSample = (Instant, u64, Option<u64>);

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn ns_time(ns: i64) -> Time {
    Time(jiff::Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

fn network(ifaces: Vec<cgroup::Interface>, time: &Time) -> Option<NetworkStats> {
    let first = ifaces.first()?.clone();
    Some(NetworkStats {
        time: time.clone(),
        name: first.name,
        rx_bytes: first.rx_bytes,
        rx_errors: first.rx_errors,
        tx_bytes: first.tx_bytes,
        tx_errors: first.tx_errors,
        interfaces: ifaces
            .into_iter()
            .map(|i| InterfaceStats {
                name: i.name,
                rx_bytes: i.rx_bytes,
                rx_errors: i.rx_errors,
                tx_bytes: i.tx_bytes,
                tx_errors: i.tx_errors,
            })
            .collect(),
    })
}

impl Collector {
    /// A collector for node `node_name` whose agent files live in `root_dir`.
    pub fn new(node_name: &str, root_dir: PathBuf) -> Self {
        Self {
            node_name: node_name.into(),
            root_dir,
            started: now(),
            previous: Mutex::new(HashMap::new()),
        }
    }

    /// Average nanocores of `key` since its previous sample (kept at least 1 s apart).
    fn rate(&self, key: &str, cpu_ns: u64) -> Option<u64> {
        let mut prev = self.previous.lock().unwrap_or_else(|p| p.into_inner());
        let at = Instant::now();
        match prev.get(key).copied() {
            Some((t, _, last)) if at.duration_since(t).as_millis() < 1000 => last,
            Some((t, ns_before, _)) => {
                let elapsed = at.duration_since(t).as_nanos().max(1);
                let rate =
                    (u128::from(cpu_ns.saturating_sub(ns_before)) * 1_000_000_000 / elapsed) as u64;
                prev.insert(key.into(), (at, cpu_ns, Some(rate)));
                Some(rate)
            }
            None => {
                prev.insert(key.into(), (at, cpu_ns, None));
                None
            }
        }
    }

    fn cpu(&self, key: &str, c: &Counters, time: &Time) -> CpuStats {
        CpuStats {
            time: time.clone(),
            usage_nano_cores: self.rate(key, c.cpu_ns),
            usage_core_nano_seconds: c.cpu_ns,
        }
    }

    fn memory(c: &Counters, limit: Option<u64>, time: &Time) -> MemoryStats {
        MemoryStats {
            time: time.clone(),
            available_bytes: limit.map(|l| l.saturating_sub(c.working_set)),
            usage_bytes: c.memory_usage,
            working_set_bytes: c.working_set,
            rss_bytes: c.rss,
            page_faults: c.page_faults,
            major_page_faults: c.major_page_faults,
        }
    }

    /// One summary of the node and every pod the runtime runs.
    pub async fn collect(&self, cri: &Cri) -> Result<Summary, tonic::Status> {
        let time = now();
        let mem_total = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024);
        let node_counters = cgroup::read("/").unwrap_or_default();
        let fs = nix::sys::statvfs::statvfs(&self.root_dir).ok();
        let node = NodeStats {
            node_name: self.node_name.clone(),
            start_time: self.started.clone(),
            cpu: self.cpu("/", &node_counters, &time),
            memory: Self::memory(&node_counters, mem_total, &time),
            network: network(
                cgroup::net_dev(&std::fs::read_to_string("/proc/net/dev").unwrap_or_default()),
                &time,
            )
            .unwrap_or(NetworkStats {
                time: time.clone(),
                name: String::new(),
                rx_bytes: 0,
                rx_errors: 0,
                tx_bytes: 0,
                tx_errors: 0,
                interfaces: vec![],
            }),
            fs: FsStats {
                time: time.clone(),
                available_bytes: fs.map(|s| s.blocks_available() * s.fragment_size()),
                capacity_bytes: fs.map(|s| s.blocks() * s.fragment_size()),
                used_bytes: fs.map_or(0, |s| (s.blocks() - s.blocks_free()) * s.fragment_size()),
            },
        };

        let mut rt = cri.runtime.clone();
        let ready = cri::PodSandboxStateValue {
            state: cri::PodSandboxState::SandboxReady as i32,
        };
        let sandboxes = rt
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    state: Some(ready),
                    ..Default::default()
                }),
            })
            .await?
            .into_inner()
            .items;
        let running = cri::ContainerStateValue {
            state: cri::ContainerState::ContainerRunning as i32,
        };
        let containers = rt
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    state: Some(running),
                    ..Default::default()
                }),
            })
            .await?
            .into_inner()
            .containers;
        let mut pods = Vec::new();
        for s in sandboxes {
            let label = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
            let uid = label(labels::POD_UID);
            let Some(pod_cgroup) = ["", "burstable/", "besteffort/"]
                .iter()
                .map(|q| format!("/kubepods/{q}pod{uid}"))
                .find(|p| cgroup::read(p).is_some())
            else {
                continue;
            };
            let counters = cgroup::read(&pod_cgroup).unwrap_or_default();
            let mut stats = Vec::new();
            for c in containers.iter().filter(|c| c.pod_sandbox_id == s.id) {
                let Some(cc) = cgroup::read(&format!("{pod_cgroup}/{}", c.id)) else {
                    continue;
                };
                let rootfs = rt
                    .container_stats(cri::ContainerStatsRequest {
                        container_id: c.id.clone(),
                    })
                    .await
                    .ok()
                    .and_then(|r| r.into_inner().stats)
                    .and_then(|st| st.writable_layer)
                    .map(|w| FsStats {
                        time: time.clone(),
                        available_bytes: None,
                        capacity_bytes: None,
                        used_bytes: w.used_bytes.map_or(0, |u| u.value),
                    });
                let name = c
                    .labels
                    .get(labels::CONTAINER_NAME)
                    .cloned()
                    .unwrap_or_default();
                let log_dir = self
                    .root_dir
                    .join("logs/pods")
                    .join(format!(
                        "{}_{}_{uid}",
                        label(labels::POD_NAMESPACE),
                        label(labels::POD_NAME)
                    ))
                    .join(&name);
                let log_bytes: u64 = std::fs::read_dir(log_dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum();
                stats.push(ContainerStats {
                    cpu: self.cpu(&c.id, &cc, &time),
                    memory: Self::memory(&cc, None, &time),
                    name,
                    start_time: ns_time(c.created_at),
                    rootfs,
                    logs: Some(FsStats {
                        time: time.clone(),
                        available_bytes: None,
                        capacity_bytes: None,
                        used_bytes: log_bytes,
                    }),
                });
            }
            let net = cgroup::first_pid(&format!("{pod_cgroup}/{}", s.id))
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok())
                .and_then(|t| network(cgroup::net_dev(&t), &time));
            pods.push(PodStats {
                pod_ref: PodReference {
                    name: label(labels::POD_NAME),
                    namespace: label(labels::POD_NAMESPACE),
                    uid: uid.clone(),
                },
                start_time: ns_time(s.created_at),
                containers: stats,
                cpu: self.cpu(&pod_cgroup, &counters, &time),
                memory: Self::memory(&counters, None, &time),
                network: net,
            });
        }
        Ok(Summary { node, pods })
    }
}
