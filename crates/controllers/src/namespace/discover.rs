//! Which resource types a namespace's content can be of: every namespaced resource the
//! apiserver's discovery advertises (built-ins and, later, CRDs) at its group's preferred
//! version, that can be listed and deleted. Subresources are not content.

use kube::Client;
use kube::core::ApiResource;
use kube::discovery::{Discovery, Scope, verbs};

/// A namespaced resource type to empty, with whether the server deletes it by collection.
#[derive(Clone, Debug)]
pub struct Deletable {
    /// The resource as the dynamic client addresses it.
    pub resource: ApiResource,
    /// Whether `deletecollection` is served (else objects are deleted one by one).
    pub delete_collection: bool,
}

/// Discovers the deletable namespaced resource types, preferred versions only (as upstream's
/// `ServerPreferredNamespacedResources`), so each stored resource is visited once per group.
pub async fn deletable(client: &Client) -> Result<Vec<Deletable>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            // Aggregated discovery lists subresources beside their parent; skip them either way.
            if caps.scope != Scope::Namespaced || resource.plural.contains('/') {
                continue;
            }
            if !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::DELETE) {
                continue;
            }
            out.push(Deletable {
                delete_collection: caps.supports_operation(verbs::DELETE_COLLECTION),
                resource,
            });
        }
    }
    // Pods first: their graceful termination is the slowest part, so start it early.
    out.sort_by_key(|d| !(d.resource.group.is_empty() && d.resource.plural == "pods"));
    Ok(out)
}
