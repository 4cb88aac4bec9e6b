//! Deleting a namespace's content, one resource type at a time, and tallying what is left:
//! instances per resource, instances per finalizer, and an estimate of how long the rest will
//! take (pods' grace periods, a default for finalizers), as upstream's namespaced resources
//! deleter does.

use std::collections::BTreeMap;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};

use super::discover::Deletable;

/// How long to assume objects carrying finalizers need to go (upstream's default).
pub const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// What is left of a namespace's content after one deletion pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Instances left per resource, keyed `plural.group` (`pods.` for the core group).
    pub resources: BTreeMap<String, usize>,
    /// Instances left per finalizer they carry.
    pub finalizers: BTreeMap<String, usize>,
    /// Seconds the remaining content is expected to take to go.
    pub estimate: i64,
    /// Resource types whose deletion failed, with why (sorted by the caller).
    pub failures: Vec<String>,
}

impl Remaining {
    /// Whether nothing is left and nothing failed.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.failures.is_empty()
    }
}

/// Deletes everything of each type in `types` from `namespace`, then tallies what remains.
pub async fn delete_all(client: &Client, namespace: &str, types: &[Deletable]) -> Remaining {
    let mut out = Remaining::default();
    for t in types {
        if let Err(e) = delete_type(client, namespace, t, &mut out).await {
            out.failures.push(e);
        }
    }
    out
}

async fn delete_type(
    client: &Client,
    namespace: &str,
    t: &Deletable,
    out: &mut Remaining,
) -> Result<(), String> {
    let r = &t.resource;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, r);
    let describe = |e: kube::Error| format!("{}.{}: {e}", r.plural, r.group);
    let lp = ListParams::default();
    // The namespace controller never orphans: everything in the namespace must go.
    let dp = DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let before = api.list_metadata(&lp).await.map_err(describe)?;
    if before.items.is_empty() {
        return Ok(());
    }
    if t.delete_collection {
        api.delete_collection(&dp, &lp).await.map_err(describe)?;
    } else {
        for obj in before
            .items
            .iter()
            .filter(|o| o.metadata.deletion_timestamp.is_none())
        {
            let Some(name) = obj.metadata.name.as_deref() else {
                continue;
            };
            match api.delete(name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(describe(e)),
            }
        }
    }
    let left = api.list(&lp).await.map_err(describe)?;
    if left.items.is_empty() {
        return Ok(());
    }
    out.resources
        .insert(format!("{}.{}", r.plural, r.group), left.items.len());
    let mut estimate = 0;
    for obj in &left.items {
        if r.group.is_empty() && r.plural == "pods" {
            estimate = estimate.max(pod_grace(obj));
        }
        for f in obj.metadata.finalizers.iter().flatten() {
            *out.finalizers.entry(f.clone()).or_default() += 1;
            estimate = estimate.max(FINALIZER_ESTIMATE_SECONDS);
        }
    }
    if estimate == 0 {
        // Neither graceful nor finalized, yet still there: unexpected, report it.
        return Err(format!(
            "unexpected items still remain in namespace: {namespace} for gvr: {}/{}, Resource={}",
            r.group, r.version, r.plural
        ));
    }
    out.estimate = out.estimate.max(estimate);
    Ok(())
}

/// The grace period a pod being deleted still has, else its spec's (30 s by default).
fn pod_grace(pod: &DynamicObject) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.data["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30)
        .max(1)
}
