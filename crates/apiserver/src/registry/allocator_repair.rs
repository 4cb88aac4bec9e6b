//! Repair of the Service allocators, as upstream's ClusterIP and NodePort repair loops: at
//! start and then periodically, the bitmaps are compared with the Services in the store. An
//! address or port a Service uses but the bitmap lacks (a crash between the two writes) is
//! marked again; one marked but used by no Service (a create that failed after allocating, a
//! delete that failed to release) is freed after a few passes.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use rkube_api::status::ApiError;
use rkube_store::{RangeRequest, Store};
use serde_json::Value;

use super::allocator::Repaired;
use super::services::ServiceAllocators;
use super::store_error;

/// How often the loop runs (upstream's repair interval is three minutes).
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(180);

const SERVICES_PREFIX: &str = "/registry/services/specs/";

/// What one pass changed, as values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// ClusterIPs marked again.
    pub ips_marked: Vec<Ipv4Addr>,
    /// ClusterIPs freed.
    pub ips_freed: Vec<Ipv4Addr>,
    /// NodePorts marked again.
    pub ports_marked: Vec<i64>,
    /// NodePorts freed.
    pub ports_freed: Vec<i64>,
}

/// The repair state kept between passes.
pub struct AllocatorRepair {
    store: std::sync::Arc<dyn Store>,
    allocators: ServiceAllocators,
    ips_unused: HashMap<u32, u32>,
    ports_unused: HashMap<u32, u32>,
}

/// The ClusterIPs (v4) and node ports a stored Service holds.
fn held(svc: &Value) -> (Vec<Ipv4Addr>, Vec<i64>) {
    let spec = &svc["spec"];
    let mut ips: Vec<Ipv4Addr> = spec["clusterIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.parse().ok())
        .collect();
    if let Some(ip) = spec["clusterIP"].as_str().and_then(|s| s.parse().ok()) {
        ips.push(ip);
    }
    let mut ports: Vec<i64> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_i64())
        .collect();
    ports.extend(spec["healthCheckNodePort"].as_i64());
    (ips, ports)
}

impl AllocatorRepair {
    /// Repair over `store` for `allocators`.
    pub fn new(store: std::sync::Arc<dyn Store>, allocators: ServiceAllocators) -> Self {
        AllocatorRepair {
            store,
            allocators,
            ips_unused: HashMap::new(),
            ports_unused: HashMap::new(),
        }
    }

    /// One pass: reads every Service and reconciles both bitmaps.
    pub async fn run_once(&mut self) -> Result<RepairReport, ApiError> {
        let (mut ips, mut ports) = (BTreeSet::new(), BTreeSet::new());
        let svc_ips = &self.allocators.ips;
        let node_ports = &self.allocators.ports;
        let mut page = RangeRequest {
            prefix: SERVICES_PREFIX.into(),
            limit: 500,
            ..Default::default()
        };
        loop {
            let resp = self.store.range(page.clone()).await.map_err(store_error)?;
            for kv in &resp.kvs {
                let Ok(svc) = serde_json::from_slice::<Value>(&kv.value) else {
                    continue;
                };
                let (i, p) = held(&svc);
                ips.extend(i.into_iter().filter_map(|ip| svc_ips.offset(ip)));
                ports.extend(p.into_iter().filter_map(|p| node_ports.offset(p)));
            }
            match (resp.more, resp.kvs.last()) {
                (true, Some(last)) => {
                    page.start_after = Some(last.key.clone());
                    page.revision = resp.revision;
                }
                _ => break,
            }
        }
        // The network and broadcast addresses are never handed out; allocation may have marked
        // them while skipping them.
        let size = svc_ips.allocator().size();
        let ip_fix = svc_ips
            .allocator()
            .reconcile(&ips, &[0, size - 1], &mut self.ips_unused)
            .await?;
        let port_fix = node_ports
            .allocator()
            .reconcile(&ports, &[], &mut self.ports_unused)
            .await?;
        let Repaired { marked, freed } = ip_fix;
        let report = RepairReport {
            ips_marked: marked.into_iter().map(|o| svc_ips.nth(o)).collect(),
            ips_freed: freed.into_iter().map(|o| svc_ips.nth(o)).collect(),
            ports_marked: port_fix
                .marked
                .into_iter()
                .map(|o| node_ports.nth(o))
                .collect(),
            ports_freed: port_fix
                .freed
                .into_iter()
                .map(|o| node_ports.nth(o))
                .collect(),
        };
        for ip in &report.ips_marked {
            tracing::warn!(%ip, "ClusterIP in use by a Service but not allocated: repaired");
        }
        for ip in &report.ips_freed {
            tracing::warn!(%ip, "ClusterIP allocated but used by no Service: released");
        }
        for port in &report.ports_marked {
            tracing::warn!(
                port,
                "NodePort in use by a Service but not allocated: repaired"
            );
        }
        for port in &report.ports_freed {
            tracing::warn!(port, "NodePort allocated but used by no Service: released");
        }
        Ok(report)
    }

    /// Runs a pass now and then every `every`, until the task is aborted.
    pub fn spawn(mut self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "service allocator repair failed; trying again later");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::allocator::{LEAK_PASSES, NodePorts, ServiceIps};
    use bytes::Bytes;
    use serde_json::json;
    use std::sync::Arc;

    use crate::registry::test_store as store;

    #[tokio::test]
    async fn leaks_are_freed_after_the_grace_passes_and_lost_allocations_marked() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let allocators = ServiceAllocators {
            ips: ServiceIps::new(Arc::clone(&store), (Ipv4Addr::new(10, 43, 0, 0), 24)),
            ports: NodePorts::new(Arc::clone(&store), 30000, 30099),
        };
        // A Service holding an address and a port the bitmaps never recorded (lost), and a
        // leaked address and port that no Service holds.
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"],
                "ports": [{"port": 80, "nodePort": 30007}]}});
        store
            .create(
                "/registry/services/specs/default/web",
                Bytes::from(svc.to_string()),
                None,
            )
            .await
            .unwrap();
        let leaked_ip = allocators
            .ips
            .allocate(Some(Ipv4Addr::new(10, 43, 0, 30)))
            .await;
        assert!(matches!(leaked_ip, Ok(Ok(_))));
        assert!(matches!(
            allocators.ports.allocate(Some(30050)).await,
            Ok(Ok(30050))
        ));

        let mut repair = AllocatorRepair::new(Arc::clone(&store), allocators.clone());
        let first = repair.run_once().await.unwrap();
        assert_eq!(first.ips_marked, vec![Ipv4Addr::new(10, 43, 0, 20)]);
        assert_eq!(first.ports_marked, vec![30007]);
        assert!(first.ips_freed.is_empty() && first.ports_freed.is_empty());
        // The repaired values are really taken now.
        assert!(matches!(
            allocators
                .ips
                .allocate(Some(Ipv4Addr::new(10, 43, 0, 20)))
                .await,
            Ok(Err(crate::registry::allocator::Refusal::Taken))
        ));
        for _ in 1..LEAK_PASSES - 1 {
            let r = repair.run_once().await.unwrap();
            assert_eq!(r, RepairReport::default(), "a leak is kept for a while");
        }
        let last = repair.run_once().await.unwrap();
        assert_eq!(last.ips_freed, vec![Ipv4Addr::new(10, 43, 0, 30)]);
        assert_eq!(last.ports_freed, vec![30050]);
        assert!(matches!(
            allocators.ports.allocate(Some(30050)).await,
            Ok(Ok(30050))
        ));
    }
}
