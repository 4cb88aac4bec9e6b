//! The simulated Nodes and their Leases: what they look like, registering them, and the two
//! heartbeat writes (Lease renewal, status report).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference, Time};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::config::{MARKER_LABEL, MARKER_VALUE, SimConfig};
use crate::util;

/// The namespace node Leases live in.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The kubelet version simulated nodes report (`kubectl get nodes` shows it).
pub const KUBELET_VERSION: &str = "v1.33.0-rkube-sim";
/// The container runtime simulated nodes report; container IDs use its scheme.
pub const RUNTIME_VERSION: &str = concat!("sim://", env!("CARGO_PKG_VERSION"));
/// The kubelet port nodes advertise (nothing listens: logs and exec fail as on a dead kubelet).
pub const KUBELET_PORT: i32 = 10250;

const LEASES_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
const NODES_PATH: &str = "/api/v1/nodes";

/// A registered simulated node.
#[derive(Clone, Debug)]
pub struct RegisteredNode {
    /// The node's name.
    pub name: String,
    /// The Node's UID (its Lease's owner).
    pub uid: String,
    /// The node's InternalIP (pods with hostNetwork get it as their IP).
    pub internal_ip: Ipv4Addr,
}

/// The labels of node `i`: the kubelet's well-known ones, the configured extras, the marker.
pub fn node_labels(config: &SimConfig, i: usize) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), config.node_name(i)),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
    ]);
    labels.extend(config.labels.clone());
    labels.insert(MARKER_LABEL.into(), MARKER_VALUE.into());
    labels
}

/// The four conditions a healthy kubelet reports, heartbeat `now`, transition `since`.
pub fn healthy_conditions(now: &Time, since: &Time) -> Vec<NodeCondition> {
    let cond = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(since.clone()),
    };
    vec![
        cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        cond(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        cond(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        cond(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

/// The full status node `i` registers with.
pub fn node_status(config: &SimConfig, i: usize, now: &Time) -> NodeStatus {
    let name = config.node_name(i);
    let q = |s: &str| Quantity(s.to_string());
    let resources = BTreeMap::from([
        ("cpu".to_string(), q(&config.cpu)),
        ("memory".to_string(), q(&config.memory)),
        ("pods".to_string(), q(&config.max_pods.to_string())),
        (
            "ephemeral-storage".to_string(),
            q(&config.ephemeral_storage),
        ),
        ("hugepages-1Gi".to_string(), q("0")),
        ("hugepages-2Mi".to_string(), q("0")),
    ]);
    let uuid = util::fake_hex(&["system-uuid", &name], 32);
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(healthy_conditions(now, now)),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.node_ip(i).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            operating_system: "linux".into(),
            boot_id: util::fake_hex(&["boot-id", &name, &util::time(now.0)], 32),
            machine_id: util::fake_hex(&["machine-id", &name], 32),
            system_uuid: format!(
                "{}-{}-{}-{}-{}",
                &uuid[..8],
                &uuid[8..12],
                &uuid[12..16],
                &uuid[16..20],
                &uuid[20..]
            ),
            kernel_version: "6.1.0-rkube-sim".into(),
            os_image: "rkube simulated node".into(),
            container_runtime_version: RUNTIME_VERSION.into(),
            kubelet_version: KUBELET_VERSION.into(),
            kube_proxy_version: String::new(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Node `i` as it is registered: labels, kubelet annotations, taints and full status.
pub fn build_node(config: &SimConfig, i: usize, now: &Time) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(config.node_name(i)),
            labels: Some(node_labels(config, i)),
            annotations: Some(BTreeMap::from([
                ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
                (
                    "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                    "true".to_string(),
                ),
            ])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.taints.is_empty()).then(|| config.taints.clone()),
            ..Default::default()
        }),
        status: Some(node_status(config, i, now)),
    }
}

/// Registers node `i` (or adopts it if it exists: a restarted simulator, like a restarted
/// kubelet, updates its labels and reports a fresh status) and creates or renews its Lease.
pub(crate) async fn register(
    client: &Client,
    config: &SimConfig,
    i: usize,
    now: &Time,
) -> Result<RegisteredNode, crate::SimError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let name = config.node_name(i);
    let node = build_node(config, i, now);
    let err = |source| crate::SimError::Register {
        node: name.clone(),
        source,
    };
    let (post, params) = (PostParams::default(), PatchParams::default());
    let created = util::retry(5, || nodes.create(&post, &node)).await;
    let stored = match created {
        Ok(n) => n,
        Err(e) if util::code(&e) == Some(409) => {
            let mut patch = json!({ "metadata": { "labels": node_labels(config, i) } });
            if !config.taints.is_empty() {
                patch["spec"] = json!({ "taints": config.taints });
            }
            let patch = Patch::Merge(&patch);
            util::retry(5, || nodes.patch(&name, &params, &patch))
                .await
                .map_err(err)?;
            let status = json!({ "status": node.status });
            let status = Patch::Merge(&status);
            util::retry(5, || nodes.patch_status(&name, &params, &status))
                .await
                .map_err(err)?
        }
        Err(e) => return Err(err(e)),
    };
    let registered = RegisteredNode {
        uid: stored.metadata.uid.unwrap_or_default(),
        name: name.clone(),
        internal_ip: config.node_ip(i),
    };
    util::retry(5, || ensure_lease(client, config, &registered))
        .await
        .map_err(|source| crate::SimError::Lease {
            node: name.clone(),
            source,
        })?;
    Ok(registered)
}

/// The node's Lease as it is written: held by the node, renewed `now`, owned by the Node.
fn lease(config: &SimConfig, node: &RegisteredNode, now: jiff::Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node.name.clone()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: (!node.uid.is_empty()).then(|| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.name.clone(),
                    uid: node.uid.clone(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.name.clone()),
            lease_duration_seconds: Some(config.lease_duration.as_secs() as i32),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        }),
    }
}

async fn create_lease(client: &Client, lease: &Lease) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(lease).map_err(kube::Error::SerdeError)?;
    let request = kube::core::Request::new(LEASES_PATH).create(&PostParams::default(), body);
    util::send(client, request).await
}

async fn replace_lease(client: &Client, name: &str, lease: &Lease) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(lease).map_err(kube::Error::SerdeError)?;
    let request = kube::core::Request::new(LEASES_PATH).replace(name, &PostParams::default(), body);
    util::send(client, request).await
}

/// Creates the node's Lease at registration, or renews the one a previous run left.
async fn ensure_lease(
    client: &Client,
    config: &SimConfig,
    node: &RegisteredNode,
) -> Result<(), kube::Error> {
    let lease = lease(config, node, jiff::Timestamp::now());
    match create_lease(client, &lease).await {
        Err(e) if util::code(&e) == Some(409) => replace_lease(client, &node.name, &lease).await,
        r => r,
    }
}

/// Renews the node's Lease: one unconditional update (no resourceVersion: nobody else writes
/// it, and it is one request instead of a read and a write), recreating it if it is gone.
pub(crate) async fn renew_lease(
    client: &Client,
    config: &SimConfig,
    node: &RegisteredNode,
) -> Result<(), kube::Error> {
    let lease = lease(config, node, jiff::Timestamp::now());
    match replace_lease(client, &node.name, &lease).await {
        Err(e) if util::code(&e) == Some(404) => create_lease(client, &lease).await,
        r => r,
    }
}

/// Reports the node's conditions again with a fresh `lastHeartbeatTime` (one merge patch of
/// `/status`), as the kubelet does every `nodeStatusReportFrequency`.
pub(crate) async fn report_status(
    client: &Client,
    node: &RegisteredNode,
    since: &Time,
) -> Result<(), kube::Error> {
    let now = Time(jiff::Timestamp::now());
    let patch: Value = json!({ "status": { "conditions": healthy_conditions(&now, since) } });
    let request = kube::core::Request::new(NODES_PATH).patch_subresource(
        "status",
        &node.name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    );
    util::send(client, request).await
}

/// Registered nodes, shared by the heartbeat loops and the pod agent.
pub(crate) type Nodes = Arc<[RegisteredNode]>;
