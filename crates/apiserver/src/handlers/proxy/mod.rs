//! The subresources served by a pod's kubelet — `pods/log`, `pods/exec`, `pods/attach`,
//! `pods/portforward` — and
//! `nodes/{name}/proxy/{path}`: find the kubelet (the pod's `spec.nodeName`, the Node's
//! address and `daemonEndpoints` port), connect with the apiserver's kubelet-client
//! certificate, and relay. Errors are upstream's Status bodies: a missing pod 404, an
//! unscheduled one 400 (`pods/log` of an unscheduled pod is empty, as upstream), an unknown
//! container 400 (`container X is not valid for pod Y`), an unreachable kubelet 500 (503 for
//! the node proxy); what the kubelet answers is passed on (`pods/log` errors become Status
//! errors as upstream's response checker makes them).

pub mod client;
pub mod forward;
pub mod location;
pub mod params;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{StatusCode, header};
use http_body_util::BodyExt;
use rkube_api::resources::{self, ResourceInfo};
use rkube_api::status::ApiError;

pub use client::KubeletClient;

use super::App;
use super::respond;
use crate::request::{RequestInfo, Verb};
use location::unknown;
use params::Pairs;

/// How much of a kubelet's error body becomes the Status message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Whether `sub` of `info` is served by the pod's kubelet.
pub fn is_kubelet_subresource(info: &ResourceInfo, sub: Option<&str>) -> bool {
    info.group.is_empty()
        && info.kind == "Pod"
        && matches!(sub, Some("log" | "exec" | "attach" | "portforward"))
}

fn kubelet_client(req: &Request) -> Result<KubeletClient, ApiError> {
    req.extensions()
        .get::<KubeletClient>()
        .cloned()
        .ok_or_else(|| ApiError::unavailable("this apiserver has no kubelet client configured"))
}

/// `GET pods/{name}/log`, `GET|POST pods/{name}/exec`, `…/attach` and `…/portforward`.
pub async fn pod_subresource(
    app: &App,
    ri: &RequestInfo,
    req: Request,
) -> Result<Response, ApiError> {
    let sub = ri.subresource.as_deref().unwrap_or_default();
    match (sub, ri.verb) {
        ("log", Verb::Get) | ("exec" | "attach" | "portforward", Verb::Get | Verb::Create) => {}
        _ => return Err(ApiError::method_not_allowed("")),
    }
    let client = kubelet_client(&req)?;
    let pods = resources::find("", "v1", "pods").ok_or_else(ApiError::no_route)?;
    let ns = ri.namespace.as_deref().unwrap_or_default();
    let name = ri.name.as_deref().unwrap_or_default();
    let pod = app.registry.get(pods, Some(ns), name).await?;
    let query = Pairs::parse(req.uri().query());
    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    if sub == "portforward" {
        return port_forward(app, &client, ns, name, node, &query, req).await;
    }
    let container = location::container(&pod, query.get("container"))?;
    if sub == "log" {
        let kubelet_query = params::log_query(&query, name)?;
        if node.is_empty() {
            return Ok(text_stream(Body::empty()));
        }
        let addr = location::node(app, node, None).await?;
        let path = format!("/containerLogs/{ns}/{name}/{container}?{kubelet_query}");
        let url = format!("https://{}:{}{path}", addr.host, addr.port);
        let logs = http::Request::get(path.as_str())
            .body(Body::empty())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let resp = forward::forward(&client, &addr, logs, &path, |e| {
            unknown(format!("Get \"{url}\": {e}"))
        })
        .await?;
        return log_response(resp, name).await;
    }
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if !forward::is_upgrade(req.headers()) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let addr = location::node(app, node, None).await?;
    let kubelet_query = params::stream_query(&query, sub == "exec")?;
    let path = format!("/{sub}/{ns}/{name}/{container}?{kubelet_query}");
    forward::forward(&client, &addr, req, &path, |e| {
        unknown(format!("error dialing backend: {e}"))
    })
    .await
}

/// `pods/{name}/portforward`: the upgrade relayed to the kubelet's `/portForward/{ns}/{name}`
/// (the ports travel inside the stream; a `ports` query is passed on as upstream does).
async fn port_forward(
    app: &App,
    client: &KubeletClient,
    ns: &str,
    name: &str,
    node: &str,
    query: &Pairs,
    req: Request,
) -> Result<Response, ApiError> {
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if !forward::is_upgrade(req.headers()) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let addr = location::node(app, node, None).await?;
    let ports = params::port_forward_query(query)?;
    let path = if ports.is_empty() {
        format!("/portForward/{ns}/{name}")
    } else {
        format!("/portForward/{ns}/{name}?{ports}")
    };
    forward::forward(client, &addr, req, &path, |e| {
        unknown(format!("error dialing backend: {e}"))
    })
    .await
}

/// A `pods/log` answer: streamed when the kubelet serves it, else the kubelet's complaint as
/// upstream's response checker turns it into a Status.
async fn log_response(resp: Response, pod: &str) -> Result<Response, ApiError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(text_stream(resp.into_body()));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    Err(match status {
        StatusCode::BAD_REQUEST => ApiError::bad_request(text),
        StatusCode::INTERNAL_SERVER_ERROR => ApiError::internal(text),
        StatusCode::NOT_FOUND => ApiError {
            code: 404,
            reason: "NotFound",
            message: text,
            details: None,
        },
        other => ApiError {
            code: other.as_u16(),
            reason: "",
            message: format!("{text} (get pods/log {pod})"),
            details: None,
        },
    })
}

fn text_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// `/api/v1/nodes/{name}/proxy[/{path}]`: any method, to the node's kubelet.
pub async fn node_proxy(State(app): State<Arc<App>>, req: Request) -> Response {
    match node_proxy_inner(&app, req).await {
        Ok(r) => r,
        Err(e) => respond::error(&e),
    }
}

async fn node_proxy_inner(app: &App, req: Request) -> Result<Response, ApiError> {
    let client = kubelet_client(&req)?;
    let path = req.uri().path().to_string();
    let rest = path
        .strip_prefix("/api/v1/nodes/")
        .ok_or_else(ApiError::no_route)?;
    let (raw_name, tail) = rest.split_once("/proxy").ok_or_else(ApiError::no_route)?;
    if !(tail.is_empty() || tail.starts_with('/')) {
        return Err(ApiError::no_route());
    }
    // `name`, `name:port` or `scheme:name:port`, as upstream accepts them.
    let segments: Vec<&str> = raw_name.split(':').collect();
    let (name, port) = match segments.as_slice() {
        [name] => (*name, None),
        [name, port] | [_, name, port] => (
            *name,
            Some(port.parse::<u16>().map_err(|_| {
                ApiError::bad_request(format!("invalid node request {raw_name:?}"))
            })?),
        ),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid node request {raw_name:?}"
            )));
        }
    };
    let addr = location::node(app, name, port).await?;
    let mut target = if tail.is_empty() {
        "/".to_string()
    } else {
        tail.to_string()
    };
    if let Some(q) = req.uri().query() {
        target = format!("{target}?{q}");
    }
    let upgrade = forward::is_upgrade(req.headers());
    forward::forward(&client, &addr, req, &target, |e| {
        if upgrade {
            unknown(format!("error dialing backend: {e}"))
        } else {
            ApiError::unavailable(format!("error trying to reach service: {e}"))
        }
    })
    .await
}
