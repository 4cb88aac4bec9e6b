//! Shared parts of the DNS integration tests: an in-process apiserver, a DNS server on
//! loopback port 0, raw DNS clients over UDP and TCP, and a fake upstream resolver.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use kube::api::{Api, DeleteParams, PostParams};
use rkube_apiserver::server::RunningServer;
use rkube_dns::{DnsConfig, DnsServer};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// An apiserver and a DNS server in front of it.
pub struct Env {
    pub client: kube::Client,
    pub dns: DnsServer,
    pub addr: SocketAddr,
    pub upstream: FakeUpstream,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// Starts both, the DNS server forwarding to a fake upstream on loopback.
    pub async fn start() -> Env {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("rkube_dns=debug")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut sc = rkube_apiserver::server::ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
        let client = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();
        let upstream = FakeUpstream::start().await;
        let mut config = DnsConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
        config.upstreams = vec![upstream.addr];
        config.upstream_timeout = Duration::from_millis(500);
        let dns = DnsServer::start(config, client.clone())
            .await
            .expect("dns starts");
        assert!(dns.ready(), "reflectors synced");
        let addr = dns.local_addrs()[0];
        Env {
            client,
            dns,
            addr,
            upstream,
            server: Some(server),
            _dir: dir,
        }
    }

    /// Creates a namespaced object in `default` from JSON.
    pub async fn create<K>(&self, obj: Value) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + DeserializeOwned
            + serde::Serialize,
        K::DynamicType: Default,
    {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let k: K = serde_json::from_value(obj).unwrap();
        Api::<K>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &k)
            .await
            .unwrap()
    }

    /// Deletes a namespaced object in `default`.
    pub async fn delete<K>(&self, name: &str)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + DeserializeOwned,
        K::DynamicType: Default,
    {
        Api::<K>::namespaced(self.client.clone(), "default")
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Asks over UDP until `pred` holds (at most `within`); the last answer and the wait.
    pub async fn until(
        &self,
        name: &str,
        qtype: RecordType,
        within: Duration,
        pred: impl Fn(&Message) -> bool,
    ) -> (Message, Duration) {
        let t0 = tokio::time::Instant::now();
        loop {
            let m = udp_query(self.addr, name, qtype).await;
            if pred(&m) {
                return (m, t0.elapsed());
            }
            assert!(
                t0.elapsed() < within,
                "{name} {qtype}: condition not met within {within:?}; last answer {m}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(mut self) {
        self.dns.stop().await;
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// A query message for `name`/`qtype` with recursion desired and EDNS (1232 bytes).
pub fn query(name: &str, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

/// Sends raw bytes over UDP; the reply, if one comes within 500 ms.
pub async fn udp_raw(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(bytes, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Asks `server` over UDP (without EDNS: 512-byte answers); retries lost datagrams.
pub async fn udp_query(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    udp_exchange(server, &query(name, qtype, false)).await
}

/// Sends `m` over UDP and decodes the matching reply (three tries).
pub async fn udp_exchange(server: SocketAddr, m: &Message) -> Message {
    let bytes = m.to_vec().unwrap();
    for _ in 0..3 {
        if let Some(reply) = udp_raw(server, &bytes).await {
            let r = Message::from_vec(&reply).expect("reply decodes");
            assert_eq!(r.metadata.id, m.metadata.id);
            return r;
        }
    }
    panic!("no UDP reply to {m}");
}

/// Asks `server` over a fresh TCP connection.
pub async fn tcp_query(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let m = query(name, qtype, false);
    let mut s = TcpStream::connect(server).await.unwrap();
    let reply = tcp_exchange(&mut s, &m.to_vec().unwrap())
        .await
        .expect("tcp reply");
    let r = Message::from_vec(&reply).unwrap();
    assert_eq!(r.metadata.id, m.metadata.id);
    r
}

/// Writes one length-prefixed message on `s` and reads the reply (within 2 s).
pub async fn tcp_exchange(s: &mut TcpStream, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.ok()?;
    tokio::time::timeout(Duration::from_secs(2), async {
        let n = s.read_u16().await.ok()?;
        let mut buf = vec![0u8; usize::from(n)];
        s.read_exact(&mut buf).await.ok()?;
        Some(buf)
    })
    .await
    .ok()
    .flatten()
}

/// The A/AAAA addresses of an answer section, in order.
pub fn addresses(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// A loopback DNS server standing in for the host's resolvers. It answers:
/// `*.example.com A` → 192.0.2.1 (TTL 60); `big.example.com A` → 100 addresses, truncated
/// (TC, no records) over UDP; `nx.example.com` → NXDOMAIN with a SOA (TTL 3600);
/// `1.2.0.192.in-addr.arpa PTR` → `host.example.com`; everything else NXDOMAIN.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let counter = udp_queries.clone();
        let t1 = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                counter.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = fake_answer(&buf[..n], true) {
                    let _ = udp.send_to(&reply, from).await;
                }
            }
        });
        let counter = tcp_queries.clone();
        let t2 = tokio::spawn(async move {
            while let Ok((mut s, _)) = tcp.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    while let Ok(n) = s.read_u16().await {
                        let mut buf = vec![0u8; usize::from(n)];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let Some(reply) = fake_answer(&buf, false) else {
                            return;
                        };
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        if s.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeUpstream {
            addr,
            udp_queries,
            tcp_queries,
            tasks: vec![t1, t2],
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn fake_answer(bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let req = Message::from_vec(bytes).ok()?;
    let q = req.queries.first()?.clone();
    let mut m = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_query(q.clone());
    let name = q.name().to_lowercase().to_ascii();
    let zone = Name::from_ascii("example.com.").unwrap();
    let soa = Record::from_rdata(
        zone.clone(),
        3600,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.example.com.").unwrap(),
            Name::from_ascii("admin.example.com.").unwrap(),
            1,
            3600,
            600,
            86400,
            3600,
        )),
    );
    match (name.as_str(), q.query_type()) {
        ("big.example.com.", RecordType::A) => {
            if udp {
                m.metadata.truncation = true;
            } else {
                for i in 0..100u8 {
                    m.add_answer(Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::A(A::new(198, 51, 100, i)),
                    ));
                }
            }
        }
        ("nx.example.com.", _) => {
            m.metadata.response_code = ResponseCode::NXDomain;
            m.add_authority(soa);
        }
        ("1.2.0.192.in-addr.arpa.", RecordType::PTR) => {
            m.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::PTR(PTR(Name::from_ascii("host.example.com.").unwrap())),
            ));
        }
        (n, RecordType::A) if n.ends_with(".example.com.") => {
            m.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(A::new(192, 0, 2, 1)),
            ));
        }
        (n, _) if n.ends_with(".example.com.") => {
            m.add_authority(soa);
        }
        _ => {
            m.metadata.response_code = ResponseCode::NXDomain;
        }
    }
    m.to_vec().ok()
}
