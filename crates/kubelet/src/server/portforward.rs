//! `/portForward/{namespace}/{pod}` (and with the pod UID after the name, as upstream routes
//! it): ask CRI for a port-forward URL of the pod's ready sandbox, upgrade to SPDY/3.1 at the
//! runtime's stream server (`portforward.k8s.io`), and relay without parsing — kubectl's
//! SPDY session then opens its data and error streams per forwarded connection directly with
//! the runtime.
//!
//! Clients either tunnel SPDY in WebSocket binary messages (subprotocol
//! `SPDY/3.1+portforward.k8s.io`, kubectl 1.31+) or upgrade to SPDY/3.1 themselves (older
//! kubectl, or `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`); see [`super::stream_upgrade`].
//! Upstream's channel-per-port WebSocket protocol (`portforward.k8s.io` with `?ports=`) is not
//! served.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::StatusCode;
use k8s_cri::v1 as cri;

use super::spdy::upgrade::{self, Upgraded};
use super::stream_upgrade::{self, ClientUpgrade};
use super::{ServerState, pod_lookup, text};
use crate::pods::runtime_state;

/// The port-forward protocol spoken inside SPDY.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol carrying it tunneled.
pub const TUNNELED: &str = "SPDY/3.1+portforward.k8s.io";

/// `/portForward/{ns}/{pod}`.
pub async fn port_forward(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod)): Path<(String, String)>,
    req: Request,
) -> Response {
    serve(state, ns, pod, None, req).await
}

/// `/portForward/{ns}/{pod}/{uid}`.
pub async fn port_forward_uid(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod, uid)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    serve(state, ns, pod, Some(uid), req).await
}

async fn serve(
    state: Arc<ServerState>,
    ns: String,
    name: String,
    want_uid: Option<String>,
    req: Request,
) -> Response {
    let pod = match pod_lookup::pod(&state, &ns, &name).await {
        Ok(Some(p)) => p,
        Ok(None) => return text(StatusCode::NOT_FOUND, "pod does not exist"),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if want_uid.is_some_and(|u| u != uid) {
        return text(StatusCode::NOT_FOUND, "pod does not exist");
    }
    match stream_upgrade::classify(req).await {
        ClientUpgrade::Spdy {
            on_upgrade,
            protocols,
        } => {
            let offered = if protocols.is_empty() {
                vec![PROTOCOL.to_string()]
            } else {
                protocols
            };
            match runtime_upgrade(&state, &uid, &offered).await {
                Ok(backend) => stream_upgrade::splice(on_upgrade, backend),
                Err(resp) => resp,
            }
        }
        ClientUpgrade::WebSocket(ws) => {
            let ws = ws.protocols([TUNNELED]);
            if ws.selected_protocol().is_none() {
                let requested: Vec<&str> = ws
                    .requested_protocols()
                    .filter_map(|p| p.to_str().ok())
                    .collect();
                return text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "requested protocol(s) are not supported: {requested:?}; supports \
                         [{TUNNELED:?}]"
                    ),
                );
            }
            let backend = match runtime_upgrade(&state, &uid, &[PROTOCOL.to_string()]).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if backend.protocol.as_deref().is_some_and(|p| p != PROTOCOL) {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "the stream server chose protocol {:?}, not {PROTOCOL}",
                        backend.protocol
                    ),
                );
            }
            ws.on_upgrade(move |socket| stream_upgrade::tunnel(socket, backend))
        }
        ClientUpgrade::None => text(
            StatusCode::BAD_REQUEST,
            format!(
                "Upgrade request required: port-forward is served over SPDY/3.1 or WebSocket \
                 ({TUNNELED})"
            ),
        ),
    }
}

/// A SPDY connection to the runtime's port-forward endpoint of pod `uid`'s ready sandbox.
async fn runtime_upgrade(
    state: &ServerState,
    uid: &str,
    protocols: &[String],
) -> Result<Upgraded, Response> {
    let runtime = runtime_state::read(&state.cri, uid)
        .await
        .map_err(|s| text(StatusCode::INTERNAL_SERVER_ERROR, s.message().to_string()))?;
    let Some(sandbox) = runtime.sandboxes.iter().find(|s| s.ready) else {
        return Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "pod sandbox is not ready",
        ));
    };
    let url = state
        .cri
        .runtime
        .clone()
        .port_forward(cri::PortForwardRequest {
            pod_sandbox_id: sandbox.id.clone(),
            port: Vec::new(),
        })
        .await
        .map_err(|s| text(StatusCode::INTERNAL_SERVER_ERROR, s.message().to_string()))?
        .into_inner()
        .url;
    let target = upgrade::parse_url(&url)
        .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
    upgrade::upgrade_with(&target, &protocols)
        .await
        .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
