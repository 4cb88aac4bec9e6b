//! Whole requests, as text: the request line's path and query (RequestInfo, the resource
//! table, scope checks, and every list/watch/delete/write option: labelSelector,
//! fieldSelector, limit, continue, resourceVersion(Match), timeoutSeconds,
//! gracePeriodSeconds, propagationPolicy, fieldValidation, includeObject, dryRun…), the
//! headers (Accept, Content-Type) and a body, through the real router. No request may panic
//! the server or get a 500; errors are `Status` objects.
//!
//! Input format (what a seed file looks like):
//!
//! ```text
//! GET /api/v1/namespaces/default/pods?limit=1&labelSelector=app%3Dweb
//! Accept: application/json;as=Table;v=v1;g=meta.k8s.io
//!
//! optional body
//! ```
#![no_main]

use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use rkube_apiserver_fuzz::{check, harness};

fuzz_target!(|input: &[u8]| {
    let (head, body) = match input.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&input[..i], &input[i + 2..]),
        None => (input, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("");
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or(("GET", request_line));
    // What hyper would refuse before routing never reaches the server.
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    if uri.scheme().is_some() || !uri.path().starts_with('/') {
        return;
    }
    let mut req = Request::builder().method(method).uri(uri);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            return;
        };
        req = req.header(name, value);
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let what = format!("{request_line:?}");
    let h = harness();
    h.reset();
    let reply = h.send(req);
    check(&what, &reply);
});
