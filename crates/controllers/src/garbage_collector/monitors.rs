//! The monitors (upstream's per-resource metadata informers): one metadata-only list-watch per
//! stored resource, feeding every change into the graph and the work it yields into the
//! workers' queues. After a relist, nodes the list no longer holds are treated as deleted.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use rkube_api::resources::{BUILTIN, ResourceInfo, is_storage_version, is_virtual};

use super::Shared;
use super::graph::{Identity, Meta, Owner};

/// Resources the garbage collector never tracks (upstream's default ignored resources).
fn ignored(info: &ResourceInfo) -> bool {
    info.kind == "Event" && (info.group.is_empty() || info.group == "events.k8s.io")
}

/// Every resource to monitor: each stored resource once (other versions are views of it).
pub fn resources() -> Vec<&'static ResourceInfo> {
    BUILTIN
        .iter()
        .filter(|r| !is_virtual(r) && is_storage_version(r) && !ignored(r))
        .collect()
}

fn meta_of(info: &ResourceInfo, obj: &PartialObjectMeta<DynamicObject>) -> Option<Meta> {
    let m = &obj.metadata;
    let uid = m.uid.clone()?;
    let owners = m
        .owner_references
        .iter()
        .flatten()
        .map(|r| Owner {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
            block_owner_deletion: r.block_owner_deletion == Some(true),
        })
        .collect();
    Some(Meta {
        id: Identity {
            api_version: info.api_version(),
            kind: info.kind.into(),
            namespace: m.namespace.clone().filter(|n| !n.is_empty()),
            name: m.name.clone().unwrap_or_default(),
            uid,
        },
        owners,
        being_deleted: m.deletion_timestamp.is_some(),
        finalizers: m.finalizers.clone().unwrap_or_default(),
    })
}

/// Watches `info` (monitor number `index`) until dropped; bumps `synced` after its first
/// complete list.
pub async fn run(
    shared: Arc<Shared>,
    index: usize,
    info: &'static ResourceInfo,
    synced: tokio::sync::watch::Sender<usize>,
) {
    let gvk = GroupVersionKind::gvk(info.group, info.version, info.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, info.plural);
    // Metadata-only: the graph needs nothing else, and objects stay small.
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::all_with(shared.client.clone(), &resource);
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut relist: Option<HashSet<String>> = None;
    let mut first_sync = true;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(resource = info.plural, error = %e, "garbage collector watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Apply(obj) | Event::InitApply(obj) => {
                let Some(meta) = meta_of(info, &obj) else {
                    continue;
                };
                if let Some(seen) = relist.as_mut() {
                    seen.insert(meta.id.uid.clone());
                }
                shared.upsert(index, meta);
            }
            Event::Delete(obj) => {
                if let Some(uid) = obj.metadata.uid.as_deref() {
                    shared.remove(uid);
                }
            }
            Event::Init => relist = Some(HashSet::new()),
            Event::InitDone => {
                let seen = relist.take().unwrap_or_default();
                let gone: Vec<String> = shared
                    .graph()
                    .seen_by(index)
                    .into_iter()
                    .filter(|uid| !seen.contains(uid))
                    .collect();
                for uid in gone {
                    shared.remove(&uid);
                }
                if first_sync {
                    first_sync = false;
                    synced.send_modify(|n| *n += 1);
                }
            }
        }
    }
}
