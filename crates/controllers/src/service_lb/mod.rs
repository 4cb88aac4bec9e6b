//! The service load-balancer controller (k3s's ServiceLB, MetalLB's allocator on one
//! machine): a `type: LoadBalancer` Service without a `loadBalancerClass` gets an address in
//! `status.loadBalancer.ingress`, which every node's proxy then serves like the ClusterIP.
//!
//! With a pool (`--service-lb-pool`) each Service gets one address of its own (the requested
//! `spec.loadBalancerIP` when free); without, it gets the Ready nodes' addresses as k3s does.
//! A Service that stops being a LoadBalancer loses its status entry, as upstream's service
//! controller clears it. Which pool addresses are taken is read back from the Services
//! themselves, so nothing is handed out twice, also across restarts.

mod pool;

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Node, ObjectReference, Service};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_component::events::EventSink;
use serde_json::json;

pub use pool::{Pool, PoolError};

use crate::context::Context;
use crate::informer::{self, Change};
use crate::node_lifecycle::health::ready_status;
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The component the controller's events are reported as (upstream's service controller).
pub const COMPONENT: &str = "service-controller";

/// What went wrong (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the Service's status failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// Every pool address is taken.
    #[error("no address left in the load-balancer pool for {0}")]
    PoolExhausted(String),
}

/// Runs the controller with the manager's pool (an unusable pool is logged and the controller
/// does not run).
pub async fn run(ctx: Context) {
    let pool = match ctx.network.load_balancer_pool.as_deref().map(Pool::parse) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            tracing::error!(error = %e, "service load-balancer controller not started");
            return;
        }
    };
    run_with(ctx, pool).await
}

fn is_ours(svc: &Service) -> bool {
    svc.spec.as_ref().is_some_and(|s| {
        s.type_.as_deref() == Some("LoadBalancer") && s.load_balancer_class.is_none()
    })
}

fn ingress_ips(svc: &Service) -> Vec<IpAddr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

fn key(svc: &Service) -> String {
    format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any())
}

struct Shared {
    client: Client,
    services: Store<Service>,
    nodes: Store<Node>,
    pool: Option<Pool>,
    /// Pool addresses by holder, including writes the informer has not shown yet.
    held: Mutex<HashMap<String, Ipv4Addr>>,
    recorder: EventSink,
}

/// Runs the controller with `pool` (None: node addresses).
pub async fn run_with(ctx: Context, pool: Option<Pool>) {
    let queue: WorkQueue<String> = WorkQueue::new("service_lb_controller", ctx.metrics.clone());
    let q = queue.clone();
    let (services, _svc_task) = informer::spawn(
        Api::<Service>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(s) | Change::Deleted(s) => q.add(key(&s)),
            Change::Updated { old, new } => {
                if old.spec != new.spec || ingress_ips(&old) != ingress_ips(&new) {
                    q.add(key(&new));
                }
            }
        },
    );
    let q = queue.clone();
    let svc_reader = services.clone();
    let node_mode = pool.is_none();
    let (nodes, _node_task) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let relevant = match &change {
                Change::Added(_) | Change::Deleted(_) => true,
                Change::Updated { old, new } => node_addresses(old) != node_addresses(new),
            };
            if node_mode && relevant {
                for s in svc_reader.state().iter().filter(|s| is_ours(s)) {
                    q.add(key(s));
                }
            }
        },
    );
    if services.wait_until_ready().await.is_err() || nodes.wait_until_ready().await.is_err() {
        return;
    }
    // Addresses already in statuses are taken first, oldest Service first, so a duplicate
    // (two Services restored with the same address) is resolved in favour of the older.
    let mut held = HashMap::new();
    if let Some(pool) = pool {
        let mut all = services.state();
        all.sort_by_key(|s| s.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let mut taken = BTreeSet::new();
        for s in all.iter().filter(|s| is_ours(s)) {
            for ip in ingress_ips(s) {
                if let IpAddr::V4(v4) = ip
                    && pool.contains(v4)
                    && taken.insert(v4)
                {
                    held.insert(key(s), v4);
                }
            }
        }
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        services: services.clone(),
        nodes,
        pool,
        held: Mutex::new(held),
        recorder: ctx.recorder(COMPONENT),
    });
    for s in services.state() {
        queue.add(key(&s));
    }
    run_workers(queue, ctx.workers, move |k: String| {
        let s = shared.clone();
        async move { s.sync(&k).await }
    })
    .await;
}

/// A node's address for load balancing: its ExternalIP, else its InternalIP (as k3s).
fn node_addresses(node: &Node) -> Option<IpAddr> {
    let addrs = node.status.as_ref()?.addresses.as_ref()?;
    let of = |t: &str| {
        addrs
            .iter()
            .filter(|a| a.type_ == t)
            .find_map(|a| a.address.parse().ok())
    };
    of("ExternalIP").or_else(|| of("InternalIP"))
}

fn service_ref(ns: &str, name: &str, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Service".into()),
        namespace: Some(ns.into()),
        name: Some(name.into()),
        uid,
        ..Default::default()
    }
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ipv4Addr>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The addresses `svc` should have.
    fn desired(&self, k: &str, svc: &Service) -> Result<Vec<IpAddr>, Error> {
        let Some(pool) = self.pool else {
            let mut ips: Vec<IpAddr> = self
                .nodes
                .state()
                .iter()
                .filter(|n| ready_status(n) == "True")
                .filter_map(|n| node_addresses(n))
                .collect();
            ips.sort();
            ips.dedup();
            return Ok(ips);
        };
        let mut held = self.held();
        if let Some(ip) = held.get(k) {
            return Ok(vec![IpAddr::V4(*ip)]);
        }
        let taken: BTreeSet<Ipv4Addr> = held.values().copied().collect();
        let requested = svc
            .spec
            .as_ref()
            .and_then(|s| s.load_balancer_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            .filter(|ip| pool.contains(*ip) && !taken.contains(ip));
        let ip = requested
            .or_else(|| pool.first_free(|ip| taken.contains(&ip)))
            .ok_or_else(|| Error::PoolExhausted(k.to_owned()))?;
        held.insert(k.to_owned(), ip);
        Ok(vec![IpAddr::V4(ip)])
    }

    async fn sync(&self, k: &str) -> Result<Requeue, Error> {
        let (ns, name) = k.split_once('/').unwrap_or(("", k));
        let Some(svc) = self.services.get(&ObjectRef::new(name).within(ns)) else {
            self.held().remove(k);
            return Ok(Requeue::Done);
        };
        let api = Api::<Service>::namespaced(self.client.clone(), ns);
        let have = ingress_ips(&svc);
        if !is_ours(&svc) {
            self.held().remove(k);
            let not_lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) != Some("LoadBalancer");
            if not_lb && !have.is_empty() {
                let patch = json!({"status": {"loadBalancer": {"ingress": null}}});
                api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
                    .await?;
                self.recorder.record(
                    service_ref(ns, name, svc.uid()),
                    false,
                    "DeletedLoadBalancer",
                    "DeletedLoadBalancer",
                    "Deleted load balancer".into(),
                );
            }
            return Ok(Requeue::Done);
        }
        let want = match self.desired(k, &svc) {
            Ok(w) => w,
            Err(e) => {
                self.recorder.record(
                    service_ref(ns, name, svc.uid()),
                    true,
                    "SyncLoadBalancerFailed",
                    "SyncLoadBalancerFailed",
                    format!("Error syncing load balancer: failed to ensure load balancer: {e}"),
                );
                return Err(e);
            }
        };
        if want == have {
            return Ok(Requeue::Done);
        }
        let reference = service_ref(ns, name, svc.uid());
        self.recorder.record(
            reference.clone(),
            false,
            "EnsuringLoadBalancer",
            "EnsuringLoadBalancer",
            "Ensuring load balancer".into(),
        );
        let ingress: Vec<_> = want
            .iter()
            .map(|ip| json!({"ip": ip.to_string(), "ipMode": "VIP"}))
            .collect();
        let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {
                self.held().remove(k);
                return Ok(Requeue::Done);
            }
            Err(e) => return Err(e.into()),
        }
        self.recorder.record(
            reference,
            false,
            "EnsuredLoadBalancer",
            "EnsuredLoadBalancer",
            "Ensured load balancer".into(),
        );
        Ok(Requeue::Done)
    }
}
