//! Unit tests of the answering logic over hand-built snapshots.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::*;

fn ns(name: &str) -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

fn svc(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    )
    .unwrap()
}

fn slice(name: &str, svc: &str, ports: serde_json::Value, eps: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4", "ports": ports, "endpoints": eps
    }))
    .unwrap()
}

fn snapshot() -> Snapshot {
    let namespaces = [ns("default"), ns("kube-system")];
    let mut dns: Service = svc(
        "kube-dns",
        json!({"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
               "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}),
    );
    dns.metadata.namespace = Some("kube-system".into());
    let services = [
        dns,
        svc(
            "web",
            json!({"clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"],
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                             {"port": 9000, "protocol": "TCP"}]}),
        ),
        svc(
            "db",
            json!({"clusterIP": "None", "ports": [{"name": "mysql", "port": 3306}]}),
        ),
        svc(
            "lonely",
            json!({"clusterIP": "None", "ports": [{"name": "x", "port": 1}]}),
        ),
        svc(
            "eager",
            json!({"clusterIP": "None", "publishNotReadyAddresses": true}),
        ),
        svc(
            "ext",
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
        ),
        svc(
            "v6",
            json!({"clusterIP": "fd00:43::20", "clusterIPs": ["fd00:43::20", "10.43.0.21"],
                   "ipFamilies": ["IPv6", "IPv4"], "ports": [{"port": 80}]}),
        ),
        svc(
            "alias",
            json!({"type": "ExternalName", "externalName": "web.default.svc.cluster.local."}),
        ),
    ];
    let slices = [
        slice(
            "db-1",
            "db",
            json!([{"name": "mysql", "port": 3306, "protocol": "TCP"}]),
            json!([
                {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "hostname": "db-1"},
                {"addresses": ["10.42.0.7"], "hostname": "db-2", "conditions": {"ready": false}},
                {"addresses": ["10.42.0.8"], "conditions": {"ready": true}}
            ]),
        ),
        slice(
            "eager-1",
            "eager",
            json!([]),
            json!([{"addresses": ["10.42.1.1"], "conditions": {"ready": false}}]),
        ),
        slice(
            "web-1",
            "web",
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
            json!([{"addresses": ["10.42.2.1"], "conditions": {"ready": true}}]),
        ),
    ];
    let mut s = Snapshot::build("cluster.local", &namespaces, &services, &slices);
    s.synced = true;
    s.serial = 1234;
    s
}

fn settings() -> Settings {
    Settings {
        zone: Zone::new("cluster.local").unwrap(),
        ttl: 5,
        dns_service: ("kube-system".into(), "kube-dns".into()),
    }
}

fn ask(snap: &Snapshot, name: &str, qtype: RecordType) -> Resolution {
    resolve(snap, &settings(), &Name::from_ascii(name).unwrap(), qtype)
}

fn answer(snap: &Snapshot, name: &str, qtype: RecordType) -> Answer {
    match ask(snap, name, qtype) {
        Resolution::Answer(a) => a,
        other => panic!("{name} {qtype}: {other:?}"),
    }
}

fn ips(a: &Answer) -> Vec<IpAddr> {
    a.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(v4) => Some(IpAddr::V4(v4.0)),
            RData::AAAA(v6) => Some(IpAddr::V6(v6.0)),
            _ => None,
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn assert_negative(a: &Answer, rcode: ResponseCode) {
    assert_eq!(a.rcode, rcode);
    assert!(a.authoritative);
    assert!(a.answers.is_empty(), "{a:?}");
    assert_eq!(a.authorities.len(), 1);
    let soa = &a.authorities[0];
    assert_eq!(soa.name.to_ascii(), "cluster.local.");
    assert_eq!(soa.ttl, 5);
    let RData::SOA(s) = &soa.data else {
        panic!("{soa:?}")
    };
    assert_eq!((s.serial, s.minimum), (1234, 5));
}

#[test]
fn cluster_ip_service() {
    let s = snapshot();
    let a = answer(&s, "web.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(a.authoritative);
    assert_eq!(ips(&a), vec![ip("10.43.0.20")]);
    assert_eq!(a.answers[0].ttl, 5);
    assert_eq!(
        a.answers[0].name.to_ascii(),
        "web.default.svc.cluster.local."
    );
    // Case is kept from the question.
    let a = answer(&s, "WEB.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        a.answers[0].name.to_ascii(),
        "WEB.default.svc.cluster.local."
    );
    // The name exists, AAAA does not: NODATA.
    let a = answer(&s, "web.default.svc.cluster.local.", RecordType::AAAA);
    assert_negative(&a, ResponseCode::NoError);
    let a = answer(&s, "web.default.svc.cluster.local.", RecordType::MX);
    assert_negative(&a, ResponseCode::NoError);
}

#[test]
fn missing_names() {
    let s = snapshot();
    for name in [
        "nope.default.svc.cluster.local.",
        "web.nope.svc.cluster.local.",
        "x.cluster.local.",
        "a.b.c.web.default.svc.cluster.local.",
        "nope.web.default.svc.cluster.local.",
    ] {
        let a = answer(&s, name, RecordType::A);
        assert_negative(&a, ResponseCode::NXDomain);
        let a = answer(&s, name, RecordType::AAAA);
        assert_negative(&a, ResponseCode::NXDomain);
    }
    // A bare namespace or `svc.<zone>` exists and is empty.
    assert_negative(
        &answer(&s, "default.svc.cluster.local.", RecordType::A),
        ResponseCode::NoError,
    );
    assert_negative(
        &answer(&s, "svc.cluster.local.", RecordType::A),
        ResponseCode::NoError,
    );
    // Before the first sync a miss is SERVFAIL, not a cacheable NXDOMAIN.
    let mut unsynced = snapshot();
    unsynced.synced = false;
    let a = answer(&unsynced, "nope.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::ServFail);
}

#[test]
fn headless_services() {
    let s = snapshot();
    let a = answer(&s, "db.default.svc.cluster.local.", RecordType::A);
    // Ready (or unset) only: db-2 is not ready.
    assert_eq!(
        ips(&a),
        vec![ip("10.42.0.5"), ip("10.42.0.6"), ip("10.42.0.8")]
    );
    // publishNotReadyAddresses publishes not-ready endpoints.
    let a = answer(&s, "eager.default.svc.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.42.1.1")]);
    // No endpoints: NXDOMAIN (as CoreDNS).
    let a = answer(&s, "lonely.default.svc.cluster.local.", RecordType::A);
    assert_negative(&a, ResponseCode::NXDomain);
}

#[test]
fn endpoint_hostnames() {
    let s = snapshot();
    let a = answer(&s, "db-0.db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.42.0.5")]);
    let a = answer(&s, "10-42-0-8.db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.42.0.8")]);
    let a = answer(&s, "db-2.db.default.svc.cluster.local.", RecordType::A);
    assert_negative(&a, ResponseCode::NXDomain);
    // Endpoint names work under ClusterIP Services too.
    let a = answer(
        &s,
        "10-42-2-1.web.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(ips(&a), vec![ip("10.42.2.1")]);
}

#[test]
fn external_name() {
    let s = snapshot();
    let a = answer(&s, "ext.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert_eq!(a.answers.len(), 1);
    let RData::CNAME(c) = &a.answers[0].data else {
        panic!("{a:?}")
    };
    assert_eq!(c.0.to_ascii(), "db.example.com.");
    assert_eq!(a.chase, vec![Name::from_ascii("db.example.com.").unwrap()]);
    let a = answer(&s, "ext.default.svc.cluster.local.", RecordType::CNAME);
    assert_eq!(a.answers.len(), 1);
    assert!(a.chase.is_empty());
    assert_negative(
        &answer(&s, "ext.default.svc.cluster.local.", RecordType::SRV),
        ResponseCode::NoError,
    );
    // A target inside the zone is followed locally.
    let a = answer(&s, "alias.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.answers.len(), 2);
    assert!(matches!(a.answers[0].data, RData::CNAME(_)));
    assert_eq!(ips(&a), vec![ip("10.43.0.20")]);
    assert!(a.chase.is_empty());
}

fn srvs(a: &Answer) -> Vec<(u16, u16, String)> {
    a.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.weight, s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect()
}

#[test]
fn srv_records() {
    let s = snapshot();
    let a = answer(
        &s,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        srvs(&a),
        vec![(100, 80, "web.default.svc.cluster.local.".to_string())]
    );
    assert_eq!(a.additionals.len(), 1);
    assert_eq!(
        a.additionals[0].name.to_ascii(),
        "web.default.svc.cluster.local."
    );
    // Without port labels: every port, the unnamed one too.
    let a = answer(&s, "web.default.svc.cluster.local.", RecordType::SRV);
    assert_eq!(
        srvs(&a),
        vec![
            (50, 80, "web.default.svc.cluster.local.".to_string()),
            (50, 9000, "web.default.svc.cluster.local.".to_string())
        ]
    );
    // Headless: one per endpoint, its hostname as target.
    let a = answer(
        &s,
        "_mysql._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        srvs(&a),
        vec![
            (33, 3306, "db-0.db.default.svc.cluster.local.".to_string()),
            (33, 3306, "db-1.db.default.svc.cluster.local.".to_string()),
            (
                33,
                3306,
                "10-42-0-8.db.default.svc.cluster.local.".to_string()
            ),
        ]
    );
    assert_eq!(a.additionals.len(), 3);
    // Unknown port or protocol: NXDOMAIN.
    assert_negative(
        &answer(
            &s,
            "_nope._tcp.web.default.svc.cluster.local.",
            RecordType::SRV,
        ),
        ResponseCode::NXDomain,
    );
    assert_negative(
        &answer(
            &s,
            "_http._udp.web.default.svc.cluster.local.",
            RecordType::SRV,
        ),
        ResponseCode::NXDomain,
    );
    // The port name with A: the ClusterIP.
    let a = answer(
        &s,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(ips(&a), vec![ip("10.43.0.20")]);
}

#[test]
fn pods_insecure() {
    let s = snapshot();
    let a = answer(&s, "10-42-0-99.default.pod.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.42.0.99")]);
    assert_negative(
        &answer(
            &s,
            "10-42-0-99.default.pod.cluster.local.",
            RecordType::AAAA,
        ),
        ResponseCode::NoError,
    );
    assert_negative(
        &answer(&s, "not-an-ip.default.pod.cluster.local.", RecordType::A),
        ResponseCode::NXDomain,
    );
    assert_negative(
        &answer(&s, "10-42-0-99.nope.pod.cluster.local.", RecordType::A),
        ResponseCode::NXDomain,
    );
    let a = answer(&s, "fd00--1.default.pod.cluster.local.", RecordType::AAAA);
    assert_eq!(ips(&a), vec![ip("fd00::1")]);
}

#[test]
fn reverse_lookups() {
    let s = snapshot();
    let ptr = |a: &Answer| -> Vec<String> {
        a.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_ascii()),
                _ => None,
            })
            .collect()
    };
    let a = answer(&s, "20.0.43.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(ptr(&a), vec!["web.default.svc.cluster.local."]);
    assert!(a.authoritative);
    let a = answer(&s, "5.0.42.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(ptr(&a), vec!["db-0.db.default.svc.cluster.local."]);
    let a = answer(&s, "8.0.42.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(ptr(&a), vec!["10-42-0-8.db.default.svc.cluster.local."]);
    // Misses and other types fall through to the upstreams.
    assert_eq!(
        ask(&s, "1.2.0.192.in-addr.arpa.", RecordType::PTR),
        Resolution::Forward
    );
    assert_eq!(
        ask(&s, "20.0.43.10.in-addr.arpa.", RecordType::A),
        Resolution::Forward
    );
    assert_eq!(
        ask(&s, "43.10.in-addr.arpa.", RecordType::PTR),
        Resolution::Forward
    );
    // Not-ready endpoints have no PTR.
    assert_eq!(
        ask(&s, "7.0.42.10.in-addr.arpa.", RecordType::PTR),
        Resolution::Forward
    );
}

#[test]
fn zone_specials() {
    let s = snapshot();
    let a = answer(&s, "dns-version.cluster.local.", RecordType::TXT);
    let RData::TXT(t) = &a.answers[0].data else {
        panic!("{a:?}")
    };
    assert_eq!(&*t.txt_data[0], b"1.1.0");
    assert_eq!(a.answers[0].ttl, 28800);
    assert_negative(
        &answer(&s, "dns-version.cluster.local.", RecordType::A),
        ResponseCode::NXDomain,
    );
    // TXT on a Service: NODATA; on nothing: NXDOMAIN.
    assert_negative(
        &answer(&s, "web.default.svc.cluster.local.", RecordType::TXT),
        ResponseCode::NoError,
    );
    assert_negative(
        &answer(&s, "nope.default.svc.cluster.local.", RecordType::TXT),
        ResponseCode::NXDomain,
    );
    let a = answer(&s, "cluster.local.", RecordType::SOA);
    assert!(matches!(a.answers[0].data, RData::SOA(_)));
    let a = answer(&s, "cluster.local.", RecordType::NS);
    let RData::NS(n) = &a.answers[0].data else {
        panic!("{a:?}")
    };
    assert_eq!(n.0.to_ascii(), "ns.dns.cluster.local.");
    assert_eq!(a.additionals.len(), 1);
    let a = answer(&s, "ns.dns.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.43.0.10")]);
    assert_negative(
        &answer(&s, "cluster.local.", RecordType::A),
        ResponseCode::NoError,
    );
    assert_eq!(
        ask(&s, "cluster.local.", RecordType::AXFR),
        Resolution::Refused
    );
    assert_eq!(ask(&s, "example.com.", RecordType::A), Resolution::Forward);
}

#[test]
fn dual_stack_service() {
    let s = snapshot();
    let a = answer(&s, "v6.default.svc.cluster.local.", RecordType::AAAA);
    assert_eq!(ips(&a), vec![ip("fd00:43::20")]);
    let a = answer(&s, "v6.default.svc.cluster.local.", RecordType::A);
    assert_eq!(ips(&a), vec![ip("10.43.0.21")]);
    let ptr = Name::from_ascii(
        "fd00:43::20"
            .parse::<std::net::Ipv6Addr>()
            .map(|v6| {
                v6.octets()
                    .iter()
                    .rev()
                    .map(|b| format!("{:x}.{:x}.", b & 0xf, b >> 4))
                    .collect::<String>()
                    + "ip6.arpa."
            })
            .unwrap(),
    )
    .unwrap();
    let a = match resolve(&s, &settings(), &ptr, RecordType::PTR) {
        Resolution::Answer(a) => a,
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(&a.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "v6.default.svc.cluster.local."),
        "{a:?}"
    );
}
