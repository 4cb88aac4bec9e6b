//! `/exec/{namespace}/{pod}/{container}` and `/attach/…` (also with the pod UID before the
//! container, as upstream routes them): find the running container, ask CRI for a streaming
//! URL, open a SPDY session to the runtime's stream server, and bridge it to the client's
//! WebSocket ([`websocket`]). Errors before the upgrade are plain-text bodies; the apiserver
//! passes them through, so kubectl prints `unable to upgrade connection: <text>`.
//!
//! Clients speak WebSocket (`v5.channel.k8s.io` or `v4.channel.k8s.io`, bridged), or upgrade to
//! SPDY/3.1 themselves (kubectl's fallback, `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`): then the
//! connection is spliced to the stream server's, which negotiates the protocol with the client
//! ([`super::stream_upgrade`]).

pub mod options;
pub mod websocket;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use http::StatusCode;
use k8s_cri::v1 as cri;

use super::spdy::{self, Streams};
use super::stream_upgrade::{self, ClientUpgrade};
use super::{ServerState, pod_lookup, text};
use crate::pods::runtime_state::{self, State as ContainerState};
use options::StreamOptions;

/// Which remote command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Run a new process in the container.
    Exec,
    /// Connect to the container's main process.
    Attach,
}

/// `/exec/{ns}/{pod}/{container}`.
pub async fn exec(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    serve(
        state,
        Kind::Exec,
        Target::new(ns, pod, None, container),
        query,
        stream_upgrade::classify(req).await,
    )
    .await
}

/// `/exec/{ns}/{pod}/{uid}/{container}`.
pub async fn exec_uid(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod, uid, container)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    serve(
        state,
        Kind::Exec,
        Target::new(ns, pod, Some(uid), container),
        query,
        stream_upgrade::classify(req).await,
    )
    .await
}

/// `/attach/{ns}/{pod}/{container}`.
pub async fn attach(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    serve(
        state,
        Kind::Attach,
        Target::new(ns, pod, None, container),
        query,
        stream_upgrade::classify(req).await,
    )
    .await
}

/// `/attach/{ns}/{pod}/{uid}/{container}`.
pub async fn attach_uid(
    State(state): State<Arc<ServerState>>,
    Path((ns, pod, uid, container)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    serve(
        state,
        Kind::Attach,
        Target::new(ns, pod, Some(uid), container),
        query,
        stream_upgrade::classify(req).await,
    )
    .await
}

/// The container a request names.
struct Target {
    namespace: String,
    pod: String,
    uid: Option<String>,
    container: String,
}

impl Target {
    fn new(namespace: String, pod: String, uid: Option<String>, container: String) -> Self {
        Target {
            namespace,
            pod,
            uid,
            container,
        }
    }
}

async fn serve(
    state: Arc<ServerState>,
    kind: Kind,
    target: Target,
    query: Option<String>,
    client: ClientUpgrade,
) -> Response {
    let mut opts = match options::parse(query.as_deref()) {
        Ok(o) => o,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let pod = match pod_lookup::pod(&state, &target.namespace, &target.pod).await {
        Ok(Some(p)) => p,
        Ok(None) => return text(StatusCode::NOT_FOUND, "pod does not exist"),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if target.uid.as_ref().is_some_and(|u| *u != uid) {
        return text(StatusCode::NOT_FOUND, "pod does not exist");
    }
    if kind == Kind::Attach {
        // A process's terminal cannot change after it started: the container's own setting.
        opts = opts.with_tty(pod_lookup::container_tty(&pod, &target.container));
    }
    let container_id = match running_container(&state, &uid, &target.container).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("container not found ({:?})", target.container),
            );
        }
        Err(status) => return grpc_error(&status),
    };
    let ws = match client {
        ClientUpgrade::WebSocket(ws) => ws.protocols(websocket::PROTOCOLS),
        ClientUpgrade::Spdy {
            on_upgrade,
            protocols,
        } => return splice_spdy(&state, kind, &container_id, &opts, on_upgrade, &protocols).await,
        ClientUpgrade::None => {
            return text(
                StatusCode::BAD_REQUEST,
                "Upgrade request required: exec and attach are served over WebSocket \
                 (v5.channel.k8s.io, v4.channel.k8s.io) or SPDY/3.1",
            );
        }
    };
    let v5 = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(websocket::V5) => true,
        Some(_) => false,
        None => {
            let offered: Vec<&str> = ws
                .requested_protocols()
                .filter_map(|p| p.to_str().ok())
                .collect();
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "requested protocol(s) are not supported: {offered:?}; supports {:?}",
                    websocket::PROTOCOLS
                ),
            );
        }
    };
    let url = match streaming_url(&state, kind, &container_id, &opts).await {
        Ok(url) => url,
        Err(status) => return grpc_error(&status),
    };
    let streams = Streams {
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        resize: opts.tty,
    };
    let session = match spdy::open(&url, streams).await {
        Ok(s) => s,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    ws.on_upgrade(move |socket| websocket::bridge(socket, v5, opts, session))
}

/// A client's SPDY upgrade spliced to the stream server, which negotiates the protocol.
async fn splice_spdy(
    state: &ServerState,
    kind: Kind,
    container_id: &str,
    opts: &StreamOptions,
    on_upgrade: hyper::upgrade::OnUpgrade,
    protocols: &[String],
) -> Response {
    let url = match streaming_url(state, kind, container_id, opts).await {
        Ok(url) => url,
        Err(status) => return grpc_error(&status),
    };
    let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
    let upgraded = match spdy::upgrade::parse_url(&url) {
        Ok(target) => spdy::upgrade::upgrade_with(&target, &protocols).await,
        Err(e) => Err(e),
    };
    match upgraded {
        Ok(backend) => stream_upgrade::splice(on_upgrade, backend),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The newest running instance of container `name` of pod `uid`.
async fn running_container(
    state: &ServerState,
    uid: &str,
    name: &str,
) -> Result<Option<String>, tonic::Status> {
    let runtime = runtime_state::read(&state.cri, uid).await?;
    Ok(runtime
        .containers
        .into_iter()
        .find(|c| c.name == name && c.state == ContainerState::Running)
        .map(|c| c.id))
}

async fn streaming_url(
    state: &ServerState,
    kind: Kind,
    container_id: &str,
    opts: &StreamOptions,
) -> Result<String, tonic::Status> {
    let mut rt = state.cri.runtime.clone();
    let url = match kind {
        Kind::Exec => {
            rt.exec(cri::ExecRequest {
                container_id: container_id.to_string(),
                cmd: opts.command.clone(),
                tty: opts.tty,
                stdin: opts.stdin,
                stdout: opts.stdout,
                stderr: opts.stderr,
            })
            .await?
            .into_inner()
            .url
        }
        Kind::Attach => {
            rt.attach(cri::AttachRequest {
                container_id: container_id.to_string(),
                stdin: opts.stdin,
                tty: opts.tty,
                stdout: opts.stdout,
                stderr: opts.stderr,
            })
            .await?
            .into_inner()
            .url
        }
    };
    Ok(url)
}

/// A runtime error as upstream's streaming code answers it.
fn grpc_error(status: &tonic::Status) -> Response {
    let code = match status.code() {
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(code, status.message().to_string())
}
