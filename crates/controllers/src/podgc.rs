//! The pod garbage collector (upstream's `pod-garbage-collector-controller`). Every 20 s it
//! force-deletes (grace period 0), marking pods that have not finished as `Failed` first:
//! - terminated pods (any phase but Pending, Running and Unknown) beyond
//!   `--terminated-pod-gc-threshold`, evicted ones first, then oldest first;
//! - terminating pods on a node that is not Ready and carries the
//!   `node.kubernetes.io/out-of-service` taint;
//! - pods bound to a node that no longer exists, once the node has been missing for the
//!   quarantine (40 s) and a live read confirms it is gone, with the `DisruptionTarget`
//!   condition (reason `DeletionByPodGC`);
//! - terminating pods that were never scheduled.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::json;
use tokio::time::Instant;

use crate::context::Context;
use crate::informer;
use crate::node_lifecycle::health::ready_status;

/// Upstream's `--terminated-pod-gc-threshold` default.
pub const DEFAULT_TERMINATED_THRESHOLD: usize = 12500;
/// Upstream's `gcCheckPeriod`.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(20);
/// Upstream's `quarantineTime`: how long a node must be missing before its pods go.
pub const DEFAULT_QUARANTINE: Duration = Duration::from_secs(40);
/// The taint that lets terminating pods of a NotReady node be force-deleted.
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

/// `reason` label values (upstream's).
const REASON_TERMINATED: &str = "terminated";
const REASON_OUT_OF_SERVICE: &str = "out-of-service";
const REASON_ORPHANED: &str = "orphaned";
const REASON_UNSCHEDULED: &str = "unscheduled";

/// The pod garbage collector's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Terminated pods kept at most (`--terminated-pod-gc-threshold`; 0 keeps them all).
    pub terminated_pod_gc_threshold: usize,
    /// Time between passes.
    pub period: Duration,
    /// How long a node must be missing before its pods are deleted.
    pub quarantine: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            terminated_pod_gc_threshold: DEFAULT_TERMINATED_THRESHOLD,
            period: DEFAULT_PERIOD,
            quarantine: DEFAULT_QUARANTINE,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    namespace: String,
    reason: String,
}

/// The controller's counters (upstream's `pod_gc_collector_force_delete_pods_total` and
/// `pod_gc_collector_force_delete_pod_errors_total`).
#[derive(Clone, Default)]
struct Counters {
    deleted: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
}

/// Runs the controller with upstream's settings.
pub async fn run(ctx: Context) {
    run_with(ctx, Config::default()).await;
}

/// Runs the controller until dropped.
pub async fn run_with(ctx: Context, config: Config) {
    let counters = Counters::default();
    ctx.metrics.register(
        "pod_gc_collector_force_delete_pods",
        "Number of pods that are being forcefully deleted since the Pod GC Controller started.",
        counters.deleted.clone(),
    );
    ctx.metrics.register(
        "pod_gc_collector_force_delete_pod_errors",
        "Number of errors encountered when forcefully deleting the pods since the Pod GC Controller started.",
        counters.errors.clone(),
    );
    let (pods, _pod_watch) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        |_| {},
    );
    let (nodes, _node_watch) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        |_| {},
    );
    if pods.wait_until_ready().await.is_err() || nodes.wait_until_ready().await.is_err() {
        return;
    }
    let mut gc = PodGc {
        client: ctx.client.clone(),
        config: config.clone(),
        missing_since: HashMap::new(),
        counters,
    };
    let mut ticker = tokio::time::interval(config.period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        gc.pass(&pods.state(), &nodes.state()).await;
    }
}

/// One controller's state between passes.
struct PodGc {
    client: kube::Client,
    config: Config,
    /// Nodes pods are bound to that were missing, since when (upstream's delaying queue).
    missing_since: HashMap<String, Instant>,
    counters: Counters,
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Terminated as upstream counts it: any phase but Pending, Running and Unknown.
fn is_terminated(pod: &Pod) -> bool {
    !matches!(phase(pod), "Pending" | "Running" | "Unknown")
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn is_evicted(pod: &Pod) -> bool {
    phase(pod) == "Failed"
        && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

/// Upstream's deletion order: evicted pods first, then oldest first, then by name.
fn sort_for_deletion(pods: &mut [Arc<Pod>]) {
    pods.sort_by(|a, b| {
        is_evicted(b)
            .cmp(&is_evicted(a))
            .then_with(|| {
                let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

fn out_of_service(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .any(|t| t.key == OUT_OF_SERVICE_TAINT)
}

/// The condition orphaned pods get before they are deleted.
fn disruption_condition(now: jiff::Timestamp) -> serde_json::Value {
    json!({
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists",
        "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

impl PodGc {
    async fn pass(&mut self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        if self.config.terminated_pod_gc_threshold > 0 {
            self.gc_terminated(pods).await;
        }
        self.gc_terminating_out_of_service(pods, nodes).await;
        self.gc_orphaned(pods, nodes).await;
        self.gc_unscheduled_terminating(pods).await;
    }

    async fn gc_terminated(&self, pods: &[Arc<Pod>]) {
        let mut terminated: Vec<Arc<Pod>> =
            pods.iter().filter(|p| is_terminated(p)).cloned().collect();
        let Some(excess) = terminated
            .len()
            .checked_sub(self.config.terminated_pod_gc_threshold)
            .filter(|n| *n > 0)
        else {
            return;
        };
        tracing::info!(pods = excess, "garbage collecting terminated pods");
        sort_for_deletion(&mut terminated);
        let deletes = terminated
            .iter()
            .take(excess)
            .map(|p| self.force_delete(p, None, REASON_TERMINATED));
        futures::future::join_all(deletes).await;
    }

    async fn gc_terminating_out_of_service(&self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        let by_name: HashMap<&str, &Node> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref().map(|name| (name, &**n)))
            .collect();
        let mut terminating: Vec<Arc<Pod>> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .filter(|p| {
                by_name
                    .get(node_name(p))
                    .is_some_and(|n| ready_status(n) != "True" && out_of_service(n))
            })
            .cloned()
            .collect();
        if terminating.is_empty() {
            return;
        }
        sort_for_deletion(&mut terminating);
        let deletes = terminating
            .iter()
            .map(|p| self.force_delete(p, None, REASON_OUT_OF_SERVICE));
        futures::future::join_all(deletes).await;
    }

    async fn gc_orphaned(&mut self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        let existing: HashSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        let now = Instant::now();
        for pod in pods {
            let node = node_name(pod);
            if !node.is_empty() && !existing.contains(node) {
                self.missing_since.entry(node.to_string()).or_insert(now);
            }
        }
        // Nodes whose quarantine is over leave the queue; those still absent on a live read
        // are deleted ones.
        let ripe: Vec<String> = self
            .missing_since
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= self.config.quarantine)
            .map(|(n, _)| n.clone())
            .collect();
        let mut deleted = HashSet::new();
        for node in ripe {
            self.missing_since.remove(&node);
            if existing.contains(node.as_str()) {
                continue;
            }
            match Api::<Node>::all(self.client.clone()).get_opt(&node).await {
                Ok(None) => {
                    deleted.insert(node);
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    tracing::warn!(node, error = %e, "checking whether a node exists failed");
                }
            }
        }
        if deleted.is_empty() {
            return;
        }
        let condition = disruption_condition(jiff::Timestamp::now());
        let orphaned: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| deleted.contains(node_name(p)))
            .collect();
        let deletes = orphaned.iter().map(|p| {
            tracing::info!(pod = ?p.metadata.name, node = node_name(p), "deleting pod of a node that no longer exists");
            self.force_delete(p, Some(condition.clone()), REASON_ORPHANED)
        });
        futures::future::join_all(deletes).await;
    }

    async fn gc_unscheduled_terminating(&self, pods: &[Arc<Pod>]) {
        let deletes = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some() && node_name(p).is_empty())
            .map(|p| {
                tracing::info!(pod = ?p.metadata.name, "deleting terminating pod that was never scheduled");
                self.force_delete(p, None, REASON_UNSCHEDULED)
            });
        futures::future::join_all(deletes).await;
    }

    /// Marks `pod` Failed (with `condition`) unless it has finished, then deletes it with no
    /// grace period; a pod already gone is fine.
    async fn force_delete(&self, pod: &Pod, condition: Option<serde_json::Value>, reason: &str) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let labels = Labels {
            namespace: namespace.clone(),
            reason: reason.into(),
        };
        self.counters.deleted.get_or_create(&labels).inc();
        if let Err(e) = self
            .mark_failed_and_delete(pod, &namespace, condition)
            .await
        {
            tracing::warn!(pod = ?pod.metadata.name, error = %e, "force-deleting pod failed");
            self.counters.errors.get_or_create(&labels).inc();
        }
    }

    async fn mark_failed_and_delete(
        &self,
        pod: &Pod,
        namespace: &str,
        condition: Option<serde_json::Value>,
    ) -> Result<(), kube::Error> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let api = Api::<Pod>::namespaced(self.client.clone(), namespace);
        // A pod whose kubelet is gone would otherwise stay Running forever in its last state.
        if !matches!(phase(pod), "Succeeded" | "Failed") {
            let mut status = json!({"phase": "Failed"});
            if let Some(c) = condition {
                let mut conditions: Vec<serde_json::Value> = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .filter(|old| old.type_ != "DisruptionTarget")
                    .filter_map(|old| serde_json::to_value(old).ok())
                    .collect();
                conditions.push(c);
                status["conditions"] = conditions.into();
            }
            let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": status});
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        match api
            .delete(name, &DeleteParams::default().grace_period(0))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, phase: &str, reason: Option<&str>, created: i64) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(
            jiff::Timestamp::from_second(created).expect("valid time"),
        ));
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some(phase.into()),
            reason: reason.map(String::from),
            ..Default::default()
        });
        Arc::new(p)
    }

    #[test]
    fn terminated_and_deletion_order() {
        assert!(is_terminated(&pod("a", "Failed", None, 0)));
        assert!(is_terminated(&pod("a", "Succeeded", None, 0)));
        assert!(!is_terminated(&pod("a", "Running", None, 0)));
        assert!(!is_terminated(&pod("a", "Unknown", None, 0)));
        let mut pods = vec![
            pod("new", "Failed", None, 30),
            pod("old", "Succeeded", None, 10),
            pod("evicted", "Failed", Some("Evicted"), 20),
            pod("mid", "Failed", None, 20),
        ];
        sort_for_deletion(&mut pods);
        let names: Vec<&str> = pods
            .iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["evicted", "old", "mid", "new"]);
    }
}
