//! The EndpointSlice mirroring controller (`endpointslice-mirroring-controller`), as upstream's:
//! the Endpoints of a Service without a selector (written by hand) are mirrored into
//! EndpointSlices managed by `endpointslicemirroring-controller.k8s.io`, owned by the
//! Endpoints. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (those the
//! Endpoints controller writes) are not mirrored. Addresses become ready endpoints,
//! `notReadyAddresses` not-ready ones; at most 1000 per subset are mirrored.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use super::plan::{self, Action, Group, SliceMeta};
use super::{Error, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, apply, slice_owner_key, slices_of};
use crate::context::Context;
use crate::endpoints::{SKIP_MIRROR_LABEL, TRIGGER_TIME_ANNOTATION, key_of, pods};
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// This controller's `managed-by` value.
pub const MANAGED_BY: &str = "endpointslicemirroring-controller.k8s.io";
/// At most this many addresses of one subset are mirrored (upstream's
/// `--mirroring-max-endpoints-per-subset`).
pub const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;

struct Shared {
    client: Client,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
}

/// Runs the controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("endpoint_slice_mirroring", ctx.metrics.clone());
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
    let q = queue.clone();
    let (endpoints, _e) = informer::spawn(
        Api::<Endpoints>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(e) | Change::Deleted(e) | Change::Updated { new: e, .. } => {
                q.add(key_of(&*e))
            }
        },
    );
    let q = queue.clone();
    let (slices, _l) = informer::spawn(
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
        endpoints.wait_until_ready().await,
        slices.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        services,
        endpoints,
        slices,
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let s = shared.clone();
        async move { s.sync(&key).await }
    })
    .await;
}

fn to_endpoint(a: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        hostname: a.hostname.clone(),
        node_name: a.node_name.clone(),
        target_ref: a.target_ref.clone(),
        ..Default::default()
    }
}

/// The groups mirroring `ep`'s subsets (invalid addresses skipped).
pub fn groups(ep: &Endpoints) -> Vec<Group> {
    let mut out: BTreeMap<(String, String), Group> = BTreeMap::new();
    for subset in ep.subsets.iter().flatten() {
        let mut ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        ports.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
        let addrs = subset
            .addresses
            .iter()
            .flatten()
            .map(|a| (a, true))
            .chain(
                subset
                    .not_ready_addresses
                    .iter()
                    .flatten()
                    .map(|a| (a, false)),
            )
            .take(MAX_ENDPOINTS_PER_SUBSET);
        for (a, ready) in addrs {
            let fam = match a.ip.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => "IPv4",
                Ok(IpAddr::V6(_)) => "IPv6",
                Err(_) => continue,
            };
            let key = (
                fam.to_string(),
                serde_json::to_string(&ports).unwrap_or_default(),
            );
            out.entry(key)
                .or_insert_with(|| Group {
                    address_type: fam.into(),
                    ports: ports.clone(),
                    endpoints: Vec::new(),
                })
                .endpoints
                .push(to_endpoint(a, ready));
        }
    }
    out.into_values().collect()
}

impl Shared {
    async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let existing = slices_of(&self.slices, key, MANAGED_BY);
        let svc = self.services.get(&ObjectRef::new(name).within(ns));
        let ep = self.endpoints.get(&ObjectRef::new(name).within(ns));
        let mirrored = match (&svc, &ep) {
            (Some(svc), Some(ep)) => {
                pods::selector(svc).is_none()
                    && ep.labels().get(SKIP_MIRROR_LABEL).map(String::as_str) != Some("true")
                    && ep.metadata.deletion_timestamp.is_none()
            }
            _ => false,
        };
        let Some(ep) = ep.filter(|_| mirrored) else {
            let deletes = existing
                .iter()
                .map(|s| Action::Delete(s.name_any()))
                .collect();
            return Ok(apply(&self.client, ns, deletes).await?);
        };
        let mut labels: BTreeMap<String, String> = ep
            .labels()
            .iter()
            .filter(|(k, _)| k.as_str() != MANAGED_BY_LABEL && k.as_str() != SERVICE_NAME_LABEL)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.insert(SERVICE_NAME_LABEL.into(), name.into());
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        let annotations = ep
            .annotations()
            .iter()
            .filter(|(k, _)| {
                k.as_str() != TRIGGER_TIME_ANNOTATION
                    && k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let meta = SliceMeta {
            namespace: ns.into(),
            generate_name: format!("{name}-"),
            labels,
            annotations,
            owner: OwnerReference {
                api_version: "v1".into(),
                kind: "Endpoints".into(),
                name: name.into(),
                uid: ep.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        };
        let actions = plan::plan(
            &existing,
            &groups(&ep),
            &meta,
            plan::MAX_ENDPOINTS_PER_SLICE,
            false,
        );
        Ok(apply(&self.client, ns, actions).await?)
    }
}
