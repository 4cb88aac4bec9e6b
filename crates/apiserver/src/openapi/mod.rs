//! The OpenAPI documents the apiserver publishes: `/openapi/v2` (Swagger 2.0, one document) and
//! `/openapi/v3` (a root listing one OpenAPI 3.0 document per group version).
//!
//! Pure: builds the documents from the served resource table once, as bytes ready to send; the
//! HTTP routes live elsewhere.
//!
//! What clients rely on:
//! - `kubectl create/apply` (default `--validate=strict`) reads `/openapi/v3`, then the group
//!   version's document, and looks for the `fieldValidation` parameter on the PATCH operation
//!   whose `x-kubernetes-group-version-kind` is the object's GVK; found, it sends
//!   `fieldValidation=Strict` and skips client-side validation. Every PATCH operation carries it
//!   (kubectl stops at the first PATCH with a matching GVK, in map order).
//! - `kubectl explain` finds the GVK on the resource's list/get operation, then the schema in
//!   `components.schemas` whose `x-kubernetes-group-version-kind` contains it, and follows
//!   `#/components/schemas/<name>` references.
//! - `kubectl apply` (client-side) needs `application/strategic-merge-patch+json` in the PATCH
//!   request body types and reads `x-kubernetes-patch-strategy`/`-merge-key` on list fields.
//! - `/openapi/v2` is what older code paths and fallbacks read; kubectl asks for it as protobuf
//!   (see [`OpenApi::v2_protobuf`]).

mod gvk;
mod hash;
mod kinds;
mod list_facts;
mod operations;
mod params;
mod proto;
mod refs;
mod schemas;
mod v2;
mod v3;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use bytes::Bytes;
use rkube_api::resources::ResourceInfo;
use serde_json::Value;

/// The Kubernetes version the documents describe (`info.version`).
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// The media type kubectl and client-go ask `/openapi/v2` for
/// (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). Not a valid
/// `Content-Type` (the `@`): answer with [`V2_PROTOBUF_RESPONSE_CONTENT_TYPE`].
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The `Content-Type` of a protobuf `/openapi/v2` response. client-go parses the response's
/// media type and fails the request on [`V2_PROTOBUF_CONTENT_TYPE`]'s `@`; upstream answers
/// with this form.
pub const V2_PROTOBUF_RESPONSE_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Whether an `Accept` header asks `/openapi/v2` for protobuf (either spelling of the type),
/// in which case serve [`OpenApi::v2_protobuf`]; JSON otherwise.
pub fn accepts_v2_protobuf(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case(V2_PROTOBUF_CONTENT_TYPE)
            || media.eq_ignore_ascii_case(V2_PROTOBUF_RESPONSE_CONTENT_TYPE)
    })
}

/// Patch types every PATCH operation accepts.
const PATCH_CONTENT_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// The patch types `op` accepts: [`PATCH_CONTENT_TYPES`], but no strategic merge patch for a
/// kind of a group no built-in resource is in (custom resources have no patch strategies;
/// kubectl's client-side apply reads this to choose a JSON merge patch, as against upstream).
fn patch_content_types(op: &operations::Operation) -> Vec<&'static str> {
    let custom = op.gvk.as_ref().is_some_and(|g| {
        !rkube_api::resources::BUILTIN
            .iter()
            .any(|r| r.group == g.group)
    });
    PATCH_CONTENT_TYPES
        .iter()
        .copied()
        .filter(|t| !custom || *t != "application/strategic-merge-patch+json")
        .collect()
}

/// The description of a response status.
fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "",
    }
}

/// One OpenAPI v3 group-version document.
struct V3Document {
    hash: String,
    bytes: Bytes,
}

/// The OpenAPI documents of the served resources, built once and kept as JSON bytes.
pub struct OpenApi {
    v2: Bytes,
    v2_protobuf: Bytes,
    v3_root: Bytes,
    v3: BTreeMap<String, V3Document>,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field("v2_bytes", &self.v2.len())
            .field("v2_protobuf_bytes", &self.v2_protobuf.len())
            .field("v3", &self.v3.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OpenApi {
    /// Builds every document for `resources` (the list the server serves, so the documents
    /// match it). Call once at start: building takes a noticeable fraction of a second.
    pub fn new(resources: &[&'static ResourceInfo]) -> OpenApi {
        let catalog = schemas::Catalog::build(resources);
        let gvs = operations::build(resources, &catalog);

        let mut v3 = BTreeMap::new();
        for gv in &gvs {
            let bytes = to_bytes(&v3::document(gv, &catalog));
            let hash = hash::content_hash(&bytes);
            v3.insert(gv.prefix(), V3Document { hash, bytes });
        }

        let v2_doc = v2::document(&gvs, catalog.definitions);
        let v2_protobuf = Bytes::from(proto::document(&v2_doc));
        let v2 = to_bytes(&v2_doc);
        let v3_root = to_bytes(&v3::root(
            v3.iter()
                .map(|(prefix, d)| (prefix.as_str(), d.hash.as_str())),
        ));
        OpenApi {
            v2,
            v2_protobuf,
            v3_root,
            v3,
        }
    }

    /// `/openapi/v2` as JSON (`application/json`).
    pub fn v2(&self) -> &Bytes {
        &self.v2
    }

    /// `/openapi/v2` as the gnostic `openapi.v2.Document` protobuf message: what kubectl and
    /// client-go request ([`V2_PROTOBUF_CONTENT_TYPE`]) and decode as protobuf, failing on JSON.
    /// Serve it when [`accepts_v2_protobuf`] says so, with `Content-Type:`
    /// [`V2_PROTOBUF_RESPONSE_CONTENT_TYPE`].
    pub fn v2_protobuf(&self) -> &Bytes {
        &self.v2_protobuf
    }

    /// `/openapi/v3` (`application/json`): `{"paths": {"api/v1": {"serverRelativeURL":
    /// "/openapi/v3/api/v1?hash=<HASH>"}, …}}`.
    pub fn v3_root(&self) -> &Bytes {
        &self.v3_root
    }

    /// `/openapi/v3/<prefix>` (`application/json`), `prefix` like `api/v1` or `apis/apps/v1`
    /// (surrounding slashes ignored); `None` for an unknown group version (answer 404). The
    /// `hash` query parameter does not select anything: the current document is always served.
    pub fn v3_group_version(&self, prefix: &str) -> Option<&Bytes> {
        self.v3.get(prefix.trim_matches('/')).map(|d| &d.bytes)
    }

    /// The content hash of a v3 group-version document (the `hash` in its root URL), for an
    /// `ETag`; when a request's `hash` matches it the response may be cached as immutable.
    pub fn v3_hash(&self, prefix: &str) -> Option<&str> {
        self.v3
            .get(prefix.trim_matches('/'))
            .map(|d| d.hash.as_str())
    }

    /// The prefixes of the v3 group-version documents, sorted.
    pub fn v3_prefixes(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }
}

/// Serializes a document. Serializing a `serde_json::Value` cannot fail (its map keys are
/// strings); the fallback only keeps this total.
fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()))
}
