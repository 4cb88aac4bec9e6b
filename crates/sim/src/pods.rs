//! The pod agent: one watch over the bound pods (`spec.nodeName!=`) and one over the simulated
//! Nodes (for their podCIDRs), kept in one task that only does bookkeeping; the writes run in
//! spawned tasks under a concurrency bound. For each pod bound to one of our nodes, like
//! kwok's default stages:
//!
//! - new (Pending) → Running and Ready through `pods/status`, with an IP from the node's
//!   podCIDR (the node's IP for hostNetwork pods; none while the node has no podCIDR);
//! - owned by a Job and Running → Succeeded after [`SimConfig::job_pod_run_time`];
//! - marked for deletion → deleted with grace period 0 and a UID precondition (the kubelet's
//!   final delete once its containers are gone). Its IP is released.
//!
//! Every status write carries `metadata.uid`, which makes it conditional on the pod still
//! being the one we saw (a pod recreated under the same name is left alone).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodCondition};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;

use crate::config::{MARKER_LABEL, MARKER_VALUE, SimConfig};
use crate::ipam::{Cidr, NodeIpam};
use crate::node::Nodes;
use crate::util::{self, Throttled};
use crate::{Counters, SimError};

/// How far a pod has come, as far as the agent has asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Seen, nothing asked yet.
    New,
    /// The Running status is being written.
    Starting,
    /// Running (no further stage: not a Job's pod).
    Running,
    /// A Job's pod: Succeeded is scheduled.
    Completing,
    /// Succeeded or Failed.
    Finished,
    /// Being deleted.
    Deleting,
}

struct Track {
    node: usize,
    ip: Option<IpAddr>,
    stage: Stage,
    /// The watch (re)list that last saw the pod: after a relist, pods it did not see are gone.
    epoch: u64,
}

/// The agent's state, owned by its one task.
pub(crate) struct PodAgent {
    client: Client,
    config: Arc<SimConfig>,
    nodes: Nodes,
    by_name: HashMap<String, usize>,
    ipam: Vec<NodeIpam>,
    pods: HashMap<String, Track>,
    epoch: u64,
    tasks: JoinSet<()>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
}

static WATCH_WARN: Throttled = Throttled::new("watch");
static WRITE_WARN: Throttled = Throttled::new("pod write");

impl PodAgent {
    pub(crate) fn new(
        client: Client,
        config: Arc<SimConfig>,
        nodes: Nodes,
        counters: Arc<Counters>,
    ) -> PodAgent {
        let by_name = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let ipam = nodes.iter().map(|_| NodeIpam::default()).collect();
        let permits = Arc::new(Semaphore::new(config.write_concurrency));
        PodAgent {
            client,
            config,
            nodes,
            by_name,
            ipam,
            pods: HashMap::new(),
            epoch: 0,
            tasks: JoinSet::new(),
            permits,
            counters,
        }
    }

    /// Watches nodes and pods until dropped. `ready` gets Ok once both initial lists are
    /// handled, or the first watch error if that comes first.
    pub(crate) async fn run(mut self, ready: oneshot::Sender<Result<(), SimError>>) {
        let mut ready = Some(ready);
        let node_config =
            watcher::Config::default().labels(&format!("{MARKER_LABEL}={MARKER_VALUE}"));
        let nodes =
            watcher::watcher(Api::<Node>::all(self.client.clone()), node_config).default_backoff();
        let pod_config = watcher::Config::default().fields("spec.nodeName!=");
        let pods =
            watcher::watcher(Api::<Pod>::all(self.client.clone()), pod_config).default_backoff();
        let mut nodes = std::pin::pin!(nodes);
        let mut pods = std::pin::pin!(pods);
        // Nodes first: a pod's IP needs its node's podCIDR.
        loop {
            match next(&mut nodes).await {
                Ok(event) => {
                    let done = matches!(event, Event::InitDone);
                    self.on_node(event);
                    if done {
                        break;
                    }
                }
                Err(e) => watch_failed(e, &mut ready),
            }
        }
        let mut pods_listed = false;
        loop {
            tokio::select! {
                event = next(&mut nodes) => match event {
                    Ok(event) => self.on_node(event),
                    Err(e) => watch_failed(e, &mut ready),
                },
                event = next(&mut pods) => match event {
                    Ok(Event::InitDone) => {
                        self.on_init_done();
                        if !pods_listed {
                            pods_listed = true;
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(Ok(()));
                            }
                        }
                    }
                    Ok(event) => self.on_pod_event(event),
                    Err(e) => watch_failed(e, &mut ready),
                },
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
    }

    fn on_node(&mut self, event: Event<Node>) {
        let (node, deleted) = match event {
            Event::Apply(n) | Event::InitApply(n) => (n, false),
            Event::Delete(n) => (n, true),
            Event::Init | Event::InitDone => return,
        };
        let Some(&i) = node
            .metadata
            .name
            .as_ref()
            .and_then(|n| self.by_name.get(n))
        else {
            return;
        };
        let spec = if deleted { None } else { node.spec.as_ref() };
        let cidr = spec
            .and_then(|s| {
                s.pod_cidr
                    .as_deref()
                    .or_else(|| s.pod_cidrs.as_ref()?.first().map(String::as_str))
            })
            .and_then(Cidr::parse);
        self.ipam[i].set_cidr(cidr);
    }

    fn on_init_done(&mut self) {
        let epoch = self.epoch;
        let ipam = &mut self.ipam;
        self.pods.retain(|_, t| {
            if t.epoch < epoch
                && let Some(ip) = t.ip
            {
                ipam[t.node].release(ip);
            }
            t.epoch >= epoch
        });
    }

    fn on_pod_event(&mut self, event: Event<Pod>) {
        match event {
            Event::Init => self.epoch += 1,
            Event::InitDone => self.on_init_done(),
            Event::Apply(pod) | Event::InitApply(pod) => self.on_pod(pod),
            Event::Delete(pod) => {
                if let Some(t) = pod.metadata.uid.as_ref().and_then(|u| self.pods.remove(u))
                    && let Some(ip) = t.ip
                {
                    self.ipam[t.node].release(ip);
                }
            }
        }
    }

    fn on_pod(&mut self, pod: Pod) {
        let Some(&node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .and_then(|n| self.by_name.get(n))
        else {
            return;
        };
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let track = self.pods.entry(uid).or_insert(Track {
            node,
            ip: None,
            stage: Stage::New,
            epoch: self.epoch,
        });
        track.epoch = self.epoch;
        let ipam = &mut self.ipam[node];
        if pod.metadata.deletion_timestamp.is_some() {
            if track.stage != Stage::Deleting {
                track.stage = Stage::Deleting;
                if let Some(ip) = track.ip.take() {
                    ipam.release(ip);
                }
                self.spawn_delete(pod);
            }
            return;
        }
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let status = pod.status.as_ref();
        match status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending") {
            "Succeeded" | "Failed" => {
                track.stage = Stage::Finished;
                if let Some(ip) = track.ip.take() {
                    ipam.release(ip);
                }
            }
            "Running" => {
                if track.stage == Stage::New && !host_network {
                    // Running from before we started: its IP is taken.
                    if let Some(ip) = status
                        .and_then(|s| s.pod_ip.as_deref())
                        .and_then(|ip| ip.parse().ok())
                        && ipam.claim(ip)
                    {
                        track.ip = Some(ip);
                    }
                }
                if matches!(track.stage, Stage::New | Stage::Starting) {
                    if owned_by_job(&pod) {
                        track.stage = Stage::Completing;
                        self.spawn_completion(pod);
                    } else {
                        track.stage = Stage::Running;
                    }
                }
            }
            _ => {
                if track.stage == Stage::New {
                    track.stage = Stage::Starting;
                    let node_ip = self.nodes[node].internal_ip.to_string();
                    let pod_ip = if host_network {
                        Some(node_ip.clone())
                    } else {
                        if !ipam.has_cidr() {
                            tracing::debug!(node = %self.nodes[node].name, "no podCIDR yet: the pod starts without an IP");
                        }
                        track.ip = ipam.allocate();
                        track.ip.map(|ip| ip.to_string())
                    };
                    self.spawn_start(pod, node_ip, pod_ip);
                }
            }
        }
    }

    /// Spawns `write` (after `delay`); it waits for one of the `write_concurrency` slots, first
    /// come first served. The watch is never held up: a burst of pods queues here (one small
    /// task per pod needing a write), not in the apiserver's watch buffers.
    fn spawn_write<F>(&mut self, delay: Duration, write: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let permits = self.permits.clone();
        self.tasks.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            write.await;
        });
    }

    fn spawn_start(&mut self, pod: Pod, node_ip: String, pod_ip: Option<String>) {
        let client = self.client.clone();
        let counters = self.counters.clone();
        self.spawn_write(Duration::ZERO, async move {
            let now = util::time(jiff::Timestamp::now());
            let patch = running_status(&pod, &node_ip, pod_ip.as_deref(), &now);
            match write_status(&client, &pod, &patch).await {
                Ok(()) => counters.pods_started.fetch_add(1, Ordering::Relaxed),
                Err(e) => failed(&pod, &e, &counters),
            };
        });
    }

    fn spawn_completion(&mut self, pod: Pod) {
        let client = self.client.clone();
        let counters = self.counters.clone();
        let started = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0);
        let elapsed = started
            .and_then(|s| jiff::Timestamp::now().duration_since(s).try_into().ok())
            .unwrap_or(Duration::ZERO);
        let delay = self.config.job_pod_run_time.saturating_sub(elapsed);
        self.spawn_write(delay, async move {
            let now = util::time(jiff::Timestamp::now());
            let patch = succeeded_status(&pod, &now);
            match write_status(&client, &pod, &patch).await {
                Ok(()) => counters.pods_completed.fetch_add(1, Ordering::Relaxed),
                Err(e) => failed(&pod, &e, &counters),
            };
        });
    }

    fn spawn_delete(&mut self, pod: Pod) {
        let client = self.client.clone();
        let counters = self.counters.clone();
        self.spawn_write(Duration::ZERO, async move {
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let request = kube::core::Request::new(pods_path(&pod))
                .delete(pod.metadata.name.as_deref().unwrap_or_default(), &params);
            let request = request.map_err(kube::Error::BuildRequest);
            let result = match request {
                Ok(request) => {
                    let client = &client;
                    util::retry(5, || {
                        let request = clone_request(&request);
                        async move { client.request_text(request).await.map(drop) }
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => counters.pods_deleted.fetch_add(1, Ordering::Relaxed),
                Err(e) => failed(&pod, &e, &counters),
            };
        });
    }
}

/// The next event of a watch (a watcher stream never ends).
async fn next<S, K>(stream: &mut std::pin::Pin<&mut S>) -> Result<Event<K>, watcher::Error>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
{
    match stream.next().await {
        Some(event) => event,
        None => std::future::pending().await,
    }
}

/// A watch error: reported to start() while it waits, else logged (the watch retries with
/// backoff).
fn watch_failed(e: watcher::Error, ready: &mut Option<oneshot::Sender<Result<(), SimError>>>) {
    match ready.take() {
        Some(ready) => {
            let _ = ready.send(Err(SimError::Watch(e)));
        }
        None => WATCH_WARN.warn("pods and nodes", &e),
    }
}

fn clone_request(r: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut out = http::Request::new(r.body().clone());
    *out.method_mut() = r.method().clone();
    *out.uri_mut() = r.uri().clone();
    *out.headers_mut() = r.headers().clone();
    out
}

fn failed(pod: &Pod, e: &kube::Error, counters: &Counters) -> u64 {
    // Gone, or replaced under the same name: nothing left to do for this pod.
    if matches!(util::code(e), Some(404)) {
        return 0;
    }
    let name = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    WRITE_WARN.warn(&name, e);
    counters.pod_write_failures.fetch_add(1, Ordering::Relaxed)
}

fn pods_path(pod: &Pod) -> String {
    format!(
        "/api/v1/namespaces/{}/pods",
        pod.metadata.namespace.as_deref().unwrap_or("default")
    )
}

async fn write_status(client: &Client, pod: &Pod, patch: &Value) -> Result<(), kube::Error> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let path = pods_path(pod);
    util::retry(5, || {
        let request = kube::core::Request::new(&path).patch_subresource(
            "status",
            name,
            &PatchParams::default(),
            &Patch::Merge(patch),
        );
        util::send(client, request)
    })
    .await
}

/// Whether a Job owns the pod (kwok's pod-complete stage selects these).
fn owned_by_job(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Job" && o.api_version.starts_with("batch/"))
}

/// `image` as the runtime reports it (`docker.io/library/busybox:latest`) and its fake image ID
/// (`docker.io/library/busybox@sha256:…`).
pub(crate) fn image_and_id(image: &str) -> (String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let first = repo.split('/').next().unwrap_or_default();
    let has_domain =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_domain {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    match digest {
        Some(d) => (format!("{repo}@{d}"), format!("{repo}@{d}")),
        None => {
            let full = format!("{repo}:{}", tag.unwrap_or("latest"));
            let id = format!("{repo}@sha256:{}", util::fake_hex(&[&full], 64));
            (full, id)
        }
    }
}

fn container_id(pod_uid: &str, container: &str) -> String {
    format!(
        "{}://{}",
        RUNTIME_SCHEME,
        util::fake_hex(&[pod_uid, container], 64)
    )
}

/// The fake runtime's container ID scheme.
const RUNTIME_SCHEME: &str = "sim";

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn container_status(
    pod_uid: &str,
    c: &Container,
    state: Value,
    ready: bool,
    started: bool,
) -> Value {
    let (image, image_id) = image_and_id(c.image.as_deref().unwrap_or_default());
    json!({
        "name": c.name,
        "image": image,
        "imageID": image_id,
        "containerID": container_id(pod_uid, &c.name),
        "ready": ready,
        "started": started,
        "restartCount": 0,
        "state": state,
    })
}

/// The pod's conditions with ours set: other writers' conditions are kept, and so is the
/// scheduler's PodScheduled.
fn conditions(pod: &Pod, ours: &[(&str, bool, Option<&str>)], now: &str) -> Vec<Value> {
    let existing: &[PodCondition] = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let mut out: Vec<Value> = ours
        .iter()
        .map(|(type_, status, reason)| {
            let status = if *status { "True" } else { "False" };
            let kept = existing
                .iter()
                .find(|c| c.type_ == *type_ && c.status == status)
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| util::time(t.0));
            let mut c = json!({
                "type": type_,
                "status": status,
                "lastProbeTime": null,
                "lastTransitionTime": kept.as_deref().unwrap_or(now),
            });
            if let Some(reason) = reason {
                c["reason"] = (*reason).into();
            }
            c
        })
        .collect();
    for c in existing {
        if !ours.iter().any(|(t, _, _)| *t == c.type_)
            && let Ok(v) = serde_json::to_value(c)
        {
            out.push(v);
        }
    }
    // Readiness gates are someone else's to set; a simulated cluster has nobody, so (as kwok)
    // they are set True.
    for gate in pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .into_iter()
        .flatten()
    {
        if !out
            .iter()
            .any(|c| c["type"] == gate.condition_type.as_str())
        {
            out.push(json!({"type": gate.condition_type, "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        }
    }
    out
}

/// The status patch that makes a pod Running and Ready.
pub(crate) fn running_status(pod: &Pod, node_ip: &str, pod_ip: Option<&str>, now: &str) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let containers: Vec<Value> = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| container_status(uid, c, json!({"running": {"startedAt": now}}), true, true))
        .collect();
    let init: Vec<Value> = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            if is_sidecar(c) {
                container_status(uid, c, json!({"running": {"startedAt": now}}), true, true)
            } else {
                let id = container_id(uid, &c.name);
                let state = json!({"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
                    "containerID": id,
                }});
                container_status(uid, c, state, true, false)
            }
        })
        .collect();
    let conditions = conditions(
        pod,
        &[
            ("PodReadyToStartContainers", true, None),
            ("Initialized", true, None),
            ("Ready", true, None),
            ("ContainersReady", true, None),
            ("PodScheduled", true, None),
        ],
        now,
    );
    let mut status = json!({
        "phase": "Running",
        "startTime": now,
        "hostIP": node_ip,
        "hostIPs": [{"ip": node_ip}],
        "conditions": conditions,
        "containerStatuses": containers,
    });
    if !init.is_empty() {
        status["initContainerStatuses"] = init.into();
    }
    if let Some(ip) = pod_ip {
        status["podIP"] = ip.into();
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    json!({ "metadata": { "uid": uid }, "status": status })
}

/// The status patch that makes a (Job's) pod Succeeded: every container exited 0.
pub(crate) fn succeeded_status(pod: &Pod, now: &str) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let status = pod.status.as_ref();
    let start = status
        .and_then(|s| s.start_time.as_ref())
        .map(|t| util::time(t.0))
        .unwrap_or_else(|| now.to_string());
    let terminated = |c: &Container| {
        let state = json!({"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": now,
            "containerID": container_id(uid, &c.name),
        }});
        container_status(uid, c, state, false, false)
    };
    let spec = pod.spec.as_ref();
    let containers: Vec<Value> = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(terminated)
        .collect();
    let init: Vec<Value> = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let mut s = terminated(c);
            if !is_sidecar(c) {
                s["ready"] = true.into();
                s["state"]["terminated"]["finishedAt"] = start.clone().into();
            }
            s
        })
        .collect();
    let conditions = conditions(
        pod,
        &[
            ("PodReadyToStartContainers", false, None),
            ("Initialized", true, Some("PodCompleted")),
            ("Ready", false, Some("PodCompleted")),
            ("ContainersReady", false, Some("PodCompleted")),
            ("PodScheduled", true, None),
        ],
        now,
    );
    let mut out = json!({
        "phase": "Succeeded",
        "conditions": conditions,
        "containerStatuses": containers,
    });
    if !init.is_empty() {
        out["initContainerStatuses"] = init.into();
    }
    json!({ "metadata": { "uid": uid }, "status": out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_normalized_like_the_runtime_reports_them() {
        let (image, id) = image_and_id("busybox");
        assert_eq!(image, "docker.io/library/busybox:latest");
        assert!(id.starts_with("docker.io/library/busybox@sha256:"), "{id}");
        assert_eq!(id.len(), "docker.io/library/busybox@sha256:".len() + 64);
        assert_eq!(
            image_and_id("bitnami/nginx:1.2").0,
            "docker.io/bitnami/nginx:1.2"
        );
        assert_eq!(
            image_and_id("localhost:5000/x/y:2").0,
            "localhost:5000/x/y:2"
        );
        assert_eq!(
            image_and_id("registry.k8s.io/pause:3.10").0,
            "registry.k8s.io/pause:3.10"
        );
        let (image, id) = image_and_id("nginx@sha256:abc");
        assert_eq!(
            (image.as_str(), id.as_str()),
            (
                "docker.io/library/nginx@sha256:abc",
                "docker.io/library/nginx@sha256:abc"
            )
        );
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "j-1"}]},
            "spec": {"nodeName": "sim-node-0",
                "containers": [{"name": "main", "image": "busybox"}],
                "initContainers": [{"name": "init", "image": "busybox"},
                                   {"name": "side", "image": "envoy", "restartPolicy": "Always"}],
                "readinessGates": [{"conditionType": "example.com/gate"}]},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
                {"type": "DisruptionTarget", "status": "False"}]}
        }))
        .unwrap()
    }

    #[test]
    fn running_status_looks_like_the_kubelets() {
        let now = "2024-05-01T10:00:00Z";
        let patch = running_status(&pod(), "172.16.0.1", Some("10.42.0.2"), now);
        assert_eq!(
            patch["metadata"]["uid"], "u-1",
            "the UID makes the write conditional"
        );
        let s = &patch["status"];
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIPs"], json!([{"ip": "10.42.0.2"}]));
        assert_eq!(s["hostIPs"], json!([{"ip": "172.16.0.1"}]));
        let cond = |t: &str| {
            s["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == t)
                .cloned()
                .unwrap()
        };
        assert_eq!(cond("Ready")["status"], "True");
        assert_eq!(
            cond("PodScheduled")["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(
            cond("DisruptionTarget")["status"],
            "False",
            "others' conditions kept"
        );
        assert_eq!(cond("example.com/gate")["status"], "True");
        let c = &s["containerStatuses"][0];
        assert_eq!(c["ready"], true);
        assert_eq!(c["state"]["running"]["startedAt"], now);
        assert!(c["containerID"].as_str().unwrap().starts_with("sim://"));
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert_eq!(
            s["initContainerStatuses"][1]["state"]["running"]["startedAt"],
            now
        );
        // It decodes as a PodStatus.
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(s.clone()).unwrap();
    }

    #[test]
    fn succeeded_status_terminates_every_container_with_exit_0() {
        let mut p = pod();
        assert!(owned_by_job(&p));
        p.status.as_mut().unwrap().start_time =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2024-05-01T10:00:00Z".parse().unwrap(),
            ));
        let patch = succeeded_status(&p, "2024-05-01T10:00:05Z");
        let s = &patch["status"];
        assert_eq!(s["phase"], "Succeeded");
        let t = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (t["exitCode"].clone(), t["reason"].clone()),
            (json!(0), json!("Completed"))
        );
        assert_eq!(t["startedAt"], "2024-05-01T10:00:00Z");
        assert_eq!(t["finishedAt"], "2024-05-01T10:00:05Z");
        let ready = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(
            (ready["status"].clone(), ready["reason"].clone()),
            (json!("False"), json!("PodCompleted"))
        );
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(s.clone()).unwrap();
    }
}
