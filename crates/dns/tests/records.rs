//! Cluster records end to end: Services, EndpointSlices and Namespaces created in a real
//! in-process apiserver, answered by the DNS server over UDP and TCP.

use crate::common;

use std::time::Duration;

use common::{Env, addresses, tcp_query, udp_query};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(1);

async fn setup(env: &Env) {
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "10.43.0.50",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    }))
    .await;
    env.create::<Service>(json!({
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"},
                 "ports": [{"name": "mysql", "port": 3306, "protocol": "TCP"}]}
    }))
    .await;
    env.create::<EndpointSlice>(json!({
        "metadata": {"name": "db-abc", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "ports": [{"name": "mysql", "port": 3306, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": ["10.42.0.10"], "hostname": "db-0", "conditions": {"ready": true}},
            {"addresses": ["10.42.0.11"], "hostname": "db-1", "conditions": {"ready": true}},
            {"addresses": ["10.42.0.12"], "hostname": "db-2", "conditions": {"ready": false}}
        ]
    }))
    .await;
    env.create::<Service>(json!({
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "api.example.com"}
    }))
    .await;
}

#[tokio::test]
async fn every_record_kind_over_udp_and_tcp() {
    let env = Env::start().await;
    setup(&env).await;
    // Wait until the last object is visible, then check everything over both transports.
    env.until(
        "ext.default.svc.cluster.local.",
        RecordType::A,
        WAIT * 5,
        |m| !m.answers.is_empty(),
    )
    .await;
    for tcp in [false, true] {
        let ask = |name: &'static str, t: RecordType| {
            let addr = env.addr;
            async move {
                if tcp {
                    tcp_query(addr, name, t).await
                } else {
                    udp_query(addr, name, t).await
                }
            }
        };
        // ClusterIP.
        let m = ask("web.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(addresses(&m), vec!["10.43.0.50"]);
        assert_eq!(m.answers[0].ttl, 5);
        // Headless: ready endpoints only.
        let m = ask("db.default.svc.cluster.local.", RecordType::A).await;
        let mut ips = addresses(&m);
        ips.sort();
        assert_eq!(ips, vec!["10.42.0.10", "10.42.0.11"]);
        // StatefulSet-style hostname.
        let m = ask("db-1.db.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(addresses(&m), vec!["10.42.0.11"]);
        // ExternalName: CNAME, then the target resolved upstream.
        let m = ask("ext.default.svc.cluster.local.", RecordType::A).await;
        assert!(
            matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "api.example.com."),
            "{m}"
        );
        assert_eq!(addresses(&m), vec!["192.0.2.1"]);
        // SRV for a named port: ClusterIP and headless.
        let m = ask("_http._tcp.web.default.svc.cluster.local.", RecordType::SRV).await;
        let RData::SRV(s) = &m.answers[0].data else {
            panic!("{m}")
        };
        assert_eq!(
            (s.port, s.target.to_ascii().as_str()),
            (80, "web.default.svc.cluster.local.")
        );
        assert_eq!(addresses_of_additionals(&m), vec!["10.43.0.50"]);
        let m = ask("_mysql._tcp.db.default.svc.cluster.local.", RecordType::SRV).await;
        let mut targets: Vec<String> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some(format!("{} {}", s.port, s.target)),
                _ => None,
            })
            .collect();
        targets.sort();
        assert_eq!(
            targets,
            vec![
                "3306 db-0.db.default.svc.cluster.local.",
                "3306 db-1.db.default.svc.cluster.local."
            ]
        );
        // Pods (insecure): the name spells the address.
        let m = ask("10-42-0-99.default.pod.cluster.local.", RecordType::A).await;
        assert_eq!(addresses(&m), vec!["10.42.0.99"]);
        // PTR for a ClusterIP and an endpoint.
        let m = ask("50.0.43.10.in-addr.arpa.", RecordType::PTR).await;
        assert!(
            matches!(&m.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "web.default.svc.cluster.local."),
            "{m}"
        );
        let m = ask("10.0.42.10.in-addr.arpa.", RecordType::PTR).await;
        assert!(
            matches!(&m.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "db-0.db.default.svc.cluster.local."),
            "{m}"
        );
        // A reverse miss falls through to the upstream.
        let m = ask("1.2.0.192.in-addr.arpa.", RecordType::PTR).await;
        assert!(
            matches!(&m.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "host.example.com."),
            "{m}"
        );
        // NXDOMAIN with the SOA, NODATA with the SOA.
        let m = ask("nope.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative);
        assert_soa(&m);
        let m = ask("web.default.svc.cluster.local.", RecordType::AAAA).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_soa(&m);
        // dns-version.
        let m = ask("dns-version.cluster.local.", RecordType::TXT).await;
        assert!(
            matches!(&m.answers[0].data, RData::TXT(t) if &*t.txt_data[0] == b"1.1.0"),
            "{m}"
        );
    }
    env.stop().await;
}

fn addresses_of_additionals(m: &hickory_proto::op::Message) -> Vec<String> {
    m.additionals
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

fn assert_soa(m: &hickory_proto::op::Message) {
    assert_eq!(m.authorities.len(), 1, "{m}");
    let RData::SOA(soa) = &m.authorities[0].data else {
        panic!("{m}")
    };
    assert_eq!(m.authorities[0].name.to_ascii(), "cluster.local.");
    assert_eq!(m.authorities[0].ttl, 5);
    assert_eq!(soa.mname.to_ascii(), "ns.dns.cluster.local.");
    assert_eq!(soa.rname.to_ascii(), "hostmaster.cluster.local.");
    assert_eq!(soa.minimum, 5);
}

#[tokio::test]
async fn changes_are_visible_within_a_second() {
    let env = Env::start().await;
    let svc: Service = env
        .create(json!({
            "metadata": {"name": "late"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}
        }))
        .await;
    let ip = svc.spec.unwrap().cluster_ip.unwrap();
    let (_, took) = env
        .until(
            "late.default.svc.cluster.local.",
            RecordType::A,
            WAIT,
            |m| addresses(m) == vec![ip.clone()],
        )
        .await;
    eprintln!("new Service answered after {took:?}");

    // A headless Service gains an endpoint, then the endpoint turns not ready.
    env.create::<Service>(json!({
        "metadata": {"name": "hl"}, "spec": {"clusterIP": "None"}
    }))
    .await;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "hl-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "hl"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.3.1"], "conditions": {"ready": true}}]
    });
    env.create::<EndpointSlice>(slice.clone()).await;
    let (_, took) = env
        .until("hl.default.svc.cluster.local.", RecordType::A, WAIT, |m| {
            addresses(m) == vec!["10.42.3.1"]
        })
        .await;
    eprintln!("new endpoint answered after {took:?}");
    let slices: Api<EndpointSlice> = Api::namespaced(env.client.clone(), "default");
    let mut current = slices.get("hl-1").await.unwrap();
    current.endpoints[0].conditions.as_mut().unwrap().ready = Some(false);
    slices
        .replace("hl-1", &PostParams::default(), &current)
        .await
        .unwrap();
    env.until("hl.default.svc.cluster.local.", RecordType::A, WAIT, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    })
    .await;

    // Deleting the Service: NXDOMAIN.
    env.delete::<Service>("late").await;
    let (_, took) = env
        .until(
            "late.default.svc.cluster.local.",
            RecordType::A,
            WAIT,
            |m| m.metadata.response_code == ResponseCode::NXDomain,
        )
        .await;
    eprintln!("deleted Service NXDOMAIN after {took:?}");

    // A new namespace makes its names NODATA instead of NXDOMAIN.
    let m = udp_query(env.addr, "team.svc.cluster.local.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    Api::<Namespace>::all(env.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    env.until("team.svc.cluster.local.", RecordType::A, WAIT, |m| {
        m.metadata.response_code == ResponseCode::NoError
    })
    .await;
    env.stop().await;
}
