//! The scheduler's own HTTP endpoint: `/metrics` (Prometheus text) and `/healthz`. Plain HTTP,
//! meant for a loopback address (upstream serves these on its secure port 10259).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Scheduler;

/// Serves `/metrics` and `/healthz` for `scheduler` on `listener` until dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    scheduler: Arc<Scheduler>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = scheduler.metrics.encode();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app).await
}

/// Binds `addr` (port 0 picks one); the listener and the address it got.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}
