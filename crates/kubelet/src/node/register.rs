//! Registering the Node: create it with its labels, or adopt the one already there (a restarted
//! kubelet) and bring its labels up to date.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::NodeError;
use crate::config::KubeletConfig;

/// The labels the kubelet puts on its Node (upstream's well-known ones plus configured ones).
pub fn node_labels(config: &KubeletConfig) -> BTreeMap<String, String> {
    let arch = std::env::consts::ARCH
        .replace("x86_64", "amd64")
        .replace("aarch64", "arm64");
    let mut labels = BTreeMap::from([
        (
            "kubernetes.io/hostname".to_string(),
            config.node_name.clone(),
        ),
        (
            "kubernetes.io/os".to_string(),
            std::env::consts::OS.to_string(),
        ),
        ("kubernetes.io/arch".to_string(), arch.clone()),
        (
            "beta.kubernetes.io/os".to_string(),
            std::env::consts::OS.to_string(),
        ),
        ("beta.kubernetes.io/arch".to_string(), arch),
    ]);
    labels.extend(config.node_labels.clone());
    labels
}

/// Creates the Node, or updates the labels of an existing one. Returns the stored Node.
pub async fn register(client: &Client, config: &KubeletConfig) -> Result<Node, NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let labels = node_labels(config);
    let node = Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(created) => {
            tracing::info!(node = %config.node_name, "registered node");
            Ok(created)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let patch = serde_json::json!({ "metadata": { "labels": labels } });
            let node = nodes
                .patch(
                    &config.node_name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
            tracing::info!(node = %config.node_name, "node already registered; adopted it");
            Ok(node)
        }
        Err(e) => Err(e.into()),
    }
}
