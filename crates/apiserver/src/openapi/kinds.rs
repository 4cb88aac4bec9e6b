//! Which k8s-openapi type describes each kind the server may serve.
//!
//! The table is wider than `rkube_api::resources::BUILTIN` on purpose: adding a resource to the
//! resource table then needs no change here as long as k8s-openapi has the type.

use k8s_openapi::Resource;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};

/// A kind with a typed schema in k8s-openapi.
pub(crate) struct KnownKind {
    /// API group, `""` for core.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Registers the type's schema (and every schema it references) with the generator and
    /// returns its definition name, e.g. `io.k8s.api.core.v1.Pod`.
    pub register: fn(&mut SchemaGenerator) -> String,
}

/// Registers `T` and returns its definition name.
pub(crate) fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

macro_rules! known_kinds {
    ($($ty:ty),* $(,)?) => {
        /// Every kind with a typed schema.
        pub(crate) static KNOWN: &[KnownKind] = &[$(KnownKind {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            register: register::<$ty>,
        }),*];
    };
}

use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, flowcontrol, networking, node, policy, rbac, scheduling,
    storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;

known_kinds![
    core::v1::Binding,
    core::v1::ComponentStatus,
    core::v1::ConfigMap,
    core::v1::Endpoints,
    core::v1::Event,
    core::v1::LimitRange,
    core::v1::Namespace,
    core::v1::Node,
    core::v1::PersistentVolume,
    core::v1::PersistentVolumeClaim,
    core::v1::Pod,
    core::v1::PodTemplate,
    core::v1::ReplicationController,
    core::v1::ResourceQuota,
    core::v1::Secret,
    core::v1::Service,
    core::v1::ServiceAccount,
    admissionregistration::v1::MutatingWebhookConfiguration,
    admissionregistration::v1::ValidatingAdmissionPolicy,
    admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    admissionregistration::v1::ValidatingWebhookConfiguration,
    apiextensions::v1::CustomResourceDefinition,
    apiregistration::v1::APIService,
    apps::v1::ControllerRevision,
    apps::v1::DaemonSet,
    apps::v1::Deployment,
    apps::v1::ReplicaSet,
    apps::v1::StatefulSet,
    authentication::v1::SelfSubjectReview,
    authentication::v1::TokenRequest,
    authentication::v1::TokenReview,
    authorization::v1::LocalSubjectAccessReview,
    authorization::v1::SelfSubjectAccessReview,
    authorization::v1::SelfSubjectRulesReview,
    authorization::v1::SubjectAccessReview,
    autoscaling::v1::HorizontalPodAutoscaler,
    autoscaling::v1::Scale,
    autoscaling::v2::HorizontalPodAutoscaler,
    batch::v1::CronJob,
    batch::v1::Job,
    certificates::v1::CertificateSigningRequest,
    coordination::v1::Lease,
    discovery::v1::EndpointSlice,
    events::v1::Event,
    flowcontrol::v1::FlowSchema,
    flowcontrol::v1::PriorityLevelConfiguration,
    networking::v1::IPAddress,
    networking::v1::Ingress,
    networking::v1::IngressClass,
    networking::v1::NetworkPolicy,
    networking::v1::ServiceCIDR,
    node::v1::RuntimeClass,
    policy::v1::Eviction,
    policy::v1::PodDisruptionBudget,
    rbac::v1::ClusterRole,
    rbac::v1::ClusterRoleBinding,
    rbac::v1::Role,
    rbac::v1::RoleBinding,
    scheduling::v1::PriorityClass,
    storage::v1::CSIDriver,
    storage::v1::CSINode,
    storage::v1::CSIStorageCapacity,
    storage::v1::StorageClass,
    storage::v1::VolumeAttachment,
];

/// The typed kind for a group/version/kind, if k8s-openapi has one.
pub(crate) fn find(group: &str, version: &str, kind: &str) -> Option<&'static KnownKind> {
    KNOWN
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
}

/// The group/version/kind a subresource speaks (upstream's choice), or `None` for a
/// subresource the documents do not describe.
pub(crate) fn subresource_gvk(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    sub: &str,
) -> Option<(&'static str, &'static str, &'static str)> {
    match sub {
        "status" | "finalize" => Some((group, version, kind)),
        "scale" => Some(("autoscaling", "v1", "Scale")),
        "binding" => Some(("", "v1", "Binding")),
        "eviction" => Some(("policy", "v1", "Eviction")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_kind_is_known() {
        for r in rkube_api::resources::BUILTIN {
            assert!(
                find(r.group, r.version, r.kind).is_some(),
                "{}/{} {} has no typed schema",
                r.group,
                r.version,
                r.kind
            );
        }
    }

    #[test]
    fn known_kinds_are_unique() {
        for (i, a) in KNOWN.iter().enumerate() {
            for b in &KNOWN[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.kind == b.kind),
                    "{} listed twice",
                    a.kind
                );
            }
        }
    }
}
