//! A DaemonSet's ControllerRevisions (upstream's `constructHistory`, `snapshot`,
//! `dedupCurHistories` and `cleanupHistory`): the revision whose data equals the template is
//! current (renumbered to be the newest), created if missing and named `<set>-<hash>` with the
//! template hash; duplicates are merged; old revisions beyond `revisionHistoryLimit` that no
//! pod uses are deleted.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use super::Error;
use crate::history::{
    History, REVISION_LABEL, compute_hash, data_bytes, sort_revisions, template_patch,
};
use crate::pod_control::controller_ref;

/// The current revision and the older ones.
pub struct Constructed {
    /// The revision of the set's template.
    pub current: ControllerRevision,
    /// The rest, unsorted.
    pub old: Vec<Arc<ControllerRevision>>,
}

/// The current revision's hash (its `controller-revision-hash` label).
pub fn hash_of(r: &ControllerRevision) -> String {
    r.labels().get(REVISION_LABEL).cloned().unwrap_or_default()
}

/// Finds, creates or renumbers the current revision among the set's claimed `revisions`.
pub async fn construct(
    client: &Client,
    history: &History,
    ds: &DaemonSet,
    revisions: Vec<Arc<ControllerRevision>>,
    pods: &[Arc<Pod>],
) -> Result<Constructed, Error> {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let patch = template_patch(&template)?;
    let ns = ds.namespace().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let (mut current, mut old) = (Vec::new(), Vec::new());
    for r in revisions {
        let r = if r.labels().contains_key(REVISION_LABEL) {
            r
        } else {
            // Label it with its name, as upstream, so pods can refer to it.
            let p = serde_json::json!({"metadata": {"labels": {REVISION_LABEL: r.name_any()}}});
            Arc::new(
                api.patch(&r.name_any(), &PatchParams::default(), &Patch::Merge(&p))
                    .await?,
            )
        };
        if data_bytes(&r) == patch {
            current.push(r);
        } else {
            old.push(r);
        }
    }
    let next = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    let current = if current.is_empty() {
        snapshot(client, ds, next, patch).await?
    } else {
        let keep = dedup(client, history, current, pods).await?;
        history.renumber(&keep, next.max(keep.revision)).await?
    };
    Ok(Constructed { current, old })
}

/// Keeps the newest of several equal revisions: pods of the others are relabelled to it and
/// the others deleted.
async fn dedup(
    client: &Client,
    history: &History,
    mut current: Vec<Arc<ControllerRevision>>,
    pods: &[Arc<Pod>],
) -> Result<ControllerRevision, Error> {
    sort_revisions(&mut current);
    let Some(keep) = current.pop() else {
        return Err(Error::History("no revision to keep".into()));
    };
    let keep_hash = hash_of(&keep);
    for dup in current {
        let dup_hash = hash_of(&dup);
        for pod in pods
            .iter()
            .filter(|p| p.labels().get(REVISION_LABEL) == Some(&dup_hash))
        {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            let p = serde_json::json!({"metadata": {"labels": {REVISION_LABEL: keep_hash}}});
            api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&p))
                .await?;
        }
        history.delete(&dup).await?;
    }
    Ok((*keep).clone())
}

/// Creates the revision of the set's template (upstream's `snapshot`); a different revision
/// holding the name bumps `status.collisionCount` and fails the sync, which retries with the
/// new name.
async fn snapshot(
    client: &Client,
    ds: &DaemonSet,
    revision: i64,
    patch: Vec<u8>,
) -> Result<ControllerRevision, Error> {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = compute_hash(&template, collisions);
    let name = format!("{}-{hash}", ds.name_any());
    let ns = ds.namespace().unwrap_or_default();
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), hash);
    let cr = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(serde_json::from_slice(&patch)?)),
        revision,
    };
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    match api.create(&PostParams::default(), &cr).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = api.get(&name).await?;
            if data_bytes(&existing) == patch {
                return Ok(existing);
            }
            let sets: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
            let bumped = collisions.unwrap_or(0).saturating_add(1);
            sets.patch_status(
                &ds.name_any(),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {"collisionCount": bumped}})),
            )
            .await?;
            Err(Error::History(format!(
                "found a hash collision for DaemonSet {:?}; bumped collisionCount to {bumped}",
                ds.name_any()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes old revisions beyond `revisionHistoryLimit` that no pod is labelled with, oldest
/// first.
pub async fn cleanup(
    history: &History,
    ds: &DaemonSet,
    mut old: Vec<Arc<ControllerRevision>>,
    pods: &[Arc<Pod>],
) -> Result<(), Error> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10)
        .max(0) as usize;
    if old.len() <= limit {
        return Ok(());
    }
    let mut to_kill = old.len() - limit;
    let live: HashSet<&String> = pods
        .iter()
        .filter_map(|p| p.labels().get(REVISION_LABEL))
        .collect();
    sort_revisions(&mut old);
    for r in old {
        if to_kill == 0 {
            break;
        }
        if live.contains(&hash_of(&r)) {
            continue;
        }
        history.delete(&r).await?;
        to_kill -= 1;
    }
    Ok(())
}
