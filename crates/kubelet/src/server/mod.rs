//! The kubelet HTTPS API (upstream's port 10250), as the apiserver uses it: `/healthz`,
//! `/containerLogs/{ns}/{pod}/{container}`, and `/exec/…` and `/attach/…` bridged to the
//! runtime's stream server.
//!
//! - TLS with a self-signed serving certificate made at start ([`tls`]); the apiserver does
//!   not verify it (upstream's default without `--kubelet-certificate-authority`).
//! - Clients authenticate with a certificate of the cluster CA ([`authn`]); only the
//!   apiserver's kubelet-client identity is authorized.
//! - Exec and attach speak WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`) to the
//!   client and SPDY to the runtime ([`spdy`]); a client's own SPDY upgrade is spliced to the
//!   runtime ([`stream_upgrade`]), as is `/portForward/…` ([`portforward`], plain SPDY or SPDY
//!   tunneled in WebSocket). Not served yet: `/pods`, `/run`, `/logs`.

pub mod authn;
pub mod exec;
pub mod logs;
pub mod pod_lookup;
pub mod portforward;
pub mod routes;
pub mod serve;
pub mod spdy;
pub mod stream_upgrade;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::config::KubeletConfig;
use crate::cri::Cri;

/// Why the kubelet API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port could not be bound.
    #[error("kubelet API: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// The TLS configuration could not be made.
    #[error("kubelet API: {0}")]
    Tls(#[from] tls::TlsError),
    /// The client CA did not load.
    #[error("kubelet API: {0}")]
    Ca(#[from] authn::CaError),
}

/// What the handlers share.
pub struct ServerState {
    /// This node's name (requests name only its pods).
    pub node_name: String,
    /// The apiserver (pods are read from it).
    pub client: kube::Client,
    /// The runtime.
    pub cri: Cri,
    /// Resource usage (`/stats/summary`, `/metrics/resource`).
    pub stats: crate::stats::Collector,
}

/// A started kubelet API: the bound address and the serving future (run it in a task;
/// dropping it stops serving and closes open connections).
pub struct KubeletServer {
    /// Where it listens (the port actually bound).
    pub addr: SocketAddr,
    /// The accept loop.
    pub serving: futures::future::BoxFuture<'static, ()>,
}

impl KubeletServer {
    /// Binds `config`'s address and port and prepares serving.
    pub async fn bind(
        config: &KubeletConfig,
        client: kube::Client,
        cri: Cri,
    ) -> Result<KubeletServer, ServerError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = match &config.client_ca_pem {
            Some(pem) => Some(authn::ClientCa::from_pem(pem)?),
            None => {
                tracing::warn!(
                    "no client CA configured: every kubelet API request will be unauthorized"
                );
                None
            }
        };
        let tls = tls::server_config(&config.node_name, config.node_ip)?;
        let addr = SocketAddr::new(config.server_address, config.server_port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let state = Arc::new(ServerState {
            node_name: config.node_name.clone(),
            client,
            cri,
            stats: crate::stats::Collector::new(&config.node_name, config.root_dir.clone()),
        });
        let router = routes::router(state);
        tracing::info!(%addr, "kubelet API listening");
        Ok(KubeletServer {
            addr,
            serving: Box::pin(serve::serve(listener, tls, ca, router)),
        })
    }
}

/// A plain-text response, as upstream's kubelet writes its errors.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}
