//! The connection to a kubelet: TCP, TLS with the apiserver's kubelet-client certificate
//! ([`crate::pki::kubelet_client_config`]), one HTTP/1.1 request per connection (kept for the
//! response body or the upgraded stream).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long connecting (TCP and TLS) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Talks to kubelets; shared by the handlers through a request extension.
#[derive(Clone, Debug)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

/// Why a kubelet request failed before a response.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// TCP or TLS failed; the text reads like Go's (`dial tcp …: connect: connection refused`).
    #[error("{0}")]
    Dial(String),
    /// The HTTP exchange failed.
    #[error("{0}")]
    Http(String),
}

impl KubeletClient {
    /// A client presenting the identity in `tls`.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> KubeletClient {
        KubeletClient { tls }
    }

    /// Sends `req` (whose URI is the path and query) to the kubelet at `host:port`.
    pub async fn send(
        &self,
        host: &str,
        port: u16,
        mut req: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, DialError> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let dial = |e: std::io::Error| {
            let why = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
                _ => e.to_string(),
            };
            DialError::Dial(format!("dial tcp {authority}: connect: {why}"))
        };
        let tcp = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&authority))
            .await
            .map_err(|_| dial(std::io::ErrorKind::TimedOut.into()))?
            .map_err(dial)?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| DialError::Dial(format!("invalid kubelet host {host:?}: {e}")))?;
        let tls = tokio::time::timeout(
            DIAL_TIMEOUT,
            TlsConnector::from(self.tls.clone()).connect(name, tcp),
        )
        .await
        .map_err(|_| DialError::Dial(format!("tls handshake with {authority}: i/o timeout")))?
        .map_err(|e| DialError::Dial(format!("tls handshake with {authority}: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| DialError::Http(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "kubelet connection ended with an error");
            }
        });
        if let Ok(v) = http::HeaderValue::from_str(&authority) {
            req.headers_mut().insert(http::header::HOST, v);
        }
        sender
            .send_request(req)
            .await
            .map_err(|e| DialError::Http(e.to_string()))
    }
}
