//! Rollback. kubectl's `rollout undo` rolls back client-side: it copies the chosen
//! ReplicaSet's template (and annotations) into the Deployment, and the rollout that follows
//! finds that ReplicaSet as the new one and raises its revision (keeping the old numbers in
//! `revision-history`). The controller also honours upstream's legacy request, the
//! `deprecated.deployment.rollback.to` annotation (revision 0: the previous one), doing the
//! same copy itself, then clearing the request.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::Error;
use super::annotations::{ROLLBACK_TO, rolled_back_annotations};
use super::hash::POD_TEMPLATE_HASH;
use super::replicasets::{
    deployment_template, equal_ignore_hash, last_revision, revision, template,
};
use super::sync::Controller;
use crate::workqueue::Requeue;

/// Upstream's rollback event reasons.
pub mod reasons {
    /// Rolled back.
    pub const DONE: &str = "DeploymentRollback";
    /// No ReplicaSet has the revision asked for.
    pub const REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
    /// The revision's template is the current one.
    pub const TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";
}

/// The revision the legacy annotation asks to roll back to (`None`: no valid request).
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    d.metadata
        .annotations
        .as_ref()?
        .get(ROLLBACK_TO)?
        .parse()
        .ok()
}

impl Controller {
    /// Performs the legacy rollback request.
    pub async fn rollback(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<Requeue, Error> {
        let (new, old) = self.get_all_replica_sets(d, rs_list, true).await?;
        let all: Vec<&ReplicaSet> = old.iter().chain(new.as_ref()).collect();
        let mut to = rollback_to(d).unwrap_or(0);
        if to == 0 {
            to = last_revision(all.iter().copied());
            if to == 0 {
                self.event(
                    d,
                    true,
                    reasons::REVISION_NOT_FOUND,
                    "Unable to find last revision.".into(),
                );
                return self.update_and_clear_rollback(d).await;
            }
        }
        let Some(target) = all.iter().find(|rs| revision(rs) == Some(to)) else {
            self.event(
                d,
                true,
                reasons::REVISION_NOT_FOUND,
                "Unable to find the revision to rollback to.".into(),
            );
            return self.update_and_clear_rollback(d).await;
        };
        let mut rs_template = template(target);
        if equal_ignore_hash(&deployment_template(d), &rs_template) {
            self.event(
                d,
                true,
                reasons::TEMPLATE_UNCHANGED,
                format!(
                    "The rollback revision contains the same template as current deployment \"{}\"",
                    d.name_any()
                ),
            );
            return self.update_and_clear_rollback(d).await;
        }
        if let Some(labels) = rs_template
            .metadata
            .as_mut()
            .and_then(|m| m.labels.as_mut())
        {
            labels.remove(POD_TEMPLATE_HASH);
        }
        let annotations = rolled_back_annotations(d, target);
        d.metadata.annotations = Some(annotations);
        if let Some(spec) = d.spec.as_mut() {
            spec.template = rs_template;
        }
        let done = self.update_and_clear_rollback(d).await;
        if done.is_ok() {
            self.event(
                d,
                false,
                reasons::DONE,
                format!(
                    "Rolled back deployment \"{}\" to revision {to}",
                    d.name_any()
                ),
            );
        }
        done
    }

    /// Drops the rollback request and writes the Deployment.
    async fn update_and_clear_rollback(&self, d: &mut Deployment) -> Result<Requeue, Error> {
        if let Some(a) = d.metadata.annotations.as_mut() {
            a.remove(ROLLBACK_TO);
        }
        let api: Api<Deployment> =
            Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        *d = api
            .replace(&d.name_any(), &PostParams::default(), d)
            .await?;
        Ok(Requeue::Done)
    }
}
