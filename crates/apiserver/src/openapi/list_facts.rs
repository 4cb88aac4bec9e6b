//! How list fields of the built-in types merge: the `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`
//! extensions of upstream's OpenAPI.
//!
//! k8s-openapi's schemas do not carry these, so they are kept here as data: facts about the
//! Kubernetes API (the `patchStrategy`/`patchMergeKey` struct tags and `+listType` markers of the
//! upstream types). kubectl reads them for strategic merge patches (`kubectl apply`) and
//! `kubectl explain`.

use serde_json::{Map, Value, json};

/// How the list is merged by structured merge (server-side apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// Scalars, unique.
    Set,
    /// Objects keyed by these fields.
    Map(&'static [&'static str]),
}

/// One list field of one definition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListFact {
    /// Definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub definition: &'static str,
    /// JSON field name, e.g. `containers`.
    pub field: &'static str,
    /// `x-kubernetes-patch-strategy`, e.g. `merge` or `merge,retainKeys`.
    pub strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` (and `x-kubernetes-list-map-keys`).
    pub list_type: Option<ListType>,
}

const fn merge_map(
    definition: &'static str,
    field: &'static str,
    key: &'static str,
    keys: &'static [&'static str],
) -> ListFact {
    ListFact {
        definition,
        field,
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some(ListType::Map(keys)),
    }
}

const fn atomic(definition: &'static str, field: &'static str) -> ListFact {
    ListFact {
        definition,
        field,
        strategy: None,
        merge_key: None,
        list_type: Some(ListType::Atomic),
    }
}

/// `conditions` merged by `type`, keyed by `type`.
const fn conditions(definition: &'static str) -> ListFact {
    merge_map(definition, "conditions", "type", &["type"])
}

/// The list facts of the built-in types.
pub(crate) static LIST_FACTS: &[ListFact] = &[
    // meta/v1
    ListFact {
        definition: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        field: "finalizers",
        strategy: Some("merge"),
        merge_key: None,
        list_type: Some(ListType::Set),
    },
    merge_map(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
        &["uid"],
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
    ),
    // core/v1 PodSpec
    ListFact {
        definition: "io.k8s.api.core.v1.PodSpec",
        field: "volumes",
        strategy: Some("merge,retainKeys"),
        merge_key: Some("name"),
        list_type: Some(ListType::Map(&["name"])),
    },
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "name",
        &["name"],
    ),
    merge_map("io.k8s.api.core.v1.PodSpec", "hostAliases", "ip", &["ip"]),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    ListFact {
        definition: "io.k8s.api.core.v1.PodSpec",
        field: "resourceClaims",
        strategy: Some("merge,retainKeys"),
        merge_key: Some("name"),
        list_type: Some(ListType::Map(&["name"])),
    },
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "name",
        &["name"],
    ),
    atomic("io.k8s.api.core.v1.PodSpec", "tolerations"),
    atomic("io.k8s.api.core.v1.PodSpec", "readinessGates"),
    // core/v1 Container and EphemeralContainer
    merge_map(
        "io.k8s.api.core.v1.Container",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    merge_map("io.k8s.api.core.v1.Container", "env", "name", &["name"]),
    merge_map(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    atomic("io.k8s.api.core.v1.Container", "envFrom"),
    atomic("io.k8s.api.core.v1.Container", "command"),
    atomic("io.k8s.api.core.v1.Container", "args"),
    atomic("io.k8s.api.core.v1.Container", "resizePolicy"),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "envFrom"),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "command"),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "args"),
    // core/v1 PodStatus
    conditions("io.k8s.api.core.v1.PodStatus"),
    merge_map("io.k8s.api.core.v1.PodStatus", "podIPs", "ip", &["ip"]),
    ListFact {
        definition: "io.k8s.api.core.v1.PodStatus",
        field: "hostIPs",
        strategy: Some("merge"),
        merge_key: Some("ip"),
        list_type: Some(ListType::Atomic),
    },
    atomic("io.k8s.api.core.v1.PodStatus", "containerStatuses"),
    atomic("io.k8s.api.core.v1.PodStatus", "initContainerStatuses"),
    atomic("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses"),
    // core/v1 other kinds
    ListFact {
        definition: "io.k8s.api.core.v1.NodeSpec",
        field: "podCIDRs",
        strategy: Some("merge"),
        merge_key: None,
        list_type: Some(ListType::Set),
    },
    atomic("io.k8s.api.core.v1.NodeSpec", "taints"),
    conditions("io.k8s.api.core.v1.NodeStatus"),
    merge_map(
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "type",
        &["type"],
    ),
    atomic("io.k8s.api.core.v1.NodeStatus", "images"),
    atomic("io.k8s.api.core.v1.NodeStatus", "volumesInUse"),
    atomic("io.k8s.api.core.v1.NodeStatus", "volumesAttached"),
    merge_map(
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "port",
        &["port", "protocol"],
    ),
    atomic("io.k8s.api.core.v1.ServiceSpec", "externalIPs"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "clusterIPs"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "ipFamilies"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges"),
    conditions("io.k8s.api.core.v1.ServiceStatus"),
    merge_map(
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "name",
        &["name"],
    ),
    atomic("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets"),
    conditions("io.k8s.api.core.v1.NamespaceStatus"),
    conditions("io.k8s.api.core.v1.PersistentVolumeClaimStatus"),
    conditions("io.k8s.api.core.v1.ReplicationControllerStatus"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "addresses"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "notReadyAddresses"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "ports"),
    atomic("io.k8s.api.core.v1.Endpoints", "subsets"),
    atomic("io.k8s.api.core.v1.LimitRangeSpec", "limits"),
    atomic(
        "io.k8s.api.core.v1.PodSecurityContext",
        "supplementalGroups",
    ),
    atomic("io.k8s.api.core.v1.PodSecurityContext", "sysctls"),
    atomic("io.k8s.api.core.v1.Capabilities", "add"),
    atomic("io.k8s.api.core.v1.Capabilities", "drop"),
    atomic("io.k8s.api.core.v1.ConfigMapVolumeSource", "items"),
    atomic("io.k8s.api.core.v1.SecretVolumeSource", "items"),
    atomic("io.k8s.api.core.v1.ProjectedVolumeSource", "sources"),
    // apps/v1
    conditions("io.k8s.api.apps.v1.DeploymentStatus"),
    conditions("io.k8s.api.apps.v1.ReplicaSetStatus"),
    conditions("io.k8s.api.apps.v1.StatefulSetStatus"),
    conditions("io.k8s.api.apps.v1.DaemonSetStatus"),
    atomic("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates"),
    // batch/v1
    ListFact {
        definition: "io.k8s.api.batch.v1.JobStatus",
        field: "conditions",
        strategy: Some("merge"),
        merge_key: Some("type"),
        list_type: Some(ListType::Atomic),
    },
    atomic("io.k8s.api.batch.v1.CronJobStatus", "active"),
    // autoscaling/v2
    conditions("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus"),
    atomic(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
        "metrics",
    ),
    // policy/v1
    conditions("io.k8s.api.policy.v1.PodDisruptionBudgetStatus"),
    // networking/v1
    atomic("io.k8s.api.networking.v1.IngressSpec", "rules"),
    atomic("io.k8s.api.networking.v1.IngressSpec", "tls"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "ingress"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "egress"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes"),
    // discovery/v1
    atomic("io.k8s.api.discovery.v1.EndpointSlice", "endpoints"),
    atomic("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
    // rbac/v1
    atomic("io.k8s.api.rbac.v1.ClusterRole", "rules"),
    atomic("io.k8s.api.rbac.v1.Role", "rules"),
    atomic("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects"),
    atomic("io.k8s.api.rbac.v1.RoleBinding", "subjects"),
];

/// The extensions one fact adds to a property schema.
pub(crate) fn extensions(fact: &ListFact) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(strategy) = fact.strategy {
        out.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
    }
    if let Some(key) = fact.merge_key {
        out.insert("x-kubernetes-patch-merge-key".into(), json!(key));
    }
    match fact.list_type {
        Some(ListType::Atomic) => {
            out.insert("x-kubernetes-list-type".into(), json!("atomic"));
        }
        Some(ListType::Set) => {
            out.insert("x-kubernetes-list-type".into(), json!("set"));
        }
        Some(ListType::Map(keys)) => {
            out.insert("x-kubernetes-list-type".into(), json!("map"));
            out.insert("x-kubernetes-list-map-keys".into(), json!(keys));
        }
        None => {}
    }
    out
}

/// Adds the list facts to the definitions that exist in `definitions`. Facts about definitions
/// or fields that are absent are skipped.
pub(crate) fn apply(definitions: &mut Map<String, Value>) {
    for fact in LIST_FACTS {
        let Some(property) = definitions
            .get_mut(fact.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(fact.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        property.extend(extensions(fact));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_name_real_list_fields() {
        // Every fact must point at an array property of a definition k8s-openapi knows, so a
        // typo does not silently drop an extension.
        let mut generator = k8s_openapi::schemars::SchemaGenerator::default();
        for k in super::super::kinds::KNOWN {
            (k.register)(&mut generator);
        }
        let defs = generator.take_definitions(false);
        for fact in LIST_FACTS {
            let def = defs
                .get(fact.definition)
                .unwrap_or_else(|| panic!("no definition {}", fact.definition));
            let prop = def
                .pointer(&format!("/properties/{}", fact.field))
                .unwrap_or_else(|| panic!("no field {}.{}", fact.definition, fact.field));
            assert_eq!(
                prop.get("type").and_then(Value::as_str),
                Some("array"),
                "{}.{} is not a list",
                fact.definition,
                fact.field
            );
        }
    }

    #[test]
    fn facts_are_unique() {
        for (i, a) in LIST_FACTS.iter().enumerate() {
            for b in &LIST_FACTS[i + 1..] {
                assert!(
                    !(a.definition == b.definition && a.field == b.field),
                    "{}.{} listed twice",
                    a.definition,
                    a.field
                );
            }
        }
    }
}
