//! The DNS server: UDP and TCP listeners on each configured address feeding the shared
//! [`Handler`](crate::handler), with bounded concurrency (excess UDP queries are dropped,
//! excess TCP connections closed) and idle timeouts, plus the reflectors behind the answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::answer::Settings;
use crate::cache::Cache;
use crate::config::DnsConfig;
use crate::error::DnsError;
use crate::forward::Forwarder;
use crate::handler::{Handler, Proto};
use crate::metrics::DnsMetrics;
use crate::names::Zone;
use crate::snapshot::Snapshot;

/// How long [`DnsServer::start`] waits for the first full sync before serving anyway (as
/// CoreDNS delays serving up to 5 s); until then cluster misses are SERVFAIL.
const SYNC_WAIT: Duration = Duration::from_secs(5);

/// A running cluster DNS server.
pub struct DnsServer {
    local: Vec<SocketAddr>,
    metrics: Arc<DnsMetrics>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds the listeners, starts the reflectors on `client`, waits (up to 5 s) for their
    /// first sync and serves.
    pub async fn start(config: DnsConfig, client: kube::Client) -> Result<DnsServer, DnsError> {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let zone = Zone::new(&config.cluster_domain).map_err(DnsError::Config)?;
        let watchers = crate::watch::start(client, zone.domain(), tx);
        let mut server = match DnsServer::serve(config, rx.clone()).await {
            Ok(s) => s,
            Err(e) => {
                for t in watchers {
                    t.abort();
                }
                return Err(e);
            }
        };
        server.tasks.extend(watchers);
        let mut wait = rx;
        if tokio::time::timeout(SYNC_WAIT, wait.wait_for(|s| s.synced))
            .await
            .is_err()
        {
            tracing::warn!("cluster DNS serving before its caches synced");
        }
        Ok(server)
    }

    /// Serves whatever snapshots `snapshots` publishes (no apiserver: for benchmarks, tests
    /// and callers that keep their own caches).
    pub async fn serve(
        config: DnsConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> Result<DnsServer, DnsError> {
        if config.listen.is_empty() {
            return Err(DnsError::Config("no listen address".into()));
        }
        let zone = Zone::new(&config.cluster_domain).map_err(DnsError::Config)?;
        let mut sockets = Vec::new();
        let mut local = Vec::new();
        for addr in &config.listen {
            let (udp, tcp) = bind_pair(*addr).await?;
            let bound = udp.local_addr().map_err(|source| DnsError::Bind {
                addr: *addr,
                source,
            })?;
            local.push(bound);
            sockets.push((udp, tcp));
        }
        // Forwarding to ourselves would loop (CoreDNS's `loop` plugin stops the server then).
        let upstreams: Vec<SocketAddr> = config
            .upstreams
            .iter()
            .copied()
            .filter(|u| {
                let own = local.iter().any(|l| is_same_socket(*l, *u));
                if own {
                    tracing::warn!(upstream = %u, "ignoring an upstream that is this server");
                }
                !own
            })
            .collect();
        let metrics = Arc::new(DnsMetrics::new(&config.metrics_server_label));
        let handler = Arc::new(Handler {
            settings: Settings {
                zone,
                ttl: config.ttl,
                dns_service: config.dns_service.clone(),
            },
            snapshot: snapshots.clone(),
            forwarder: Forwarder::new(upstreams.clone(), config.upstream_timeout),
            cache: Cache::new(
                config.cache_min_ttl,
                config.cache_max_ttl,
                config.cache_capacity,
            ),
            metrics: metrics.clone(),
        });
        let (shutdown, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let udp_slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
        let tcp_slots = Arc::new(Semaphore::new(config.max_tcp_connections.max(1)));
        for (udp, tcp) in sockets {
            tasks.push(tokio::spawn(serve_udp(
                Arc::new(udp),
                handler.clone(),
                udp_slots.clone(),
                shutdown.subscribe(),
            )));
            tasks.push(tokio::spawn(serve_tcp(
                tcp,
                handler.clone(),
                tcp_slots.clone(),
                config.tcp_idle_timeout,
                shutdown.subscribe(),
            )));
        }
        tracing::info!(addresses = ?local, ?upstreams, "cluster DNS serving");
        Ok(DnsServer {
            local,
            metrics,
            snapshot: snapshots,
            shutdown,
            tasks,
        })
    }

    /// The addresses actually bound (UDP and TCP share each), in `listen` order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// The server's metrics (CoreDNS names); [`DnsMetrics::encode`] gives the exposition.
    pub fn metrics(&self) -> Arc<DnsMetrics> {
        self.metrics.clone()
    }

    /// The snapshot currently answered from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// Whether the reflectors have synced (readiness).
    pub fn ready(&self) -> bool {
        self.snapshot.borrow().synced
    }

    /// Stops listening and the reflectors.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Whether `upstream` reaches the socket bound at `local` (the same address, or the same
/// port on a loopback address when bound to all addresses).
fn is_same_socket(local: SocketAddr, upstream: SocketAddr) -> bool {
    local == upstream
        || (local.port() == upstream.port()
            && local.ip().is_unspecified()
            && upstream.ip().is_loopback())
}

/// Binds UDP and TCP on the same address; for port 0, retries until both get the same port.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let err = |source| DnsError::Bind { addr, source };
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let tcp = TcpListener::bind(addr).await.map_err(err)?;
        return Ok((udp, tcp));
    }
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let port = udp.local_addr().map_err(err)?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(err(
        last.unwrap_or_else(|| std::io::Error::other("no free port"))
    ))
}

async fn serve_udp(
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65535];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.changed() => return,
        };
        let (n, client) = match received {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors from earlier sends surface here; the socket stays usable.
                tracing::debug!(error = %e, "udp receive");
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Overloaded: drop, the client retries.
            continue;
        };
        let packet = buf[..n].to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(response) = handler.handle(&packet, Proto::Udp, client).await {
                let _ = socket.send_to(&response, client).await;
            }
        });
    }
}

async fn serve_tcp(
    listener: TcpListener,
    handler: Arc<Handler>,
    slots: Arc<Semaphore>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, client)) = accepted else {
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (handler, shutdown) = (handler.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tcp_connection(stream, client, handler, idle, shutdown).await;
        });
    }
}

/// Serves length-prefixed queries on one connection until the client closes it, sends
/// something that gets no answer, or stays idle too long.
async fn tcp_connection(
    mut stream: TcpStream,
    client: SocketAddr,
    handler: Arc<Handler>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let read = async {
            let len = stream.read_u16().await?;
            let mut buf = vec![0u8; usize::from(len)];
            stream.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        let buf = tokio::select! {
            r = tokio::time::timeout(idle, read) => match r {
                Ok(Ok(buf)) => buf,
                _ => return,
            },
            _ = shutdown.changed() => return,
        };
        let Some(response) = handler.handle(&buf, Proto::Tcp, client).await else {
            return;
        };
        let Ok(len) = u16::try_from(response.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(response.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&response);
        if tokio::time::timeout(idle, stream.write_all(&framed))
            .await
            .map_or(true, |r| r.is_err())
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_address_is_no_upstream() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(is_same_socket(sa("127.0.0.1:53"), sa("127.0.0.1:53")));
        assert!(is_same_socket(sa("0.0.0.0:53"), sa("127.0.0.1:53")));
        assert!(is_same_socket(sa("[::]:5353"), sa("[::1]:5353")));
        assert!(!is_same_socket(sa("0.0.0.0:53"), sa("10.0.0.2:53")));
        assert!(!is_same_socket(sa("127.0.0.1:5353"), sa("127.0.0.1:53")));
    }
}
