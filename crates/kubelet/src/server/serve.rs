//! The accept loop: TLS handshakes, the client certificate turned into a [`Peer`] once per
//! connection, HTTP/1.1 and HTTP/2 with upgrades (exec and attach switch to WebSocket).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::authn::{ClientCa, Peer};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until the task is dropped (open connections go with it).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ca: Option<ClientCa>,
    router: Router,
) {
    let acceptor = TlsAcceptor::from(tls);
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(connection(
                        tcp,
                        remote,
                        acceptor.clone(),
                        ca.clone(),
                        router.clone(),
                        builder.clone(),
                    ));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "kubelet API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    ca: Option<ClientCa>,
    router: Router,
    builder: Arc<Builder<TokioExecutor>>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "kubelet API TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let identity = match (&ca, tls.get_ref().1.peer_certificates()) {
        (Some(ca), Some(chain)) => ca.authenticate(chain),
        _ => None,
    };
    let peer = Peer(identity);
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        router.clone().oneshot(req)
    });
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(%remote, error = %e, "kubelet API connection ended with an error");
    }
}
