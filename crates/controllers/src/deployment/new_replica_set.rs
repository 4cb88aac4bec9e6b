//! The new ReplicaSet (upstream's `getNewReplicaSet`): the one running the Deployment's
//! current template, its revision raised above every old one; created when asked — named
//! `<deployment>-<hash>`, the hash added to its selector, template and labels, sized by the
//! strategy — with the `ScalingReplicaSet` event and the Progressing condition
//! (NewReplicaSetCreated / FoundNewReplicaSet). A name taken by another template is a hash
//! collision: `status.collisionCount` is raised and the next sync tries the next name.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::ObjectRef;

use super::annotations::{
    MAX_REVISION_HISTORY_CHARS, set_deployment_revision, set_new_replica_set_annotations,
};
use super::conditions::{self, reasons, types};
use super::fenceposts::{desired, is_rolling_update, max_surge};
use super::handlers::controller_of;
use super::hash::{self, POD_TEMPLATE_HASH};
use super::replicasets::{
    deployment_template, equal_ignore_hash, find_new, max_revision, replicas, sum_replicas,
    template,
};
use super::status::progress_deadline;
use super::sync::Controller;
use super::{Error, SCALING_REPLICA_SET};
use crate::pod_control::controller_ref;

/// How many pods the new ReplicaSet may have now (upstream's `NewRSNewReplicas`): for a
/// rolling update, up to replicas + maxSurge in total and never above replicas; for Recreate,
/// all of them.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    let want = desired(d);
    if !is_rolling_update(d) {
        return want;
    }
    let current = sum_replicas(all.iter().copied());
    let max_total = want + max_surge(d);
    if current >= max_total {
        return replicas(new);
    }
    let up = (max_total - current).min(want - replicas(new));
    replicas(new) + up
}

impl Controller {
    /// (new, old): the new ReplicaSet (created if `create` and missing) and all the others.
    pub async fn get_all_replica_sets(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let idx = find_new(d, rs_list);
        let old: Vec<ReplicaSet> = rs_list
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != idx)
            .map(|(_, rs)| rs.clone())
            .collect();
        let new = match idx {
            Some(i) => {
                let rs = self.sync_existing_new(d, &rs_list[i], &old).await?;
                rs_list[i] = rs.clone();
                Some(rs)
            }
            None if create => Some(self.create_new(d, &old).await?),
            None => None,
        };
        Ok((new, old))
    }

    /// Brings the existing new ReplicaSet's annotations and minReadySeconds up to date, then
    /// the Deployment's revision (and Progressing condition, when it has none yet).
    async fn sync_existing_new(
        &self,
        d: &mut Deployment,
        rs: &ReplicaSet,
        old: &[ReplicaSet],
    ) -> Result<ReplicaSet, Error> {
        let new_revision = max_revision(old) + 1;
        let mut copy = rs.clone();
        let annotations_changed = set_new_replica_set_annotations(
            d,
            &mut copy,
            new_revision,
            true,
            MAX_REVISION_HISTORY_CHARS,
        );
        let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let spec = copy.spec.get_or_insert_with(Default::default);
        let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
        if annotations_changed || min_ready_changed {
            spec.min_ready_seconds = min_ready;
            let api: Api<ReplicaSet> =
                Api::namespaced(self.client.clone(), &rs.namespace().unwrap_or_default());
            return Ok(api
                .replace(&rs.name_any(), &PostParams::default(), &copy)
                .await?);
        }
        let revision = copy
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(super::annotations::REVISION))
            .cloned()
            .unwrap_or_default();
        let revision_changed = set_deployment_revision(d, &revision);
        let has_deadline = progress_deadline(d).is_some();
        let status = d.status.get_or_insert_with(Default::default);
        let mut status_changed = false;
        if has_deadline && conditions::get(status, types::PROGRESSING).is_none() {
            let c = conditions::new(
                types::PROGRESSING,
                "True",
                reasons::FOUND_NEW_RS,
                format!("Found new replica set \"{}\"", copy.name_any()),
                Timestamp::now(),
            );
            conditions::set(status, c);
            status_changed = true;
        }
        if revision_changed || status_changed {
            self.write_status(d, revision_changed).await?;
        }
        Ok(copy)
    }

    /// Creates the new ReplicaSet for `d`'s template.
    async fn create_new(
        &self,
        d: &mut Deployment,
        old: &[ReplicaSet],
    ) -> Result<ReplicaSet, Error> {
        let ns = d.namespace().unwrap_or_default();
        let new_revision = max_revision(old) + 1;
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = deployment_template(d);
        let hash = hash::compute(&template, collision);
        let labels = {
            let meta = template.metadata.get_or_insert_with(Default::default);
            let labels = meta.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
            labels.clone()
        };
        let mut selector: LabelSelector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{hash}", d.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![controller_ref(d)]),
                labels: Some(labels),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let size = {
            let all: Vec<&ReplicaSet> = old.iter().chain([&rs]).collect();
            new_rs_new_replicas(d, &all, &rs)
        };
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(size);
        }
        set_new_replica_set_annotations(
            d,
            &mut rs,
            new_revision,
            false,
            MAX_REVISION_HISTORY_CHARS,
        );
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        let (created, already_existed) = match api.create(&PostParams::default(), &rs).await {
            Ok(created) => (created, false),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Ours already (a stale cache), or another template's: a hash collision.
                let existing = self.replicasets.get(&ObjectRef::new(&name).within(&ns));
                match existing {
                    Some(e)
                        if controller_of(&e.metadata).map(|r| r.uid.as_str())
                            == d.metadata.uid.as_deref()
                            && equal_ignore_hash(&deployment_template(d), &template_of(&e)) =>
                    {
                        ((*e).clone(), true)
                    }
                    Some(_) => {
                        let status = d.status.get_or_insert_with(Default::default);
                        status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                        self.write_status(d, false).await?;
                        return Err(Error::HashCollision(name));
                    }
                    None => return Err(kube::Error::Api(s).into()),
                }
            }
            Err(e) => {
                let namespace_terminating = matches!(&e, kube::Error::Api(s)
                    if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")));
                if !namespace_terminating {
                    let msg = format!(
                        "Failed to create new replica set \"{name}\": {}",
                        crate::pod_control::api_message(&e)
                    );
                    if progress_deadline(d).is_some() {
                        let c = conditions::new(
                            types::PROGRESSING,
                            "False",
                            reasons::FAILED_RS_CREATE,
                            msg.clone(),
                            Timestamp::now(),
                        );
                        conditions::set(d.status.get_or_insert_with(Default::default), c);
                        // The create error is the one to report.
                        let _ = self.write_status(d, false).await;
                    }
                    self.event(d, true, reasons::FAILED_RS_CREATE, msg);
                }
                return Err(e.into());
            }
        };
        if !already_existed && size > 0 {
            self.event(
                d,
                false,
                SCALING_REPLICA_SET,
                format!("Scaled up replica set {name} from 0 to {size}"),
            );
        }
        let revision_changed = set_deployment_revision(d, &new_revision.to_string());
        let mut status_changed = false;
        if !already_existed && progress_deadline(d).is_some() {
            let c = conditions::new(
                types::PROGRESSING,
                "True",
                reasons::NEW_RS_CREATED,
                format!("Created new replica set \"{name}\""),
                Timestamp::now(),
            );
            conditions::set(d.status.get_or_insert_with(Default::default), c);
            status_changed = true;
        }
        if revision_changed || status_changed {
            self.write_status(d, revision_changed).await?;
        }
        Ok(created)
    }
}

fn template_of(rs: &ReplicaSet) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    template(rs)
}
