//! Request bodies: whatever a client POSTs or PUTs as JSON, YAML (one document or several) or
//! Kubernetes protobuf, decoding (`handlers::body::decode_object`) and everything after it
//! (typed normalization, defaults, validation, the registry's create/update and the response)
//! answers with a `Status`, never a panic or a 500.
//!
//! Input: one selector byte, then the body. The selector's low two bits pick the
//! Content-Type, the next three the kind, the top three what is done with the body.
#![no_main]

use axum::body::Body;
use http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use rkube_apiserver_fuzz::{check, harness};

const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    // No Content-Type at all: decoded as JSON.
    "",
];

/// Collection paths in namespace `default` (namespaces are cluster-scoped).
const COLLECTIONS: [&str; 8] = [
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/services",
    "/apis/apps/v1/namespaces/default/deployments",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/replicationcontrollers",
    "/api/v1/namespaces",
    "/api/v1/namespaces/default/secrets",
    "/apis/batch/v1/namespaces/default/jobs",
];

fn request(method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if !content_type.is_empty() {
        req = req.header("content-type", content_type);
    }
    req.body(Body::from(body))
        .unwrap_or_else(|e| panic!("{path:?} is not a request path: {e}"))
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector & 0b11)];
    let collection = COLLECTIONS[usize::from((selector >> 2) & 0b111)];
    let h = harness();
    h.reset();
    let (method, path, content_type) = match selector >> 5 {
        // Create, with each fieldValidation.
        0 => (Method::POST, collection.to_string(), content_type),
        1 => (
            Method::POST,
            format!("{collection}?fieldValidation=Strict"),
            content_type,
        ),
        2 => (
            Method::POST,
            format!("{collection}?fieldValidation=Ignore"),
            content_type,
        ),
        // Replace the existing object, or its status.
        3 => (Method::PUT, format!("{collection}/web"), content_type),
        4 => (
            Method::PUT,
            format!("{collection}/web/status"),
            content_type,
        ),
        // A pod's binding and eviction subresources (a Binding, an Eviction body).
        5 => (
            Method::POST,
            "/api/v1/namespaces/default/pods/web-1/eviction".to_string(),
            content_type,
        ),
        6 => (
            Method::POST,
            "/api/v1/namespaces/default/pods/web/binding".to_string(),
            content_type,
        ),
        // A JSON merge patch of the existing object.
        _ => (
            Method::PATCH,
            format!("{collection}/web"),
            "application/merge-patch+json",
        ),
    };
    let reply = h.send(request(method.clone(), &path, content_type, body.to_vec()));
    check(&format!("{method} {path} ({content_type})"), &reply);
    // An object the server just created is accepted back unchanged, through the same decoder.
    if reply.status == StatusCode::CREATED && selector >> 5 <= 2 {
        let object = reply.json();
        let Some(name) = object["metadata"]["name"].as_str() else {
            panic!("created object without a name: {object}");
        };
        // (Names are validated: one that cannot be put in a URL path is a validation bug.)
        let path = format!("{collection}/{name}");
        let again = h.send(request(
            Method::PUT,
            &path,
            "application/json",
            object.to_string().into_bytes(),
        ));
        check(&format!("PUT {path} (read back)"), &again);
    }
});
