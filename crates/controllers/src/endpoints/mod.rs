//! The Endpoints controller (`endpoints-controller`), as upstream's: for every Service with a
//! selector it keeps an Endpoints object of the same name listing its pods' addresses — ready
//! ones in `addresses`, the rest in `notReadyAddresses` (all ready with
//! `publishNotReadyAddresses`) — per port set, named target ports resolved per pod, at most
//! 1000 addresses (then annotated `endpoints.kubernetes.io/over-capacity: truncated`).
//!
//! Services without a selector are left alone (users write their Endpoints; the mirroring
//! controller turns those into EndpointSlices). The Endpoints it writes carry
//! `endpointslice.kubernetes.io/skip-mirror: "true"` so they are not mirrored.
//!
//! - [`pods`]: which pods back a Service, readiness, port resolution (shared with the
//!   EndpointSlice controllers);
//! - [`desired`]: the subsets, pure.

pub mod desired;
pub mod pods;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::context::Context;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The annotation saying when the change the Endpoints reflect happened.
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// The annotation marking Endpoints cut at [`desired::MAX_CAPACITY`] addresses.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// The label telling the mirroring controller to leave an Endpoints alone.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// The label marking a headless Service's endpoints.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// What went wrong syncing a Service's Endpoints (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// `namespace/name`.
pub fn key_of<K: kube::Resource>(o: &K) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

/// The keys of the Services in `pod`'s namespace whose selector matches it.
pub fn services_of(services: &Store<Service>, pod: &Pod) -> Vec<String> {
    let ns = pod.namespace();
    services
        .state()
        .iter()
        .filter(|s| s.namespace() == ns)
        .filter(|s| pods::selector(s).is_some_and(|sel| pods::matches(sel, pod)))
        .map(|s| key_of(&**s))
        .collect()
}

/// The handler of pod changes: the Services selecting the pod before or after.
pub fn on_pod(
    services: Store<Service>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<Pod>) + Send + Sync + 'static {
    move |change| match change {
        Change::Added(p) | Change::Deleted(p) => {
            for k in services_of(&services, &p) {
                queue.add(k);
            }
        }
        Change::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                return;
            }
            let mut keys = services_of(&services, &new);
            if old.metadata.labels != new.metadata.labels {
                keys.extend(services_of(&services, &old));
            }
            for k in keys {
                queue.add(k);
            }
        }
    }
}

struct Shared {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
}

/// Runs the controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("endpoint", ctx.metrics.clone());
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
        on_pod(services.clone(), queue.clone()),
    );
    let q = queue.clone();
    let (endpoints, _e) = informer::spawn(
        Api::<Endpoints>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(_) => {}
            Change::Deleted(e) | Change::Updated { new: e, .. } => q.add(key_of(&*e)),
        },
    );
    for ready in [
        services.wait_until_ready().await,
        pods.wait_until_ready().await,
        endpoints.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        services,
        pods,
        endpoints,
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let s = shared.clone();
        async move { s.sync(&key).await }
    })
    .await;
}

impl Shared {
    async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let api = Api::<Endpoints>::namespaced(self.client.clone(), ns);
        let existing = self.endpoints.get(&ObjectRef::new(name).within(ns));
        let Some(svc) = self.services.get(&ObjectRef::new(name).within(ns)) else {
            if existing.is_some() {
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(Requeue::Done);
        };
        let Some(sel) = pods::selector(&svc) else {
            return Ok(Requeue::Done);
        };
        if svc.metadata.deletion_timestamp.is_some() {
            return Ok(Requeue::Done);
        }
        let selected: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns) && pods::matches(sel, p))
            .collect();
        let mut subsets = desired::canonical(desired::subsets(&svc, selected.iter().map(|p| &**p)));
        let truncated = desired::truncate(&mut subsets);
        let mut labels: BTreeMap<String, String> = svc.labels().clone();
        labels.insert(SKIP_MIRROR_LABEL.into(), "true".into());
        if pods::is_headless(&svc) {
            labels.insert(HEADLESS_LABEL.into(), String::new());
        } else {
            labels.remove(HEADLESS_LABEL);
        }
        if let Some(cur) = &existing {
            let cur_subsets = desired::canonical(cur.subsets.clone().unwrap_or_default());
            let cur_truncated = cur.annotations().contains_key(OVER_CAPACITY_ANNOTATION);
            if cur_subsets == subsets && cur.labels() == &labels && cur_truncated == truncated {
                return Ok(Requeue::Done);
            }
        }
        let trigger = selected
            .iter()
            .filter_map(|p| pods::trigger_time(p))
            .chain(svc.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .max();
        let mut ep = match &existing {
            Some(cur) => (**cur).clone(),
            None => Endpoints {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(ns.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        ep.metadata.labels = Some(labels);
        let annotations = ep.metadata.annotations.get_or_insert_with(BTreeMap::new);
        if let Some(t) = trigger {
            annotations.insert(TRIGGER_TIME_ANNOTATION.into(), pods::rfc3339(t));
        }
        if truncated {
            annotations.insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
        } else {
            annotations.remove(OVER_CAPACITY_ANNOTATION);
        }
        ep.subsets = (!subsets.is_empty()).then_some(subsets);
        let result = if existing.is_some() {
            api.replace(name, &PostParams::default(), &ep).await
        } else {
            api.create(&PostParams::default(), &ep).await
        };
        match result {
            Ok(_) => Ok(Requeue::Done),
            // The Service went away meanwhile, or our cache is behind: look again.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                Ok(Requeue::After(std::time::Duration::from_millis(100)))
            }
            Err(e) => Err(e.into()),
        }
    }
}
