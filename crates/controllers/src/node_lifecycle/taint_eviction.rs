//! The taint eviction controller (`taint-eviction-controller`), as upstream's: a pod on a node
//! with a NoExecute taint it does not tolerate is deleted at once; one tolerating every such
//! taint for a limited time (`tolerationSeconds`, the shortest counts) is deleted when that
//! runs out, counted from when the controller first saw it so; a taint removed in time cancels
//! the deletion. Deleted pods first get `DisruptionTarget` (reason `DeletionByTaintManager`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint, Toleration};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_component::events::EventSink;
use serde_json::json;

use crate::clock::Clock;
use crate::context::Context;
use crate::endpoints::key_of;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The component the controller's events are reported as.
pub const COMPONENT: &str = "taint-eviction-controller";

/// Whether `t` tolerates `taint` (upstream's `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    let exists = t.operator.as_deref() == Some("Exists");
    if key.is_empty() {
        return exists;
    }
    if key != taint.key {
        return false;
    }
    exists || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
}

/// What to do with a pod on a node with NoExecute `taints`: None to keep it, Some(d) to delete
/// it after `d` (zero: now).
pub fn eviction_delay(tolerations: &[Toleration], taints: &[Taint]) -> Option<Duration> {
    if taints.is_empty() {
        return None;
    }
    let mut min: Option<i64> = None;
    for taint in taints {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Some(Duration::ZERO);
        }
        for t in used {
            if let Some(s) = t.toleration_seconds {
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    min.map(|s| Duration::from_secs(s.max(0) as u64))
}

fn no_execute(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect()
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

struct Shared {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    /// When each pod's eviction countdown started.
    started: Mutex<HashMap<String, Timestamp>>,
    recorder: EventSink,
    clock: Clock,
}

/// Runs the controller on the system clock.
pub async fn run(ctx: Context) {
    run_with_clock(ctx, Clock::system()).await
}

/// Runs the controller with `clock` until the future is dropped.
pub async fn run_with_clock(ctx: Context, clock: Clock) {
    let queue: WorkQueue<String> = WorkQueue::new("tainteviction", ctx.metrics.clone());
    let q = queue.clone();
    let (pods, _p) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default().fields("spec.nodeName!="),
        move |change| match change {
            Change::Added(p) | Change::Deleted(p) | Change::Updated { new: p, .. } => {
                q.add(key_of(&*p))
            }
        },
    );
    let q = queue.clone();
    let pod_store = pods.clone();
    let (nodes, _n) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let (name, changed) = match &change {
                Change::Added(n) => (n.name_any(), !no_execute(n).is_empty()),
                Change::Deleted(n) => (n.name_any(), true),
                Change::Updated { old, new } => {
                    (new.name_any(), no_execute(old) != no_execute(new))
                }
            };
            if changed {
                for p in pod_store.state() {
                    if node_of(&p) == Some(name.as_str()) {
                        q.add(key_of(&*p));
                    }
                }
            }
        },
    );
    if pods.wait_until_ready().await.is_err() || nodes.wait_until_ready().await.is_err() {
        return;
    }
    for p in pods.state() {
        queue.add(key_of(&*p));
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        pods,
        nodes,
        started: Mutex::new(HashMap::new()),
        recorder: ctx.recorder(COMPONENT),
        clock,
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let s = shared.clone();
        async move { s.sync(&key).await }
    })
    .await;
}

fn pod_ref(p: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: p.metadata.namespace.clone(),
        name: p.metadata.name.clone(),
        uid: p.metadata.uid.clone(),
        ..Default::default()
    }
}

impl Shared {
    fn started(&self) -> std::sync::MutexGuard<'_, HashMap<String, Timestamp>> {
        self.started.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cancel(&self, key: &str, pod: Option<&Pod>) {
        if self.started().remove(key).is_some()
            && let Some(pod) = pod
        {
            self.recorder.record(
                pod_ref(pod),
                false,
                "TaintManagerEviction",
                "TaintManagerEviction",
                format!("Cancelling deletion of Pod {key}"),
            );
        }
    }

    async fn sync(&self, key: &str) -> Result<Requeue, kube::Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let Some(pod) = self.pods.get(&ObjectRef::new(name).within(ns)) else {
            self.started().remove(key);
            return Ok(Requeue::Done);
        };
        if pod.metadata.deletion_timestamp.is_some() {
            self.started().remove(key);
            return Ok(Requeue::Done);
        }
        let taints = node_of(&pod)
            .and_then(|n| self.nodes.get(&ObjectRef::new(n)))
            .map(|n| no_execute(&n))
            .unwrap_or_default();
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let Some(delay) = eviction_delay(&tolerations, &taints) else {
            self.cancel(key, Some(&pod));
            return Ok(Requeue::Done);
        };
        let now = self.clock.now();
        let start = *self.started().entry(key.to_string()).or_insert(now);
        let at = start
            .saturating_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX))
            .unwrap_or(start);
        if now < at {
            return Ok(Requeue::After(self.clock.until(at)));
        }
        self.evict(&pod, ns, name, key, now).await?;
        self.started().remove(key);
        Ok(Requeue::Done)
    }

    async fn evict(
        &self,
        pod: &Pod,
        ns: &str,
        name: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<(), kube::Error> {
        self.recorder.record(
            pod_ref(pod),
            false,
            "TaintManagerEviction",
            "TaintManagerEviction",
            format!("Marking for deletion Pod {key}"),
        );
        let api = Api::<Pod>::namespaced(self.client.clone(), ns);
        let mut conditions: Vec<serde_json::Value> = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.type_ != "DisruptionTarget")
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect();
        conditions.push(json!({
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }));
        let patch =
            json!({"metadata": {"uid": pod.metadata.uid}, "status": {"conditions": conditions}});
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        }
        tracing::info!(pod = key, "evicting pod from a NoExecute-tainted node");
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            ..Default::default()
        }
    }

    fn tol(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn delays_follow_the_shortest_toleration() {
        let t = [taint("node.kubernetes.io/unreachable")];
        assert_eq!(eviction_delay(&[], &t), Some(Duration::ZERO));
        assert_eq!(
            eviction_delay(
                &[
                    tol("node.kubernetes.io/unreachable", Some(300)),
                    tol("node.kubernetes.io/unreachable", Some(2))
                ],
                &t
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            eviction_delay(&[tol("node.kubernetes.io/unreachable", None)], &t),
            None
        );
        assert_eq!(
            eviction_delay(&[tol("other", Some(1))], &t),
            Some(Duration::ZERO)
        );
        assert_eq!(eviction_delay(&[], &[]), None);
        let all = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert_eq!(eviction_delay(&[all], &t), None);
    }
}
