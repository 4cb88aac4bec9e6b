//! The node IPAM controller (`node-ipam-controller`), as upstream's range allocator: every Node
//! without `spec.podCIDR` gets the next free `/node_mask` range of the cluster CIDR in
//! `spec.podCIDR` and `spec.podCIDRs`; a deleted Node's range is freed.
//!
//! The set of taken ranges is rebuilt from the Nodes before anything is handed out, so a
//! restarted controller never gives a range out twice. A full cluster CIDR leaves the Node
//! without one and records upstream's `CIDRNotAvailable` event on it.

pub mod cidr_set;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_component::events::EventSink;
use serde_json::json;

use crate::context::Context;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};
use cidr_set::{CidrError, CidrSet};

/// The component the controller's events are reported as (upstream's range allocator).
pub const COMPONENT: &str = "cidrAllocator";

/// How the controller allocates.
#[derive(Clone, Debug)]
pub struct Config {
    /// The cluster CIDR (`--cluster-cidr`, default 10.42.0.0/16 as k3s).
    pub cluster_cidr: String,
    /// The prefix length of each node's range (`--node-cidr-mask-size`, default 24).
    pub node_mask: u8,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cluster_cidr: "10.42.0.0/16".into(),
            node_mask: 24,
        }
    }
}

/// What went wrong assigning a node its range (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the Node failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// The cluster CIDR has no free range left.
    #[error("no remaining CIDRs for node {0}")]
    Full(String),
}

struct Shared {
    client: Client,
    nodes: Store<Node>,
    /// The taken ranges and which node holds each.
    set: Mutex<(CidrSet, HashMap<String, String>)>,
    recorder: EventSink,
}

/// The event reference of a Node (upstream refers to nodes by name as UID).
fn node_ref(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(name.into()),
        uid: Some(name.into()),
        ..Default::default()
    }
}

/// The node's first podCIDR, if it has one.
fn pod_cidr(node: &Node) -> Option<String> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidr
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| spec.pod_cidrs.as_ref()?.first().cloned())
}

/// Runs the controller on the manager's cluster CIDR.
pub async fn run(ctx: Context) {
    let config = Config {
        cluster_cidr: ctx.network.cluster_cidr.clone(),
        node_mask: ctx.network.node_cidr_mask_size,
    };
    if let Err(e) = run_with(ctx, config).await {
        tracing::error!(error = %e, "node IPAM controller not started");
    }
}

/// Runs the controller with `config` until the future is dropped; an unusable cluster CIDR is
/// an error at once.
pub async fn run_with(ctx: Context, config: Config) -> Result<(), CidrError> {
    let set = CidrSet::new(&config.cluster_cidr, config.node_mask)?;
    let queue: WorkQueue<String> = WorkQueue::new("node_ipam_controller", ctx.metrics.clone());
    let q = queue.clone();
    let (nodes, _task) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(n) | Change::Deleted(n) => q.add(n.name_any()),
            Change::Updated { old, new } => {
                if pod_cidr(&old) != pod_cidr(&new) {
                    q.add(new.name_any());
                }
            }
        },
    );
    if nodes.wait_until_ready().await.is_err() {
        return Ok(());
    }
    // Every range already assigned is taken before anything is handed out.
    let mut set = set;
    let mut holders = HashMap::new();
    for node in nodes.state() {
        if let Some(c) = pod_cidr(&node)
            && set.occupy(&c)
        {
            holders.insert(node.name_any(), c);
        }
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        nodes,
        set: Mutex::new((set, holders)),
        recorder: ctx.recorder(COMPONENT),
    });
    for node in shared.nodes.state() {
        queue.add(node.name_any());
    }
    run_workers(queue, ctx.workers, move |name: String| {
        let s = shared.clone();
        async move { s.sync(&name).await }
    })
    .await;
    Ok(())
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, (CidrSet, HashMap<String, String>)> {
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn sync(&self, name: &str) -> Result<Requeue, Error> {
        let Some(node) = self.nodes.get(&ObjectRef::new(name)) else {
            // Deleted: its range is free again.
            let mut g = self.lock();
            if let Some(c) = g.1.remove(name) {
                g.0.release(&c);
                tracing::info!(node = name, cidr = %c, "released the pod CIDR of a deleted node");
            }
            return Ok(Requeue::Done);
        };
        if let Some(c) = pod_cidr(&node) {
            let mut g = self.lock();
            if g.1.get(name) != Some(&c) && g.0.occupy(&c) {
                g.1.insert(name.to_string(), c);
            }
            return Ok(Requeue::Done);
        }
        let cidr = {
            let mut g = self.lock();
            match g.1.get(name).cloned() {
                // Handed out before but not yet seen on the node: write it again.
                Some(c) => Some(c),
                None => {
                    let c = g.0.allocate();
                    if let Some(c) = &c {
                        g.1.insert(name.to_string(), c.clone());
                    }
                    c
                }
            }
        };
        let Some(cidr) = cidr else {
            self.recorder.record(
                node_ref(name),
                false,
                "CIDRNotAvailable",
                "CIDRNotAvailable",
                format!("Node {name} status is now: CIDRNotAvailable"),
            );
            return Err(Error::Full(name.into()));
        };
        let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
        let api = Api::<Node>::all(self.client.clone());
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {
                tracing::info!(node = name, cidr = %cidr, "assigned pod CIDR");
                Ok(Requeue::Done)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                let mut g = self.lock();
                g.1.remove(name);
                g.0.release(&cidr);
                Ok(Requeue::Done)
            }
            Err(e) => {
                // Someone else may have set a range meanwhile: free ours and look again.
                let mut g = self.lock();
                g.1.remove(name);
                g.0.release(&cidr);
                self.recorder.record(
                    node_ref(name),
                    true,
                    "CIDRAssignmentFailed",
                    "CIDRAssignmentFailed",
                    format!("Node {name} status is now: CIDRAssignmentFailed"),
                );
                Err(e.into())
            }
        }
    }
}
