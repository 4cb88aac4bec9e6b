//! Serving: the accept loop, TLS handshakes, HTTP/1.1 and HTTP/2 (with upgrades) through
//! hyper-util's auto builder, per-connection request extensions, graceful shutdown.
//!
//! Every request gets, in its extensions:
//! - [`axum::extract::ConnectInfo<SocketAddr>`] with the peer's address;
//! - [`PeerCertificates`], only when the client presented a certificate chain. With
//!   [`crate::pki::ClientAuth::Optional`] it is not verified yet: the authenticator checks
//!   it against the client CA (as upstream's x509 authenticator does).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The certificate chain a client presented in the TLS handshake, leaf first. Only the
/// client's possession of the leaf's key was checked; see [`crate::pki::ClientCa`].
#[derive(Clone, Debug)]
pub struct PeerCertificates {
    /// The chain, leaf first.
    pub chain: Arc<[rustls::pki_types::CertificateDer<'static>]>,
    /// The chain's verdict against the client CA, shared by every request of the
    /// connection: verifying the signatures for each request cost ~7% of the apiserver's CPU
    /// under load.
    pub verdict: Arc<std::sync::OnceLock<Result<Option<ClientCertIdentity>, String>>>,
}

impl PeerCertificates {
    /// A chain not verified yet.
    pub fn new(chain: Arc<[rustls::pki_types::CertificateDer<'static>]>) -> PeerCertificates {
        PeerCertificates {
            chain,
            verdict: Arc::default(),
        }
    }
}

/// The identity carried by a verified client certificate: the subject's common name and
/// organizations (Kubernetes maps them to user name and groups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertIdentity {
    /// The subject's (first) common name; may be empty.
    pub common_name: String,
    /// The subject's organization (O) values, in certificate order.
    pub organizations: Vec<String>,
}

impl ClientCertIdentity {
    /// Reads the identity from a DER certificate; `None` if it does not parse.
    pub fn from_der(der: &[u8]) -> Option<ClientCertIdentity> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject();
        Some(ClientCertIdentity {
            common_name: subject
                .iter_common_name()
                .next()
                .and_then(|a| a.as_str().ok())
                .unwrap_or_default()
                .to_string(),
            organizations: subject
                .iter_organization()
                .filter_map(|a| a.as_str().ok())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// Tuning of the accept loop.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// How long a TLS handshake may take before the connection is dropped.
    pub handshake_timeout: Duration,
    /// After shutdown is requested, how long open connections get to finish (HTTP/2
    /// GOAWAY, HTTP/1.1 close after the current response) before they are cut.
    /// Long-running requests (watches, exec) are cut when it ends.
    pub shutdown_grace: Duration,
    /// HTTP/2 streams one connection may have open at once (upstream's
    /// `--http2-max-streams-per-connection`, 1000: client-go multiplexes every watch of
    /// a process over one connection).
    pub http2_max_concurrent_streams: u32,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            http2_max_concurrent_streams: 1000,
        }
    }
}

/// Errors that end serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener's local address could not be read (the socket is unusable).
    #[error("listener: {0}")]
    Listener(#[source] std::io::Error),
}

/// Serves `app` over HTTPS on `listener` until `shutdown` completes, then shuts down
/// gracefully (see [`ServeOptions::shutdown_grace`]). Handshake failures and broken
/// connections are logged at debug level and never end serving.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_https_with(listener, tls, app, shutdown, ServeOptions::default()).await
}

/// [`serve_https`] with explicit [`ServeOptions`].
pub async fn serve_https_with(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) -> Result<(), ServeError> {
    serve_loop(
        listener,
        Some(TlsAcceptor::from(tls)),
        app,
        shutdown,
        options,
    )
    .await
}

/// Serves `app` over plain HTTP (no TLS, hence no client certificates) on `listener`
/// until `shutdown` completes. Only for explicit opt-in (e.g. behind a local proxy).
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_loop(listener, None, app, shutdown, ServeOptions::default()).await
}

fn http_builder(options: &ServeOptions) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.http2_max_concurrent_streams);
    builder
}

/// Errors from `accept` that concern one connection only.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

async fn serve_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) -> Result<(), ServeError> {
    let local = listener.local_addr().map_err(ServeError::Listener)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%local, scheme, "serving");
    let builder = Arc::new(http_builder(&options));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "connection task panicked");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(handle_connection(
                        stream,
                        remote,
                        tls.clone(),
                        app.clone(),
                        builder.clone(),
                        stop_rx.clone(),
                        options.handshake_timeout,
                    ));
                }
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "accept");
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    drop(listener);
    tracing::info!(%local, open = connections.len(), "shutting down");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            %local,
            cut = connections.len(),
            "shutdown grace period over; closing remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn handle_connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    mut stop: watch::Receiver<bool>,
    handshake_timeout: Duration,
) {
    let Some(acceptor) = tls else {
        serve_io(stream, remote, None, app, &builder, stop).await;
        return;
    };
    let accept = acceptor.accept(stream).into_fallible();
    let stream = match tokio::time::timeout(handshake_timeout, accept).await {
        Ok(Ok(s)) => s,
        Ok(Err((e, tcp))) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            tokio::select! {
                () = linger_close(tcp) => {}
                () = stopped(&mut stop) => {}
            }
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            return;
        }
    };
    let chain = stream
        .get_ref()
        .1
        .peer_certificates()
        .filter(|chain| !chain.is_empty())
        .map(|chain| PeerCertificates::new(chain.iter().map(|c| c.clone().into_owned()).collect()));
    serve_io(stream, remote, chain, app, &builder, stop).await;
}

/// Closes a connection whose handshake failed so that the client reads our alert: send
/// FIN, then drain what the client still sends (its first request, with TLS 1.3) for a
/// moment. Closing with unread data would send a RST, which can destroy the alert
/// before the client reads it ("connection reset by peer" instead of "unknown
/// certificate authority").
async fn linger_close(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = tcp.read(&mut buf).await
            && n > 0
        {}
    })
    .await;
}

/// Completes when shutdown was requested (or the serve loop is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn serve_io<IO>(
    io: IO,
    remote: SocketAddr,
    chain: Option<PeerCertificates>,
    app: Router,
    builder: &Builder<TokioExecutor>,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        let ext = req.extensions_mut();
        ext.insert(ConnectInfo(remote));
        if let Some(chain) = &chain {
            ext.insert(chain.clone());
        }
        app.clone().oneshot(req)
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}
