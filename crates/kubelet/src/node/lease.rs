//! The node heartbeat: a coordination.k8s.io Lease named after the node in `kube-node-lease`,
//! renewed every `lease_renew_interval`; the node lifecycle controller reads its renewTime.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::NodeError;
use crate::config::KubeletConfig;

/// The namespace node leases live in.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Creates or renews the node's Lease once, owned by `node` (so it goes when the Node does).
pub async fn renew(
    client: &Client,
    config: &KubeletConfig,
    node: &Node,
) -> Result<Lease, NodeError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let now = MicroTime(jiff::Timestamp::now());
    let spec = LeaseSpec {
        holder_identity: Some(config.node_name.clone()),
        lease_duration_seconds: Some(config.lease_duration.as_secs() as i32),
        renew_time: Some(now),
        ..Default::default()
    };
    match leases.get_opt(&config.node_name).await? {
        Some(mut lease) => {
            lease.spec = Some(spec);
            Ok(leases
                .replace(&config.node_name, &PostParams::default(), &lease)
                .await?)
        }
        None => {
            let owner = node.metadata.uid.clone().map(|uid| OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: config.node_name.clone(),
                uid,
                ..Default::default()
            });
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.node_name.clone()),
                    namespace: Some(LEASE_NAMESPACE.into()),
                    owner_references: owner.map(|o| vec![o]),
                    ..Default::default()
                },
                spec: Some(spec),
            };
            Ok(leases.create(&PostParams::default(), &lease).await?)
        }
    }
}
