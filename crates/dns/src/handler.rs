//! One query from bytes to bytes: validation ([`crate::wire`]), the cluster answer
//! ([`crate::answer`]) or the cache and forwarder for everything else, chasing ExternalName
//! CNAMEs upstream, metrics, and encoding within the client's size limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::sync::watch;

use crate::answer::{Resolution, Settings, resolve};
use crate::cache::{Cache, Key};
use crate::forward::Forwarder;
use crate::metrics::{CacheKind, DnsMetrics};
use crate::snapshot::Snapshot;
use crate::wire::{self, Incoming, Request, TCP_LIMIT};

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    fn label(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// Everything a query needs; shared by all socket tasks.
pub(crate) struct Handler {
    pub(crate) settings: Settings,
    pub(crate) snapshot: watch::Receiver<Arc<Snapshot>>,
    pub(crate) forwarder: Forwarder,
    pub(crate) cache: Cache,
    pub(crate) metrics: Arc<DnsMetrics>,
}

impl Handler {
    /// The encoded response to `bytes`, or `None` when the protocol says to stay silent.
    pub(crate) async fn handle(
        &self,
        bytes: &[u8],
        proto: Proto,
        client: SocketAddr,
    ) -> Option<Vec<u8>> {
        let t0 = Instant::now();
        let v6 = client.is_ipv6() && client.ip().to_canonical().is_ipv6();
        match wire::parse(bytes) {
            Incoming::Drop => None,
            Incoming::Reply(m) => {
                let qtype = m.queries.first().map(Query::query_type);
                self.metrics.request(proto.label(), v6, qtype);
                self.metrics
                    .response(m.metadata.response_code, "", qtype, t0.elapsed());
                wire::encode(&m, wire::PLAIN_UDP_LIMIT)
            }
            Incoming::Query(req) => {
                let qtype = Some(req.query.query_type());
                self.metrics.request(proto.label(), v6, qtype);
                let (msg, plugin) = self.answer(&req).await;
                self.metrics
                    .response(msg.metadata.response_code, plugin, qtype, t0.elapsed());
                let limit = match proto {
                    Proto::Udp => req.udp_limit(),
                    Proto::Tcp => TCP_LIMIT,
                };
                wire::encode(&msg, limit)
            }
        }
    }

    async fn answer(&self, req: &Request) -> (Message, &'static str) {
        let snap = self.snapshot.borrow().clone();
        let (name, qtype) = (req.query.name(), req.query.query_type());
        match resolve(&snap, &self.settings, name, qtype) {
            Resolution::Refused => {
                let mut m = wire::response_to(req);
                m.metadata.response_code = ResponseCode::Refused;
                (m, "kubernetes")
            }
            Resolution::Answer(a) => {
                let mut m = wire::response_to(req);
                m.metadata.response_code = a.rcode;
                m.metadata.authoritative = a.authoritative;
                m.answers = a.answers;
                m.authorities = a.authorities;
                m.additionals = a.additionals;
                for target in a.chase {
                    let (up, _) = self.upstream(req, &target, qtype).await;
                    if up.metadata.response_code == ResponseCode::NoError {
                        m.answers.extend(up.answers);
                    }
                }
                (m, "kubernetes")
            }
            Resolution::Forward => {
                let (up, plugin) = self.upstream(req, name, qtype).await;
                let mut m = wire::response_to(req);
                m.metadata.response_code = up.metadata.response_code;
                m.metadata.authoritative = up.metadata.authoritative;
                m.metadata.recursion_available = up.metadata.recursion_available;
                m.metadata.authentic_data = up.metadata.authentic_data;
                m.answers = up.answers;
                m.authorities = up.authorities;
                m.additionals = up.additionals;
                (m, plugin)
            }
        }
    }

    /// The upstream answer to `name`/`qtype` (from the cache when fresh); SERVFAIL when no
    /// upstream answered. Also names who answered, for the `plugin` metric label.
    async fn upstream(
        &self,
        req: &Request,
        name: &Name,
        qtype: RecordType,
    ) -> (Message, &'static str) {
        let (dnssec_ok, cd) = (req.dnssec_ok(), req.metadata.checking_disabled);
        let key = Key::new(name, qtype, dnssec_ok, cd);
        if let Some((m, kind)) = self.cache.get(&key, Instant::now()) {
            self.metrics.cache_hit(kind);
            return (m, "cache");
        }
        self.metrics.cache_miss();
        let query = Query::query(name.clone(), qtype);
        match self
            .forwarder
            .exchange(&query, dnssec_ok, cd, Some(&self.metrics))
            .await
        {
            Ok(m) => {
                let (success, denial) = self.cache.insert(key, &m, Instant::now());
                self.metrics.cache_size(CacheKind::Success, success);
                self.metrics.cache_size(CacheKind::Denial, denial);
                (m, "forward")
            }
            Err(e) => {
                tracing::debug!(%name, error = %e, "forwarding failed");
                let mut m = Message::response(0, hickory_proto::op::OpCode::Query);
                m.metadata.response_code = ResponseCode::ServFail;
                (m, "forward")
            }
        }
    }
}
