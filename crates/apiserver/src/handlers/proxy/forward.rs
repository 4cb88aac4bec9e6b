//! Relaying one request to a kubelet and its answer back: the response streamed as it comes
//! (`kubectl logs -f` sees each line when the kubelet writes it), or, for an HTTP/1.1 upgrade
//! the kubelet accepts (exec, attach), the two upgraded connections spliced together both ways.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderName, StatusCode, header};
use hyper_util::rt::TokioIo;
use rkube_api::status::ApiError;

use super::client::{DialError, KubeletClient};
use super::location::KubeletAddr;

/// Request headers never sent to the kubelet (credentials for the apiserver, per-hop fields).
const DROPPED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
];

/// Whether a request asks to switch protocols.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

fn forwarded_headers(from: &HeaderMap, upgrade: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in from {
        let n = name.as_str();
        let hop = matches!(n, "connection" | "upgrade" | "transfer-encoding");
        if DROPPED.contains(&n) || n.starts_with("impersonate-") || (hop && !upgrade) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Sends `req` to the kubelet at `addr` as `path_and_query`. A failure to reach it becomes
/// `dial_error`'s Status.
pub async fn forward(
    client: &KubeletClient,
    addr: &KubeletAddr,
    mut req: Request,
    path_and_query: &str,
    dial_error: impl FnOnce(DialError) -> ApiError,
) -> Result<Response, ApiError> {
    let upgrade = is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut backend = http::Request::builder()
        .method(parts.method)
        .uri(path_and_query)
        .body(if upgrade { Body::empty() } else { body })
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    *backend.headers_mut() = forwarded_headers(&parts.headers, upgrade);
    let mut resp = client
        .send(&addr.host, addr.port, backend)
        .await
        .map_err(dial_error)?;
    if let Some(client_upgrade) = client_upgrade
        && resp.status() == StatusCode::SWITCHING_PROTOCOLS
    {
        let backend_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (Ok(front), Ok(back)) = tokio::join!(client_upgrade, backend_upgrade) else {
                tracing::debug!("an upgraded kubelet connection could not be spliced");
                return;
            };
            let (mut front, mut back) = (TokioIo::new(front), TokioIo::new(back));
            if let Err(e) = tokio::io::copy_bidirectional(&mut front, &mut back).await {
                tracing::debug!(error = %e, "upgraded kubelet connection ended");
            }
        });
        let mut out = Response::new(Body::empty());
        *out.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        *out.headers_mut() = resp.headers().clone();
        return Ok(out);
    }
    Ok(passthrough(resp))
}

/// The kubelet's response as ours, body streamed.
pub fn passthrough(resp: http::Response<hyper::body::Incoming>) -> Response {
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-connection"
            | "te"
            | "trailer"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_detection_and_header_filtering() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        h.insert(
            "sec-websocket-protocol",
            "v5.channel.k8s.io".parse().unwrap(),
        );
        h.insert("impersonate-user", "someone".parse().unwrap());
        assert!(is_upgrade(&h));
        let up = forwarded_headers(&h, true);
        assert!(up.contains_key(header::UPGRADE) && up.contains_key("sec-websocket-protocol"));
        assert!(!up.contains_key(header::AUTHORIZATION) && !up.contains_key("impersonate-user"));
        let plain = forwarded_headers(&h, false);
        assert!(!plain.contains_key(header::UPGRADE) && !plain.contains_key(header::CONNECTION));
        h.remove(header::UPGRADE);
        assert!(!is_upgrade(&h));
    }
}
