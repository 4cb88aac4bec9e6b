//! The kubelet API's routes (upstream's paths) behind authentication and authorization.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;

use super::authn::{self, Peer};
use super::{ServerState, exec, logs, portforward, text};

/// Every route.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(logs::container_logs),
        )
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec::exec).post(exec::exec),
        )
        .route(
            "/exec/{namespace}/{pod}/{uid}/{container}",
            get(exec::exec_uid).post(exec::exec_uid),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(exec::attach).post(exec::attach),
        )
        .route(
            "/attach/{namespace}/{pod}/{uid}/{container}",
            get(exec::attach_uid).post(exec::attach_uid),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(portforward::port_forward).post(portforward::port_forward),
        )
        .route(
            "/portForward/{namespace}/{pod}/{uid}",
            get(portforward::port_forward_uid).post(portforward::port_forward_uid),
        )
        .route("/stats/summary", get(stats_summary))
        .route("/metrics/resource", get(metrics_resource))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(state)
        .layer(middleware::from_fn(guard))
}

async fn stats_summary(
    axum::extract::State(state): axum::extract::State<Arc<ServerState>>,
) -> Response {
    use axum::response::IntoResponse;
    match state.stats.collect(&state.cri).await {
        Ok(summary) => axum::Json(summary).into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal Error: {}", e.message()),
        ),
    }
}

async fn metrics_resource(
    axum::extract::State(state): axum::extract::State<Arc<ServerState>>,
) -> Response {
    use axum::response::IntoResponse;
    match state.stats.collect(&state.cri).await {
        Ok(summary) => (
            [(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            crate::stats::metrics::render(&summary),
        )
            .into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal Error: {}", e.message()),
        ),
    }
}

/// 401 without a certificate of the cluster CA, 403 for anyone but the apiserver.
async fn guard(req: Request, next: Next) -> Response {
    let Some(Peer(Some(who))) = req.extensions().get::<Peer>() else {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let attrs = authn::attributes(req.method(), req.uri().path());
    if let Err(message) = authn::authorize(who, &attrs) {
        tracing::debug!(user = %who.user, path = %req.uri().path(), "kubelet API request forbidden");
        return text(StatusCode::FORBIDDEN, message);
    }
    next.run(req).await
}
