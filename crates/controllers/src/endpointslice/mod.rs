//! The EndpointSlice controller (`endpointslice-controller`), as upstream's: for every Service
//! with a selector, EndpointSlices (at most [`plan::MAX_ENDPOINTS_PER_SLICE`] endpoints each)
//! labelled `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
//! endpointslice-controller.k8s.io`, owned by the Service; terminating pods stay listed with
//! `ready: false, terminating: true`. A Service without endpoints keeps one empty slice.
//!
//! - [`desired`]: the endpoint groups of a Service (pure);
//! - [`plan`]: the slice writes (pure, shared with the mirroring controller);
//! - [`mirroring`]: the `endpointslice-mirroring-controller` (hand-written Endpoints of
//!   selectorless Services into slices).

pub mod desired;
pub mod mirroring;
pub mod plan;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::context::Context;
use crate::endpoints::{self, HEADLESS_LABEL, TRIGGER_TIME_ANNOTATION, key_of, pods};
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};
use plan::{Action, SliceMeta};

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming a slice's manager.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// What went wrong syncing a Service's slices (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// The `namespace/<service-name label>` key of a slice managed by `managed_by`.
fn slice_owner_key(s: &EndpointSlice, managed_by: &str) -> Option<String> {
    let labels = s.metadata.labels.as_ref()?;
    if labels.get(MANAGED_BY_LABEL).map(String::as_str) != Some(managed_by) {
        return None;
    }
    let svc = labels.get(SERVICE_NAME_LABEL)?;
    Some(format!("{}/{svc}", s.namespace().unwrap_or_default()))
}

/// The slices in `store` belonging to `key` and managed by `managed_by`.
fn slices_of(store: &Store<EndpointSlice>, key: &str, managed_by: &str) -> Vec<Arc<EndpointSlice>> {
    store
        .state()
        .into_iter()
        .filter(|s| slice_owner_key(s, managed_by).as_deref() == Some(key))
        .collect()
}

/// Performs `actions` in `ns`; a conflict or vanished slice asks for another look.
async fn apply(client: &Client, ns: &str, actions: Vec<Action>) -> Result<Requeue, kube::Error> {
    let api = Api::<EndpointSlice>::namespaced(client.clone(), ns);
    let mut again = false;
    for a in actions {
        let r = match &a {
            Action::Create(s) => api.create(&PostParams::default(), s).await.map(|_| ()),
            Action::Update(s) => api
                .replace(&s.name_any(), &PostParams::default(), s)
                .await
                .map(|_| ()),
            Action::Delete(name) => api.delete(name, &DeleteParams::default()).await.map(|_| ()),
        };
        match r {
            Ok(()) => {}
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => again = true,
            Err(e) => return Err(e),
        }
    }
    Ok(if again {
        Requeue::After(std::time::Duration::from_millis(100))
    } else {
        Requeue::Done
    })
}

struct Shared {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    slices: Store<EndpointSlice>,
}

/// Runs the controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("endpoint_slice", ctx.metrics.clone());
    let q = queue.clone();
    let (services, _s) = informer::spawn(
        Api::<Service>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(s) | Change::Deleted(s) | Change::Updated { new: s, .. } => {
                q.add(key_of(&*s))
            }
        },
    );
    let (pods, _p) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        endpoints::on_pod(services.clone(), queue.clone()),
    );
    let (nodes, _n) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        |_| {},
    );
    let q = queue.clone();
    let (slices, _e) = informer::spawn(
        Api::<EndpointSlice>::all(ctx.client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")),
        move |change| match change {
            Change::Added(_) => {}
            Change::Deleted(s) | Change::Updated { new: s, .. } => {
                if let Some(k) = slice_owner_key(&s, MANAGED_BY) {
                    q.add(k);
                }
            }
        },
    );
    for ready in [
        services.wait_until_ready().await,
        pods.wait_until_ready().await,
        nodes.wait_until_ready().await,
        slices.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        services,
        pods,
        nodes,
        slices,
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let s = shared.clone();
        async move { s.sync(&key).await }
    })
    .await;
}

/// The labels of a Service's slices: its own (minus the reserved ones) plus ours.
fn slice_labels(svc: &Service, managed_by: &str) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| {
            ![SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), managed_by.into());
    if pods::is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

impl Shared {
    async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let existing = slices_of(&self.slices, key, MANAGED_BY);
        let svc = self.services.get(&ObjectRef::new(name).within(ns));
        let Some(svc) = svc.filter(|s| pods::selector(s).is_some()) else {
            // No Service (its slices go with it through the garbage collector, but do not
            // wait for that) or no selector: none of ours.
            let deletes = existing
                .iter()
                .map(|s| Action::Delete(s.name_any()))
                .collect();
            return Ok(apply(&self.client, ns, deletes).await?);
        };
        if svc.metadata.deletion_timestamp.is_some() {
            return Ok(Requeue::Done);
        }
        let sel = pods::selector(&svc).cloned().unwrap_or_default();
        let selected: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns) && pods::matches(&sel, p))
            .collect();
        let nodes = |n: &str| self.nodes.get(&ObjectRef::new(n));
        let groups = desired::groups(&svc, selected.iter().map(|p| &**p), &nodes);
        let trigger = selected
            .iter()
            .filter_map(|p| pods::trigger_time(p))
            .chain(svc.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .max();
        let meta = SliceMeta {
            namespace: ns.into(),
            generate_name: format!("{name}-"),
            labels: slice_labels(&svc, MANAGED_BY),
            annotations: trigger
                .map(|t| (TRIGGER_TIME_ANNOTATION.to_string(), pods::rfc3339(t)))
                .into_iter()
                .collect(),
            owner: OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: name.into(),
                uid: svc.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        };
        let actions = plan::plan(
            &existing,
            &groups,
            &meta,
            plan::MAX_ENDPOINTS_PER_SLICE,
            true,
        );
        Ok(apply(&self.client, ns, actions).await?)
    }
}
