//! The resource quota controller: each ResourceQuota's `status.hard` mirrors `spec.hard`, and
//! `status.used` is what the namespace's objects use of it (compute resources of non-terminal
//! pods, object counts), recomputed from the apiserver's lists. Quota changes and changes of
//! the counted core objects (pods, services, configmaps, secrets, claims, replication
//! controllers) enqueue the namespace's quotas; every quota is also recomputed every five
//! minutes (upstream's resync), which catches the other `count/<resource>` kinds.
//!
//! The apiserver's admission charges creates to `status.used` at once; this controller is
//! what returns deleted objects' use and corrects any drift.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Secret, Service,
};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use rkube_api::quota::{add_into, parse_list, resource_for, resource_info, usage_of, with_zeros};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::Context;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// How often every quota is recomputed regardless of changes (upstream's default resync).
pub const RESYNC: Duration = Duration::from_secs(5 * 60);

/// What went wrong (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// An object could not be turned into JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

struct Shared {
    client: Client,
    quotas: Store<ResourceQuota>,
}

/// The queue key of a quota.
fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Enqueues every quota of `ns` (from the quota cache).
fn enqueue_namespace(quotas: &Store<ResourceQuota>, queue: &WorkQueue<String>, ns: &str) {
    for q in quotas.state() {
        if q.namespace().as_deref() == Some(ns) {
            queue.add(key(ns, &q.name_any()));
        }
    }
}

/// Watches `K` everywhere and enqueues the quotas of the namespace of anything that changes.
fn watch_counted<K>(
    client: &Client,
    quotas: Store<ResourceQuota>,
    queue: WorkQueue<String>,
) -> informer::WatchTask
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (_store, task) = informer::spawn(
        Api::<K>::all(client.clone()),
        watcher::Config::default(),
        move |change: Change<K>| {
            let ns = match &change {
                Change::Added(o) | Change::Updated { new: o, .. } | Change::Deleted(o) => {
                    o.namespace()
                }
            };
            if let Some(ns) = ns {
                enqueue_namespace(&quotas, &queue, &ns);
            }
        },
    );
    task
}

/// Runs the controller until dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("resourcequota", ctx.metrics.clone());
    let q = queue.clone();
    let (quotas, _quota_task) = informer::spawn(
        Api::<ResourceQuota>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(rq) | Change::Updated { new: rq, .. } => {
                q.add(key(&rq.namespace().unwrap_or_default(), &rq.name_any()))
            }
            Change::Deleted(_) => {}
        },
    );
    quotas.wait_until_ready().await.ok();
    let c = &ctx.client;
    let _tasks = [
        watch_counted::<Pod>(c, quotas.clone(), queue.clone()),
        watch_counted::<Service>(c, quotas.clone(), queue.clone()),
        watch_counted::<ConfigMap>(c, quotas.clone(), queue.clone()),
        watch_counted::<Secret>(c, quotas.clone(), queue.clone()),
        watch_counted::<PersistentVolumeClaim>(c, quotas.clone(), queue.clone()),
        watch_counted::<ReplicationController>(c, quotas.clone(), queue.clone()),
    ];
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        quotas,
    });
    run_workers(queue, ctx.workers, move |k: String| {
        let shared = shared.clone();
        async move { reconcile(&shared, &k).await }
    })
    .await;
}

/// What the namespace's objects use of `quota` (JSON), from fresh lists.
async fn compute_used(client: &Client, ns: &str, quota: &Value) -> Result<Value, Error> {
    let hard = parse_list(&quota["spec"]["hard"]);
    let mut kinds: Vec<(String, String)> = hard.keys().filter_map(|k| resource_for(k)).collect();
    kinds.sort();
    kinds.dedup();
    let mut total = rkube_api::quota::Usage::new();
    for (group, plural) in kinds {
        let Some(info) = resource_info(&group, &plural).filter(|i| i.namespaced) else {
            continue;
        };
        let ar = ApiResource {
            group: info.group.to_string(),
            version: info.version.to_string(),
            api_version: info.api_version(),
            kind: info.kind.to_string(),
            plural: info.plural.to_string(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let list = api.list(&ListParams::default()).await?;
        let objects = list
            .items
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<Value>, _>>()?;
        add_into(&mut total, &usage_of(quota, &group, &plural, &objects));
    }
    Ok(rkube_api::quota::to_json(&with_zeros(&total, &hard)))
}

/// Whether two JSON resource lists hold the same quantities.
fn same_list(a: &Value, b: &Value) -> bool {
    let (a, b) = (parse_list(a), parse_list(b));
    a.len() == b.len()
        && a.iter().all(|(k, q)| {
            b.get(k)
                .is_some_and(|o| o.cmp_value(q) == std::cmp::Ordering::Equal)
        })
}

/// `new` plus a null for each key of `old` it lacks.
fn with_removed(old: &Value, mut new: Value) -> Value {
    if let (Some(old), Some(n)) = (old.as_object(), new.as_object_mut()) {
        for k in old.keys() {
            n.entry(k.clone()).or_insert(Value::Null);
        }
    }
    new
}

async fn reconcile(s: &Shared, k: &str) -> Result<Requeue, Error> {
    let Some((ns, name)) = k.split_once('/') else {
        return Ok(Requeue::Done);
    };
    let Some(rq) = s
        .quotas
        .get(&kube::runtime::reflector::ObjectRef::new(name).within(ns))
    else {
        return Ok(Requeue::Done);
    };
    let quota = serde_json::to_value(rq.as_ref())?;
    let used = compute_used(&s.client, ns, &quota).await?;
    let hard = quota["spec"]["hard"].clone();
    let hard = if hard.is_object() { hard } else { json!({}) };
    if same_list(&quota["status"]["hard"], &hard) && same_list(&quota["status"]["used"], &used) {
        return Ok(Requeue::After(RESYNC));
    }
    let api: Api<ResourceQuota> = Api::namespaced(s.client.clone(), ns);
    // A merge patch keeps keys it does not name: resources no longer limited are nulled.
    let patch = json!({"status": {
        "hard": with_removed(&quota["status"]["hard"], hard),
        "used": with_removed(&quota["status"]["used"], used),
    }});
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Requeue::After(RESYNC)),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Requeue::Done),
        Err(e) => Err(e.into()),
    }
}
