//! Service-account controllers, as upstream's: the ServiceAccount controller keeps the
//! `default` ServiceAccount in every active namespace ([`accounts`]), and the root-CA
//! publisher keeps the `kube-root-ca.crt` ConfigMap holding the cluster CA in every namespace
//! ([`root_ca`]). Both recreate what a user deletes and are keyed by namespace.

pub mod accounts;
pub mod root_ca;

use k8s_openapi::api::core::v1::Namespace;

/// Whether a namespace accepts new objects (phase Active, or no phase yet).
fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p == "Active")
}

/// Whether a create failed only because the namespace is gone or terminating (nothing to
/// retry: the namespace's next change enqueues it again).
fn namespace_closed(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code == 404 || (s.code == 403 && s.message.contains("being terminated"))
        }
        _ => false,
    }
}
