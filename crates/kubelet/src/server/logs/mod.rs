//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's log as upstream's kubelet
//! serves it (the apiserver's `pods/log` proxies here). Errors before the first byte are
//! plain-text bodies with upstream's status codes and texts; the apiserver turns a 400 into
//! a `BadRequest` Status.

pub mod format;
pub mod options;
pub mod reader;
pub mod tail;

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::StatusCode;
use k8s_cri::v1 as cri;
use tokio::io::AsyncSeekExt;
use tokio_stream::StreamExt as _;

use super::{ServerState, pod_lookup, text};
use options::OptionsError;

/// The handler.
pub async fn container_logs(
    State(state): State<Arc<ServerState>>,
    Path((namespace, pod_name, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let opts = match options::parse(query.as_deref(), jiff::Timestamp::now()) {
        Ok(o) => o,
        Err(e @ OptionsError::Decode) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ OptionsError::Invalid) => {
            return text(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        }
    };
    let pod = match pod_lookup::pod(&state, &namespace, &pod_name).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return text(
                StatusCode::NOT_FOUND,
                format!("pod {pod_name:?} does not exist"),
            );
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if !pod_lookup::has_container(&pod, &container) {
        return text(
            StatusCode::NOT_FOUND,
            format!("container {container:?} not found in pod {pod_name:?}"),
        );
    }
    let id = match pod_lookup::log_container_id(&pod, &container, opts.previous) {
        Ok(id) => id,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let log_path = state
        .cri
        .runtime
        .clone()
        .container_status(cri::ContainerStatusRequest {
            container_id: id.clone(),
            verbose: false,
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().status)
        .map(|s| s.log_path)
        .filter(|p| !p.is_empty());
    let Some(log_path) = log_path else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("unable to retrieve container logs for containerd://{id}"),
        );
    };
    let file = match open_at_tail(&log_path, opts.tail_lines).await {
        Ok(f) => f,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("failed to open log file {log_path:?}: {e}"),
            );
        }
    };
    let follow = opts.follow.then(|| reader::Followed {
        cri: state.cri.clone(),
        container_id: id,
        path: log_path.into(),
    });
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(reader::stream(file, opts, follow, tx));
    let body = Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>),
    );
    Response::builder()
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
        .unwrap_or_default()
}

/// The log file, positioned at the first of its last `tail` lines.
async fn open_at_tail(path: &str, tail: Option<u64>) -> std::io::Result<tokio::fs::File> {
    let mut file = tokio::fs::File::open(path).await?;
    let start = match tail {
        Some(n) => tail::start_of_last_lines(&mut file, n).await?,
        None => 0,
    };
    file.seek(SeekFrom::Start(start)).await?;
    Ok(file)
}
