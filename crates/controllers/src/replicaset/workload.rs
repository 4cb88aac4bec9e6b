//! The two kinds this controller serves behind one view, as upstream runs the
//! ReplicationController controller as the ReplicaSet controller behind an adapter: desired
//! replicas, selector, template, minReadySeconds, and a status shape both kinds share on the
//! wire.

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use rkube_api::selector::LabelSelector;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What the controller needs of its owner's spec.
pub struct Spec {
    /// Desired pods (default 1).
    pub replicas: i32,
    /// Which pods it owns; `None` when the selector cannot be used (no pods are managed).
    pub selector: Option<LabelSelector>,
    /// The pod template.
    pub template: Option<PodTemplateSpec>,
    /// Seconds a pod must be ready to count as available.
    pub min_ready_seconds: i32,
}

/// One status condition (the same JSON for both kinds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `ReplicaFailure`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The status both kinds share (zero counts are omitted on the wire, as upstream).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    /// Pods the controller counts (active, matching).
    pub replicas: i32,
    /// Of those, pods whose labels include all the template's labels.
    pub fully_labeled_replicas: i32,
    /// Of those, Ready pods.
    pub ready_replicas: i32,
    /// Of those, pods Ready for at least minReadySeconds.
    pub available_replicas: i32,
    /// The generation this status describes.
    pub observed_generation: i64,
    /// Conditions (`ReplicaFailure`).
    pub conditions: Vec<Condition>,
}

impl Status {
    /// The merge patch of `/status` that sets exactly this status.
    pub fn to_patch(&self) -> serde_json::Value {
        let opt = |n: i64| (n != 0).then_some(n);
        serde_json::json!({"status": {
            "replicas": self.replicas,
            "fullyLabeledReplicas": opt(self.fully_labeled_replicas.into()),
            "readyReplicas": opt(self.ready_replicas.into()),
            "availableReplicas": opt(self.available_replicas.into()),
            "observedGeneration": opt(self.observed_generation),
            "conditions": (!self.conditions.is_empty()).then_some(&self.conditions),
        }})
    }
}

/// A kind this controller keeps at its replica count.
pub trait Workload:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The work queue's (and metrics') name, as upstream's queue.
    const QUEUE: &'static str;
    /// The events' source component, as upstream.
    const EVENT_SOURCE: &'static str;
    /// The spec, normalised.
    fn spec(&self) -> Spec;
    /// The current status, normalised.
    fn status(&self) -> Status;
}

fn status_of<T: Serialize>(status: &Option<T>) -> Status {
    status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

impl Workload for ReplicaSet {
    const QUEUE: &'static str = "replicaset";
    const EVENT_SOURCE: &'static str = "replicaset-controller";

    fn spec(&self) -> Spec {
        let spec = self.spec.clone().unwrap_or_default();
        // An empty selector would match every pod: upstream treats it as matching nothing.
        let selector = LabelSelector::from_meta(&spec.selector)
            .ok()
            .filter(|s| !s.is_everything());
        Spec {
            replicas: spec.replicas.unwrap_or(1),
            selector,
            template: spec.template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        }
    }

    fn status(&self) -> Status {
        status_of(&self.status)
    }
}

impl Workload for ReplicationController {
    const QUEUE: &'static str = "replicationmanager";
    const EVENT_SOURCE: &'static str = "replication-controller";

    fn spec(&self) -> Spec {
        let spec = self.spec.clone().unwrap_or_default();
        // The apiserver defaults an RC's selector to its template's labels.
        let map: BTreeMap<String, String> = spec
            .selector
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                spec.template
                    .as_ref()
                    .and_then(|t| t.metadata.as_ref())
                    .and_then(|m| m.labels.clone())
            })
            .unwrap_or_default();
        let selector = (!map.is_empty()).then(|| LabelSelector::from_map(&map));
        Spec {
            replicas: spec.replicas.unwrap_or(1),
            selector,
            template: spec.template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        }
    }

    fn status(&self) -> Status {
        status_of(&self.status)
    }
}
