//! One sync of one StatefulSet (upstream's `syncStatefulSet` → `UpdateStatefulSet` →
//! `updateStatefulSet`): claim pods and revisions, find the current and update revisions,
//! then
//! 1. replace failed or succeeded pods, create missing ordinals (claims first) — with
//!    OrderedReady one at a time, each waiting for its predecessors to be Running, Ready and
//!    available; with Parallel all at once in slow-start batches;
//! 2. delete pods whose ordinal is out of range, highest first (OrderedReady: one at a time,
//!    only once the rest are healthy), after handing their claims to the retention policy;
//! 3. RollingUpdate: delete the highest-ordinal pods not at the update revision, down to the
//!    partition, at most `maxUnavailable` unavailable at once; OnDelete: nothing;
//!
//! and write the status, then trim the revision history.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;

use super::identity::{
    claims, identity_matches, in_range, is_member, ordinal, replicas, revision, start_ordinal,
    storage_matches,
};
use super::pending::Pending;
use super::pods::StatefulPodControl;
use super::retention::policy;
use super::status::{
    complete_rolling_update, count, differs, is_available, is_created, is_running_and_ready,
    is_terminating, is_unavailable, patch, phase,
};
use super::{Error, revisions};
use crate::daemonset::strategy::scaled;
use crate::history::{History, template_of};
use crate::pod_control::{SLOW_START_INITIAL_BATCH_SIZE, controller_ref, slow_start_batch};
use crate::replicaset::claim::{Owner, claim_pods, controller_of, recheck_owner};
use crate::workqueue::Requeue;

/// The controller's state shared by its workers.
pub struct Controller {
    /// The apiserver client.
    pub client: Client,
    /// StatefulSets' cache.
    pub sets: Store<StatefulSet>,
    /// Pods' cache.
    pub pods: Store<Pod>,
    /// Revision history.
    pub history: History,
    /// Pod and claim writes.
    pub pod_control: StatefulPodControl,
    /// Writes not yet in the pod cache.
    pub pending: Pending,
}

/// One ordinal's pod: in the cache, or to be created.
enum Slot {
    Existing(Arc<Pod>),
    Missing(Box<Pod>),
}

impl Slot {
    fn pod(&self) -> &Pod {
        match self {
            Slot::Existing(p) => p,
            Slot::Missing(p) => p,
        }
    }
}

/// What one pass decides with.
struct Pass<'a> {
    key: &'a str,
    set: &'a StatefulSet,
    /// The set at its update revision (the template the update revision holds).
    update_set: StatefulSet,
    monotonic: bool,
    min_ready: i32,
    now: Timestamp,
}

fn update_strategy(
    set: &StatefulSet,
) -> (
    bool,
    i32,
    Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
) {
    let s = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let on_delete = s.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
    let ru = s.and_then(|s| s.rolling_update.as_ref());
    (
        on_delete,
        ru.and_then(|r| r.partition).unwrap_or(0),
        ru.and_then(|r| r.max_unavailable.clone()),
    )
}

/// `set` with `template` (upstream's `ApplyRevision` for what revisions hold).
fn with_template(
    set: &StatefulSet,
    revision: &k8s_openapi::api::apps::v1::ControllerRevision,
) -> StatefulSet {
    let mut s = set.clone();
    if let (Some(t), Some(spec)) = (template_of(revision), s.spec.as_mut()) {
        spec.template = t;
    }
    s
}

impl Controller {
    /// Syncs the set `key` (`namespace/name`).
    pub async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let Some(set) = self.sets.get(&ObjectRef::new(name).within(ns)) else {
            self.pending.forget(key);
            return Ok(Requeue::Done);
        };
        let spec = set.spec.clone().unwrap_or_default();
        let Some(selector) = LabelSelector::from_meta(&spec.selector)
            .ok()
            .filter(|s| !s.is_everything())
        else {
            tracing::warn!(statefulset = key, "unusable selector; not managing pods");
            return Ok(Requeue::Done);
        };
        let lookup = |pod: &str| self.pods.get(&ObjectRef::new(pod).within(ns));
        if !self.pending.satisfied(key, lookup) {
            // The pod events that catch the cache up requeue the set.
            return Ok(Requeue::Done);
        }
        let cref = controller_ref(&*set);
        let deleting = set.metadata.deletion_timestamp.is_some();
        let uid = cref.uid.clone();
        let candidates: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns))
            .filter(|p| is_member(&set, p) || controller_of(p).is_some_and(|r| r.uid == uid))
            .collect();
        let pods = claim_pods(
            &self.client,
            &Owner {
                controller_ref: &cref,
                selector: &selector,
                deleting,
            },
            candidates,
            || recheck_owner::<StatefulSet>(&self.client, ns, name, &uid),
        )
        .await?;
        let mut revs = self.history.claim(ns, &cref, &selector, deleting).await?;
        let live = revisions::get(&self.history, &set, &mut revs).await?;
        let now = Timestamp::now();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let mut status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            current_revision: Some(live.current.name_any()),
            update_revision: Some(live.update.name_any()),
            collision_count: Some(live.collision_count),
            conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
            ..Default::default()
        };
        let pass = Pass {
            key,
            set: &set,
            update_set: with_template(&set, &live.update),
            monotonic: spec.pod_management_policy.as_deref() != Some("Parallel"),
            min_ready,
            now,
        };
        let current_set = with_template(&set, &live.current);
        let result = self
            .update_pods(&pass, &current_set, &pods, &mut status)
            .await;
        complete_rolling_update(&set, &mut status);
        if differs(&set, &status) {
            let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(patch(&status)))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Requeue::Done),
                Err(e) => return Err(e.into()),
            }
        }
        result?;
        revisions::truncate(&self.history, &set, &pods, &revs, &live).await?;
        let ready = status.ready_replicas.unwrap_or(0);
        Ok(
            if min_ready > 0 && ready != status.available_replicas.unwrap_or(0) {
                Requeue::After(std::time::Duration::from_secs(min_ready as u64))
            } else {
                Requeue::Done
            },
        )
    }

    /// Steps 1–3 of the module doc; `status` gets the counts of what the pass saw.
    async fn update_pods(
        &self,
        pass: &Pass<'_>,
        current_set: &StatefulSet,
        pods: &[Arc<Pod>],
        status: &mut StatefulSetStatus,
    ) -> Result<(), Error> {
        let set = pass.set;
        let refs: Vec<&Pod> = pods.iter().map(|p| &**p).collect();
        count(status, &refs, pass.min_ready, pass.now);
        let n = replicas(set).max(0) as usize;
        let start = start_ordinal(set);
        let mut slots: Vec<Option<Slot>> = (0..n).map(|_| None).collect();
        let mut condemned: Vec<Arc<Pod>> = Vec::new();
        for pod in pods {
            match ordinal(pod) {
                Some(o) if in_range(set, o) => {
                    slots[(o - start) as usize] = Some(Slot::Existing(pod.clone()))
                }
                Some(_) => condemned.push(pod.clone()),
                None => {}
            }
        }
        let (_, partition, max_unavailable) = update_strategy(current_set);
        let current_rev = status.current_revision.clone().unwrap_or_default();
        let update_rev = status.update_revision.clone().unwrap_or_default();
        let current_template = current_set.spec.clone().unwrap_or_default().template;
        let update_template = pass.update_set.spec.clone().unwrap_or_default().template;
        let rolling = !update_strategy(current_set).0;
        let slots: Vec<Slot> = slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                s.unwrap_or_else(|| {
                    let ord = start + i as i32;
                    // Below the partition a replacement keeps the current revision.
                    if rolling && ord < partition {
                        Slot::Missing(Box::new(super::identity::new_pod(
                            set,
                            &current_template,
                            &current_rev,
                            ord,
                        )))
                    } else {
                        Slot::Missing(Box::new(super::identity::new_pod(
                            set,
                            &update_template,
                            &update_rev,
                            ord,
                        )))
                    }
                })
            })
            .collect();
        condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
        let first_unhealthy: Option<String> = slots
            .iter()
            .map(Slot::pod)
            .chain(condemned.iter().rev().map(|p| &**p))
            .find(|p| is_unavailable(p, pass.min_ready, pass.now))
            .map(|p| p.name_any());
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }

        // 1. Living replicas.
        if self
            .run_for_all(pass, slots.len(), |i| self.process_replica(pass, &slots[i]))
            .await?
        {
            return Ok(());
        }
        // 2. Condemned pods: claims to the policy, then deletion.
        let condemned = &condemned;
        if self
            .run_for_all(pass, condemned.len(), |i| async move {
                let pod = &condemned[i];
                if !self.pod_control.claims_match_policy(&pass.update_set, pod) {
                    self.pod_control
                        .update_claims_for_policy(&pass.update_set, pod)
                        .await?;
                }
                Ok(false)
            })
            .await?
        {
            return Ok(());
        }
        if self
            .run_for_all(pass, condemned.len(), |i| {
                self.process_condemned(pass, &condemned[i], first_unhealthy.as_deref())
            })
            .await?
        {
            return Ok(());
        }
        // 3. Rolling update.
        if !rolling {
            return Ok(());
        }
        let max_unavailable = max_unavailable
            .as_ref()
            .and_then(|m| scaled(m, n as i32, false))
            .unwrap_or(1)
            .max(1) as usize;
        let unavailable = slots
            .iter()
            .filter(|s| is_unavailable(s.pod(), pass.min_ready, pass.now))
            .count();
        if unavailable >= max_unavailable {
            return Ok(());
        }
        let mut budget = max_unavailable - unavailable;
        for slot in slots
            .iter()
            .rev()
            .take(n.saturating_sub(partition.max(0) as usize))
        {
            if budget == 0 {
                break;
            }
            let Slot::Existing(pod) = slot else { continue };
            if revision(pod) != update_rev && !is_terminating(pod) {
                self.pod_control.delete(set, pod).await?;
                self.pending.deleted(pass.key, pod);
                status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
                budget -= 1;
            }
        }
        Ok(())
    }

    /// Runs `f` on indexes `0..n`: in order, stopping when it asks to, when `monotonic`;
    /// otherwise all, in slow-start batches. Whether the pass must stop here.
    async fn run_for_all<F, Fut>(&self, pass: &Pass<'_>, n: usize, f: F) -> Result<bool, Error>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<bool, Error>>,
    {
        if pass.monotonic {
            for i in 0..n {
                if f(i).await? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        match slow_start_batch(n, SLOW_START_INITIAL_BATCH_SIZE, f).await {
            (_, Some(e)) => Err(e),
            (_, None) => Ok(false),
        }
    }

    /// Upstream's `processReplica`; `Ok(true)` when a monotonic pass must wait.
    async fn process_replica(&self, pass: &Pass<'_>, slot: &Slot) -> Result<bool, Error> {
        let set = pass.set;
        let pod = match slot {
            Slot::Missing(pod) => {
                if self.claim_is_stale(set, pod) {
                    return Ok(true);
                }
                self.pod_control.create(set, pod).await?;
                // One key is synced by one worker at a time: recording after the write is
                // early enough for the next sync.
                self.pending.created(pass.key, &pod.name_any());
                return Ok(pass.monotonic);
            }
            Slot::Existing(pod) => pod,
        };
        if matches!(phase(pod), Some("Failed") | Some("Succeeded")) {
            if !is_terminating(pod) {
                self.pod_control.delete(set, pod).await?;
                self.pending.deleted(pass.key, pod);
            }
            // The replacement comes once the pod is gone.
            return Ok(true);
        }
        if phase(pod) == Some("Pending") {
            self.pod_control.create_claims(set, pod).await?;
            self.pod_control.update_claims_for_policy(set, pod).await?;
        }
        if pass.monotonic
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(pod, pass.min_ready, pass.now))
        {
            return Ok(true);
        }
        if !is_created(pod) {
            return Ok(false);
        }
        if identity_matches(set, pod)
            && storage_matches(set, pod)
            && self.pod_control.claims_match_policy(&pass.update_set, pod)
        {
            return Ok(false);
        }
        self.pod_control.update(&pass.update_set, pod).await?;
        Ok(false)
    }

    /// Upstream's `processCondemned`.
    async fn process_condemned(
        &self,
        pass: &Pass<'_>,
        pod: &Arc<Pod>,
        first_unhealthy: Option<&str>,
    ) -> Result<bool, Error> {
        if is_terminating(pod) {
            return Ok(pass.monotonic);
        }
        let is_first_unhealthy = first_unhealthy == pod.metadata.name.as_deref();
        if pass.monotonic
            && !is_first_unhealthy
            && (!is_running_and_ready(pod) || !is_available(pod, pass.min_ready, pass.now))
        {
            return Ok(true);
        }
        self.pod_control.delete(pass.set, pod).await?;
        self.pending.deleted(pass.key, pod);
        Ok(true)
    }

    /// With whenScaled=Delete, a claim still owned by an earlier pod of that name blocks the
    /// new pod until the garbage collector removes it (upstream's `PodClaimIsStale`).
    fn claim_is_stale(&self, set: &StatefulSet, pod: &Pod) -> bool {
        if !policy(set).1 {
            return false;
        }
        let Some(ord) = ordinal(pod) else {
            return false;
        };
        let ns = set.namespace().unwrap_or_default();
        claims(set, ord).iter().any(|(_, c)| {
            self.pod_control
                .claims
                .get(&ObjectRef::new(&c.name_any()).within(&ns))
                .is_some_and(|existing| {
                    existing.owner_references().iter().any(|r| {
                        r.kind == "Pod"
                            && r.api_version == "v1"
                            && Some(&r.name) == pod.metadata.name.as_ref()
                            && Some(&r.uid) != pod.metadata.uid.as_ref()
                    })
                })
        })
    }
}
