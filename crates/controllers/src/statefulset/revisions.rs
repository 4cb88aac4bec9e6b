//! A StatefulSet's current and update revisions (upstream's `getStatefulSetRevisions` and
//! `truncateHistory`): the update revision is the set's template as a ControllerRevision —
//! the newest one if unchanged, an older equal one renumbered on a rollback, else a new one;
//! the current revision is the one `status.currentRevision` names (else the update revision).

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::Error;
use super::identity::revision;
use crate::history::{
    History, find_equal, historic_to_delete, new_revision, next_revision, sort_revisions,
    template_patch,
};
use crate::pod_control::controller_ref;

/// The revisions a sync works with.
pub struct Revisions {
    /// The revision pods are at before the update.
    pub current: ControllerRevision,
    /// The revision the set's template is.
    pub update: ControllerRevision,
    /// Name collisions seen so far (`status.collisionCount`).
    pub collision_count: i32,
}

/// Finds or creates the set's revisions; `revisions` are the set's claimed revisions.
pub async fn get(
    history: &History,
    set: &StatefulSet,
    revisions: &mut [Arc<ControllerRevision>],
) -> Result<Revisions, Error> {
    sort_revisions(revisions);
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let spec = set.spec.clone().unwrap_or_default();
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let owner = controller_ref(set);
    let candidate = new_revision(
        &owner,
        &set.namespace().unwrap_or_default(),
        &template_labels,
        template_patch(&spec.template)?,
        next_revision(revisions),
        Some(collision_count),
    )?;
    let equal = find_equal(revisions, &candidate);
    let update = match (equal.last(), revisions.last()) {
        // Unchanged since the newest revision.
        (Some(e), Some(last)) if e.name_any() == last.name_any() => (**last).clone(),
        // Back to an older template: that revision becomes the newest.
        (Some(e), _) => history.renumber(e, candidate.revision).await?,
        (None, _) => {
            history
                .create(&owner, &candidate, &mut collision_count)
                .await?
        }
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_default();
    let current = revisions
        .iter()
        .find(|r| r.name_any() == current_name)
        .map(|r| (**r).clone())
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        current,
        update,
        collision_count,
    })
}

/// Deletes historic revisions beyond `revisionHistoryLimit`, never one a pod or the status
/// still uses.
pub async fn truncate(
    history: &History,
    set: &StatefulSet,
    pods: &[Arc<Pod>],
    revisions: &[Arc<ControllerRevision>],
    live: &Revisions,
) -> Result<(), Error> {
    let mut names: HashSet<String> = pods.iter().map(|p| revision(p).to_string()).collect();
    names.insert(live.current.name_any());
    names.insert(live.update.name_any());
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    for r in historic_to_delete(revisions, &names, limit) {
        history.delete(&r).await?;
    }
    Ok(())
}
