//! Forwarding to upstream resolvers (`forward . /etc/resolv.conf`): UDP first, the same query
//! again over TCP when the UDP answer is truncated, the next upstream when one fails or times
//! out. Responses are matched on ID and question so stray datagrams are ignored.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::metrics::DnsMetrics;
use crate::wire::our_edns;

/// Why no upstream answered.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No upstream is configured.
    #[error("no upstream resolvers configured")]
    NoUpstreams,
    /// Every upstream failed; the last failure.
    #[error("upstream {upstream}: {reason}")]
    Failed {
        /// The last upstream tried.
        upstream: SocketAddr,
        /// What went wrong with it.
        reason: String,
    },
}

/// Sends questions to the upstreams.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    /// A forwarder trying `upstreams` (in random order, as CoreDNS's default policy), giving
    /// each `timeout`.
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Forwarder {
        Forwarder { upstreams, timeout }
    }

    /// The upstreams.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Asks the upstreams `query` (recursion desired, our EDNS with the client's DO bit).
    pub async fn exchange(
        &self,
        query: &Query,
        dnssec_ok: bool,
        checking_disabled: bool,
        metrics: Option<&DnsMetrics>,
    ) -> Result<Message, ForwardError> {
        if self.upstreams.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.metadata.checking_disabled = checking_disabled;
        msg.add_query(query.clone());
        msg.set_edns(our_edns(dnssec_ok));
        let start = rand::random_range(0..self.upstreams.len());
        let mut last = None;
        for i in 0..self.upstreams.len() {
            let upstream = self.upstreams[(start + i) % self.upstreams.len()];
            let t0 = Instant::now();
            let result = self.try_one(upstream, &msg).await;
            if let Some(m) = metrics {
                let rcode = result.as_ref().ok().map(|r| r.metadata.response_code);
                m.upstream(&upstream.to_string(), rcode, t0.elapsed());
            }
            match result {
                Ok(response) => return Ok(response),
                Err(reason) => {
                    tracing::debug!(%upstream, %reason, "upstream failed");
                    last = Some(ForwardError::Failed { upstream, reason });
                }
            }
        }
        Err(last.unwrap_or(ForwardError::NoUpstreams))
    }

    async fn try_one(&self, upstream: SocketAddr, msg: &Message) -> Result<Message, String> {
        let bytes = msg.to_vec().map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(self.timeout, udp(upstream, &bytes, msg))
            .await
            .map_err(|_| "timed out".to_string())??;
        if !response.metadata.truncation {
            return Ok(response);
        }
        tokio::time::timeout(self.timeout, tcp(upstream, &bytes, msg))
            .await
            .map_err(|_| "timed out over TCP".to_string())?
    }
}

fn matches(request: &Message, response: &Message) -> bool {
    response.metadata.id == request.metadata.id
        && match (request.queries.first(), response.queries.first()) {
            (Some(a), Some(b)) => {
                a.query_type() == b.query_type() && a.name().eq_ignore_root(b.name())
            }
            // Some servers send errors without the question.
            (Some(_), None) => true,
            _ => false,
        }
}

async fn udp(upstream: SocketAddr, bytes: &[u8], request: &Message) -> Result<Message, String> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    socket.connect(upstream).await.map_err(|e| e.to_string())?;
    socket.send(bytes).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
        let Ok(response) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if matches(request, &response) {
            return Ok(response);
        }
    }
}

async fn tcp(upstream: SocketAddr, bytes: &[u8], request: &Message) -> Result<Message, String> {
    let mut stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let len = u16::try_from(bytes.len()).map_err(|_| "query too large".to_string())?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(|e| e.to_string())?;
    loop {
        let n = stream.read_u16().await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; usize::from(n)];
        stream
            .read_exact(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let response = Message::from_vec(&buf).map_err(|e| e.to_string())?;
        if matches(request, &response) {
            return Ok(response);
        }
    }
}
