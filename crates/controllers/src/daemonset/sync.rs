//! One sync of one DaemonSet (upstream's `syncDaemonSet`): claim pods and revisions, find the
//! current revision, then — when expectations allow — the manage step (a pod on each eligible
//! node, none elsewhere, failed pods replaced with backoff, extra pods removed), the rolling
//! update, history cleanup, and the status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;
use tokio::time::Instant;

use super::eligibility::should_run;
use super::pods::{create_template, for_node, oldest_first, target_node};
use super::strategy::{Strategy, allows_surge, strategy};
use super::{Error, revisions, rolling, status};
use crate::expectations::Expectations;
use crate::history::{History, REVISION_LABEL};
use crate::pod_control::{
    PodControl, SLOW_START_INITIAL_BATCH_SIZE, controller_ref, object_ref, slow_start_batch,
};
use crate::replicaset::claim::{Owner, claim_pods, recheck_owner};
use crate::replicaset::handlers::key_of;
use crate::workqueue::Requeue;

/// Upstream's `BurstReplicas` for DaemonSets.
pub const BURST_REPLICAS: usize = 250;
/// Upstream's event reason for a selector that selects everything.
pub const SELECTING_ALL: &str = "SelectingAll";
/// Upstream's event reason for a failed daemon pod that is being replaced.
pub const FAILED_DAEMON_POD: &str = "FailedDaemonPod";
/// First delay before replacing a failed daemon pod again on the same node.
const FAILED_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest such delay (upstream's 15 minutes).
const FAILED_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// Per (set key, node): the current delay and when it ends.
pub type FailedBackoff = HashMap<(String, String), (Duration, Instant)>;

/// The controller's state shared by its workers.
pub struct Controller {
    /// The apiserver client.
    pub client: Client,
    /// DaemonSets' cache.
    pub sets: Store<DaemonSet>,
    /// Pods' cache.
    pub pods: Store<Pod>,
    /// Nodes' cache.
    pub nodes: Store<Node>,
    /// Revision history.
    pub history: History,
    /// Pending creates and deletes per set.
    pub expectations: Expectations,
    /// Pod writes with events.
    pub pod_control: PodControl,
    /// Per (set, node): the delay before the next failed-pod replacement and when it ends.
    pub failed_backoff: Arc<Mutex<FailedBackoff>>,
}

/// The set's pods by target node (terminal pods being deleted are left out).
pub fn by_node(pods: &[Arc<Pod>]) -> HashMap<String, Vec<Arc<Pod>>> {
    let mut out: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
    for p in pods {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal = matches!(phase, Some("Succeeded") | Some("Failed"));
        if terminal && p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(n) = target_node(p) {
            out.entry(n).or_default().push(p.clone());
        }
    }
    out
}

impl Controller {
    /// Syncs the set `key` (`namespace/name`).
    pub async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let Some(ds) = self.sets.get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.delete(key);
            return Ok(Requeue::Done);
        };
        let spec = ds.spec.clone().unwrap_or_default();
        let selector = match LabelSelector::from_meta(&spec.selector) {
            Ok(s) if !s.is_everything() => s,
            Ok(_) => {
                self.pod_control.events().record(
                    object_ref(&*ds),
                    true,
                    SELECTING_ALL,
                    "Select",
                    "This daemon set is selecting all pods. A non-empty selector is required."
                        .into(),
                );
                return Ok(Requeue::Done);
            }
            Err(_) => return Ok(Requeue::Done),
        };
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(Requeue::Done);
        }
        let cref = controller_ref(&*ds);
        let candidates: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns))
            .collect();
        let uid = cref.uid.clone();
        let pods = claim_pods(
            &self.client,
            &Owner {
                controller_ref: &cref,
                selector: &selector,
                deleting: false,
            },
            candidates,
            || recheck_owner::<DaemonSet>(&self.client, ns, name, &uid),
        )
        .await?;
        let revs: Vec<Arc<ControllerRevision>> =
            self.history.claim(ns, &cref, &selector, false).await?;
        let built = revisions::construct(&self.client, &self.history, &ds, revs, &pods).await?;
        let hash = revisions::hash_of(&built.current);
        let nodes = self.nodes.state();
        let mut requeue = None;
        if self.expectations.satisfied(key) {
            requeue = self.manage(key, &ds, &nodes, &pods, &hash).await?;
            if self.expectations.satisfied(key) && strategy(&ds) != Strategy::OnDelete {
                let plan = rolling::plan(&ds, &nodes, &by_node(&pods), &hash, Timestamp::now());
                self.sync_nodes(key, &ds, plan.delete, plan.create, &hash)
                    .await?;
            }
            revisions::cleanup(&self.history, &ds, built.old, &pods).await?;
        }
        // The status comes from the cache as it is; the writes above come back as events.
        let new = status::calculate(&ds, &nodes, &by_node(&pods), &hash, Timestamp::now());
        if status::differs(&ds, &new) {
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(status::patch(&new)),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Requeue::Done),
                Err(e) => return Err(e.into()),
            }
        }
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        if min_ready > 0 && new.number_ready != new.number_available.unwrap_or(0) {
            let wait = Duration::from_secs(min_ready as u64);
            requeue = Some(requeue.map_or(wait, |r: Duration| r.min(wait)));
        }
        Ok(requeue.map_or(Requeue::Done, Requeue::After))
    }

    /// Upstream's `manage`: which nodes need a pod and which pods must go. Returns when to
    /// look again for failed pods still in backoff.
    async fn manage(
        &self,
        key: &str,
        ds: &DaemonSet,
        nodes: &[Arc<Node>],
        pods: &[Arc<Pod>],
        hash: &str,
    ) -> Result<Option<Duration>, Error> {
        let mut by_node = by_node(pods);
        let mut create = Vec::new();
        let mut delete = Vec::new();
        let mut requeue: Option<Duration> = None;
        for node in nodes {
            let node_name = node.name_any();
            let (run, keep) = should_run(ds, node);
            let existing = by_node.remove(&node_name);
            match existing {
                None if run => create.push(node_name),
                Some(pods) if keep => {
                    let mut running = Vec::new();
                    for pod in pods
                        .iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                    {
                        match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
                            Some("Failed") => {
                                if let Some(wait) = self.in_backoff(key, &node_name) {
                                    requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
                                    continue;
                                }
                                self.pod_control.events().record(
                                    object_ref(ds),
                                    true,
                                    FAILED_DAEMON_POD,
                                    "Delete",
                                    format!(
                                        "Found failed daemon pod {}/{} on node {node_name}, will try to kill it",
                                        pod.namespace().unwrap_or_default(),
                                        pod.name_any()
                                    ),
                                );
                                delete.push(pod.name_any());
                            }
                            Some("Succeeded") => delete.push(pod.name_any()),
                            _ => running.push(pod.clone()),
                        }
                    }
                    running.sort_by(|a, b| oldest_first(a, b));
                    if !allows_surge(ds) {
                        // Keep the oldest; any others are extra.
                        delete.extend(running.iter().skip(1).map(|p| p.name_any()));
                    } else {
                        // Keep the oldest new and the oldest old pod.
                        let (mut new_kept, mut old_kept) = (false, false);
                        for p in &running {
                            let is_new =
                                p.labels().get(REVISION_LABEL).map(String::as_str) == Some(hash);
                            let kept = if is_new { &mut new_kept } else { &mut old_kept };
                            if *kept {
                                delete.push(p.name_any());
                            } else {
                                *kept = true;
                            }
                        }
                    }
                }
                Some(pods) if !keep => delete.extend(
                    pods.iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                        .map(|p| p.name_any()),
                ),
                _ => {}
            }
        }
        // Pods pinned to nodes that no longer exist.
        for pods in by_node.values() {
            delete.extend(
                pods.iter()
                    .filter(|p| {
                        p.metadata.deletion_timestamp.is_none()
                            && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none()
                    })
                    .map(|p| p.name_any()),
            );
        }
        self.sync_nodes(key, ds, delete, create, hash).await?;
        Ok(requeue)
    }

    /// Whether a failed pod on `node` was replaced too recently: how long to wait. Otherwise
    /// starts (or doubles) the backoff and allows the replacement.
    fn in_backoff(&self, key: &str, node: &str) -> Option<Duration> {
        let mut b = self
            .failed_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let entry = b.entry((key.to_string(), node.to_string()));
        match entry {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (delay, until) = *e.get();
                if now < until {
                    return Some(until - now);
                }
                let next = (delay * 2).min(FAILED_BACKOFF_MAX);
                e.insert((next, now + next));
                None
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((FAILED_BACKOFF_INITIAL, now + FAILED_BACKOFF_INITIAL));
                None
            }
        }
    }

    /// Upstream's `syncNodes`: deletes `delete` (pod names) and creates a pod pinned to each of
    /// `create` (node names), at most [`BURST_REPLICAS`] of each, under expectations.
    async fn sync_nodes(
        &self,
        key: &str,
        ds: &DaemonSet,
        mut delete: Vec<String>,
        mut create: Vec<String>,
        hash: &str,
    ) -> Result<(), Error> {
        delete.truncate(BURST_REPLICAS);
        create.truncate(BURST_REPLICAS);
        if delete.is_empty() && create.is_empty() {
            return Ok(());
        }
        let ns = ds.namespace().unwrap_or_default();
        self.expectations.expect(
            key,
            create.len(),
            delete.iter().map(|n| format!("{ns}/{n}")),
        );
        let template = create_template(ds, hash);
        let owner = object_ref(ds);
        let cref = controller_ref(ds);
        let (created, create_err) =
            slow_start_batch(create.len(), SLOW_START_INITIAL_BATCH_SIZE, |i| {
                let t = for_node(&template, &create[i]);
                let (ns, owner, cref) = (ns.clone(), owner.clone(), cref.clone());
                async move {
                    match self.pod_control.create(&ns, &t, &owner, cref, None).await {
                        Err(e) if e.is_namespace_terminating() => {
                            self.expectations.creation_observed(key);
                            Ok(())
                        }
                        other => other.map(|_| ()),
                    }
                }
            })
            .await;
        if create_err.is_some() {
            self.expectations
                .lower_creations(key, create.len() - created);
        }
        let results = futures::future::join_all(delete.iter().map(|name| {
            let (ns, owner) = (ns.clone(), owner.clone());
            async move {
                let r = self.pod_control.delete(&ns, name, &owner).await;
                if r.is_err() {
                    self.expectations
                        .deletion_observed(key, &format!("{ns}/{name}"));
                }
                r
            }
        }))
        .await;
        if let Some(e) = create_err {
            return Err(e.into());
        }
        if let Some(e) = results
            .into_iter()
            .filter_map(Result::err)
            .find(|e| !e.is_not_found())
        {
            return Err(e.into());
        }
        Ok(())
    }
}

/// `namespace/name` of a set (for handlers).
pub fn set_key(ds: &DaemonSet) -> String {
    key_of(ds)
}
