//! Names outside the cluster go to the upstream (a fake resolver on loopback, never the
//! host's): caching as `cache 30`, TCP retry on truncation, truncation towards UDP clients,
//! SERVFAIL when no upstream answers, and the CoreDNS metrics that count it all.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Env, addresses, query, tcp_query, udp_exchange, udp_query};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use rkube_dns::{DnsConfig, DnsServer, Snapshot};

#[tokio::test]
async fn forwarding_with_cache_and_tcp_retry() {
    let env = Env::start().await;
    let up = &env.upstream;

    let m = udp_query(env.addr, "www.example.com.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available);
    assert!(!m.metadata.authoritative);
    assert_eq!(addresses(&m), vec!["192.0.2.1"]);
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);
    // Second time from the cache: no upstream query, TTL within the 30 s cap.
    let m = udp_query(env.addr, "WWW.example.com.", RecordType::A).await;
    assert_eq!(addresses(&m), vec!["192.0.2.1"]);
    assert!(m.answers[0].ttl <= 30, "{m}");
    assert_eq!(m.queries[0].name().to_ascii(), "WWW.example.com.");
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);

    // Negative answers are forwarded and cached too.
    for _ in 0..2 {
        let m = udp_query(env.addr, "nx.example.com.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities.len(), 1);
    }
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), 2);

    // The upstream truncates over UDP: the server asks again over TCP, then truncates for
    // its 512-byte UDP client, which gets everything over TCP (from the cache).
    let m = udp_query(env.addr, "big.example.com.", RecordType::A).await;
    assert_eq!(up.tcp_queries.load(Ordering::SeqCst), 1);
    assert!(m.metadata.truncation, "{m}");
    assert!(!m.answers.is_empty() && m.answers.len() < 100);
    let m = tcp_query(env.addr, "big.example.com.", RecordType::A).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 100);
    // An EDNS client with a 1232-byte buffer gets more over UDP than a plain one.
    let m = udp_exchange(env.addr, &query("big.example.com.", RecordType::A, true)).await;
    assert!(m.metadata.truncation);
    assert!(m.answers.len() > 30, "{}", m.answers.len());
    assert!(m.edns.is_some());

    let text = env.dns.metrics().encode();
    for needle in [
        r#"coredns_dns_requests_total{server="dns://:53",zone=".",view="",proto="udp",family="1",type="A"}"#,
        r#"coredns_dns_responses_total{server="dns://:53",zone=".",view="",rcode="NXDOMAIN",plugin="forward"} 1"#,
        r#"coredns_dns_responses_total{server="dns://:53",zone=".",view="",rcode="NXDOMAIN",plugin="cache"} 1"#,
        r#"coredns_cache_hits_total{server="dns://:53",type="success",zones=".",view=""} 3"#,
        r#"coredns_cache_hits_total{server="dns://:53",type="denial",zones=".",view=""} 1"#,
        r#"coredns_cache_misses_total{server="dns://:53",zones=".",view=""} 3"#,
        r#"coredns_dns_request_duration_seconds_bucket{le="0.00025",server="dns://:53",zone=".",view="",type="A"}"#,
        "coredns_proxy_request_duration_seconds_count",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    env.stop().await;
}

#[tokio::test]
async fn dead_upstream_is_servfail() {
    // A port nobody listens on (bound then released).
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = DnsConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
    config.upstreams = vec![dead];
    config.upstream_timeout = Duration::from_millis(200);
    let (_tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(Snapshot::default()));
    let server = DnsServer::serve(config, rx).await.unwrap();
    let t0 = Instant::now();
    let m = udp_query(server.local_addrs()[0], "www.example.com.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(t0.elapsed() < Duration::from_secs(2));
    server.stop().await;
}
