//! The scheduler's view of the cluster, kept by watches: pods (pending ones feed the queue,
//! bound ones the cache; decoded without their managed fields, see `trimmed_pod`), nodes,
//! namespaces (for namespace selectors), PodDisruptionBudgets (for preemption), and the
//! selectors of Services, ReplicationControllers, ReplicaSets and StatefulSets (default
//! topology spreading). Each event raises the cluster event that may help waiting pods.

use std::collections::HashSet;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cache::PodChange;
use crate::framework::{ClusterEvent, OwnerKind, OwnerSelector, PodInfo};
use crate::scheduler::Scheduler;
use crate::trimmed_pod::TrimmedPod;

/// Starts every watch on `tasks`.
pub fn start(s: &Arc<Scheduler>, tasks: &mut JoinSet<()>) {
    let client = s.client.clone();
    tasks.spawn(watch(
        s.clone(),
        Api::<TrimmedPod>::all(client.clone()),
        PodHandler,
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<Node>::all(client.clone()),
        NodeHandler,
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<Namespace>::all(client.clone()),
        NamespaceHandler,
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<PodDisruptionBudget>::all(client.clone()),
        PdbHandler,
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<Service>::all(client.clone()),
        ServiceHandler,
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<ReplicationController>::all(client.clone()),
        OwnerHandler {
            kind: OwnerKind::ReplicationController,
            selector: |rc: &ReplicationController| {
                rc.spec
                    .as_ref()
                    .and_then(|s| s.selector.clone())
                    .map(OwnerSelector::Map)
            },
        },
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<ReplicaSet>::all(client.clone()),
        OwnerHandler {
            kind: OwnerKind::ReplicaSet,
            selector: |rs: &ReplicaSet| label_selector(rs.spec.as_ref().map(|s| &s.selector)),
        },
    ));
    tasks.spawn(watch(
        s.clone(),
        Api::<StatefulSet>::all(client),
        OwnerHandler {
            kind: OwnerKind::StatefulSet,
            selector: |ss: &StatefulSet| label_selector(ss.spec.as_ref().map(|s| &s.selector)),
        },
    ));
}

fn label_selector(
    selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> Option<OwnerSelector> {
    rkube_api::selector::LabelSelector::from_meta_option(selector)
        .ok()
        .map(OwnerSelector::Label)
}

/// `namespace/name` of a namespaced object.
fn namespaced_key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// What one watch does with its objects.
trait Handler<K>: Send + 'static {
    fn key(&self, obj: &K) -> String;
    fn apply(&self, s: &Scheduler, obj: K);
    fn delete(&self, s: &Scheduler, key: &str, obj: Option<K>);
}

async fn watch<K, H>(s: Arc<Scheduler>, api: Api<K>, handler: H)
where
    K: kube::Resource + Clone + std::fmt::Debug + DeserializeOwned + Send + 'static,
    H: Handler<K>,
{
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut known: HashSet<String> = HashSet::new();
    let mut relisted: HashSet<String> = HashSet::new();
    let mut synced_once = false;
    loop {
        let event = match stream.try_next().await {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "scheduler watch error");
                continue;
            }
        };
        match event {
            Event::Init => relisted.clear(),
            Event::InitApply(obj) => {
                let key = handler.key(&obj);
                relisted.insert(key.clone());
                known.insert(key);
                handler.apply(&s, obj);
            }
            Event::InitDone => {
                // Objects deleted while the watch was down.
                for gone in known.difference(&relisted).cloned().collect::<Vec<_>>() {
                    known.remove(&gone);
                    handler.delete(&s, &gone, None);
                }
                if !synced_once {
                    synced_once = true;
                    s.synced.send_modify(|n| *n += 1);
                }
            }
            Event::Apply(obj) => {
                known.insert(handler.key(&obj));
                handler.apply(&s, obj);
            }
            Event::Delete(obj) => {
                let key = handler.key(&obj);
                known.remove(&key);
                handler.delete(&s, &key, Some(obj));
            }
        }
    }
}

struct PodHandler;

impl Handler<TrimmedPod> for PodHandler {
    fn key(&self, pod: &TrimmedPod) -> String {
        pod.0.metadata.uid.clone().unwrap_or_default()
    }

    fn apply(&self, s: &Scheduler, pod: TrimmedPod) {
        let uid = self.key(&pod);
        let TrimmedPod(pod) = pod;
        let node = pod
            .spec
            .as_ref()
            .and_then(|sp| sp.node_name.clone())
            .filter(|n| !n.is_empty());
        let terminal = matches!(
            pod.status.as_ref().and_then(|st| st.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        match node {
            Some(node) => {
                s.queue.lock().expect("queue lock").delete(&uid);
                let event = {
                    let mut cache = s.cache.lock().expect("cache lock");
                    if terminal {
                        cache
                            .remove_pod(&uid)
                            .then_some(ClusterEvent::AssignedPodDelete)
                    } else {
                        let info = Arc::new(PodInfo::new(Arc::new(pod)));
                        match cache.add_or_update_pod(info, &node) {
                            PodChange::Added => Some(ClusterEvent::AssignedPodAdd),
                            PodChange::Updated => Some(ClusterEvent::AssignedPodUpdate),
                            PodChange::Confirmed => None,
                        }
                    }
                };
                if let Some(e) = event {
                    s.cluster_event(e);
                }
            }
            None => {
                let scheduler_name = pod.spec.as_ref().and_then(|sp| sp.scheduler_name.clone());
                if terminal
                    || pod.metadata.deletion_timestamp.is_some()
                    || !s.serves(scheduler_name.as_deref())
                {
                    s.queue.lock().expect("queue lock").delete(&uid);
                    return;
                }
                let info = Arc::new(PodInfo::new(Arc::new(pod)));
                s.queue
                    .lock()
                    .expect("queue lock")
                    .add(info, Instant::now());
                s.wake.notify_one();
            }
        }
    }

    fn delete(&self, s: &Scheduler, uid: &str, _pod: Option<TrimmedPod>) {
        s.queue.lock().expect("queue lock").delete(uid);
        let removed = s.cache.lock().expect("cache lock").remove_pod(uid);
        if removed {
            s.cluster_event(ClusterEvent::AssignedPodDelete);
        }
    }
}

struct NodeHandler;

/// The parts of a node scheduling decisions depend on (heartbeats alone change nothing).
fn node_fingerprint(node: &Node) -> String {
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    serde_json::json!([
        node.metadata.labels,
        spec.and_then(|s| s.taints.clone()),
        spec.and_then(|s| s.unschedulable),
        status.and_then(|s| s.allocatable.clone()),
        status.map(|s| s.images.as_ref().map(Vec::len)),
    ])
    .to_string()
}

impl Handler<Node> for NodeHandler {
    fn key(&self, node: &Node) -> String {
        node.metadata.name.clone().unwrap_or_default()
    }

    fn apply(&self, s: &Scheduler, node: Node) {
        let name = self.key(&node);
        let fingerprint = node_fingerprint(&node);
        let (added, changed) = {
            let mut cache = s.cache.lock().expect("cache lock");
            let before = cache.node_fingerprint(&name);
            let added = cache.set_node(Arc::new(node));
            let changed = before.as_deref() != Some(fingerprint.as_str());
            cache.set_node_fingerprint(&name, fingerprint);
            (added, changed)
        };
        if added {
            s.cluster_event(ClusterEvent::NodeAdd);
        } else if changed {
            s.cluster_event(ClusterEvent::NodeUpdate);
        }
    }

    fn delete(&self, s: &Scheduler, name: &str, _node: Option<Node>) {
        s.cache.lock().expect("cache lock").remove_node(name);
    }
}

struct NamespaceHandler;

impl Handler<Namespace> for NamespaceHandler {
    fn key(&self, ns: &Namespace) -> String {
        ns.metadata.name.clone().unwrap_or_default()
    }

    fn apply(&self, s: &Scheduler, ns: Namespace) {
        let name = self.key(&ns);
        let labels = ns.metadata.labels.unwrap_or_default();
        let changed = s
            .cache
            .lock()
            .expect("cache lock")
            .set_namespace(&name, Some(labels));
        if changed {
            s.cluster_event(ClusterEvent::NamespaceChange);
        }
    }

    fn delete(&self, s: &Scheduler, name: &str, _ns: Option<Namespace>) {
        s.cache
            .lock()
            .expect("cache lock")
            .set_namespace(name, None);
    }
}

struct PdbHandler;

impl Handler<PodDisruptionBudget> for PdbHandler {
    fn key(&self, pdb: &PodDisruptionBudget) -> String {
        namespaced_key(&pdb.metadata)
    }

    fn apply(&self, s: &Scheduler, pdb: PodDisruptionBudget) {
        let key = self.key(&pdb);
        s.cache.lock().expect("cache lock").set_pdb(&key, Some(pdb));
    }

    fn delete(&self, s: &Scheduler, key: &str, _pdb: Option<PodDisruptionBudget>) {
        s.cache.lock().expect("cache lock").set_pdb(key, None);
    }
}

struct ServiceHandler;

impl Handler<Service> for ServiceHandler {
    fn key(&self, svc: &Service) -> String {
        namespaced_key(&svc.metadata)
    }

    fn apply(&self, s: &Scheduler, svc: Service) {
        let key = self.key(&svc);
        let (ns, name) = split_key(&key);
        let selector = svc.spec.and_then(|s| s.selector);
        s.cache
            .lock()
            .expect("cache lock")
            .set_service(ns, name, selector);
    }

    fn delete(&self, s: &Scheduler, key: &str, _svc: Option<Service>) {
        let (ns, name) = split_key(key);
        s.cache
            .lock()
            .expect("cache lock")
            .set_service(ns, name, None);
    }
}

/// Keeps one controller kind's selectors.
struct OwnerHandler<K> {
    kind: OwnerKind,
    selector: fn(&K) -> Option<OwnerSelector>,
}

impl<K: kube::Resource + Send + 'static> Handler<K> for OwnerHandler<K> {
    fn key(&self, obj: &K) -> String {
        namespaced_key(obj.meta())
    }

    fn apply(&self, s: &Scheduler, obj: K) {
        let key = self.key(&obj);
        let (ns, name) = split_key(&key);
        let selector = (self.selector)(&obj);
        s.cache
            .lock()
            .expect("cache lock")
            .set_owner(self.kind, ns, name, selector);
    }

    fn delete(&self, s: &Scheduler, key: &str, _obj: Option<K>) {
        let (ns, name) = split_key(key);
        s.cache
            .lock()
            .expect("cache lock")
            .set_owner(self.kind, ns, name, None);
    }
}
