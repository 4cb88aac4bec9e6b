//! The proxy programming a real kernel: a node network namespace with pods behind a bridge,
//! an outside client, Services and EndpointSlices in a real apiserver, real TCP/UDP traffic.
//! Needs root (creates network namespaces).

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use rkube_proxy::SyncStats;
use serde_json::json;

fn distinct(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ip_node_port_load_balancer_and_deletion() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(2);
    topo.tcp_server(0, 8080, "pod-a");
    topo.tcp_server(1, 8080, "pod-b");
    let svc = cluster
        .service("web", json!({"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            "externalIPs": ["203.0.113.50"]}))
        .await;
    cluster.set_lb_ingress("web", &["198.51.100.10"]).await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "other"), endpoint(1, true, "other")]),
            json!([{"name": "http", "port": 8080}]),
        )
        .await;
    let cip = cluster_ip(&svc);
    let np = node_port(&svc);
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;
    let want: BTreeSet<String> = ["pod-a".to_string(), "pod-b".to_string()].into();

    eventually(Duration::from_secs(10), "ClusterIP from the client", || {
        tcp_get(&topo.client, cip, 80).is_ok()
    })
    .await;
    let lb: Ipv4Addr = "198.51.100.10".parse().unwrap();
    let ext: Ipv4Addr = "203.0.113.50".parse().unwrap();
    eventually(Duration::from_secs(10), "LB IP programmed", || {
        tcp_get(&topo.client, lb, 80).is_ok()
    })
    .await;
    for (from, addr, port, what) in [
        (&topo.client, cip, 80, "ClusterIP from outside"),
        (&topo.node, cip, 80, "ClusterIP from the node"),
        (&topo.pods[0], cip, 80, "ClusterIP from a pod"),
        (&topo.client, NODE_IP, np, "NodePort on the node address"),
        (
            &topo.node,
            NODE_IP,
            np,
            "NodePort on the node address from the node",
        ),
        (&topo.node, Ipv4Addr::LOCALHOST, np, "NodePort on 127.0.0.1"),
        (&topo.client, lb, 80, "LoadBalancer IP"),
        (&topo.client, ext, 80, "external IP"),
    ] {
        let seen = backends(from, addr, port, 24);
        assert_eq!(distinct(&seen), want, "{what}: {seen:?}");
    }
    // Off-cluster traffic to the ClusterIP is masqueraded (the pod sees the node's bridge
    // address); NodePort traffic too.
    let answer = tcp_get(&topo.client, cip, 80).unwrap();
    assert!(answer.contains(&format!("peer={BRIDGE_IP}:")), "{answer}");
    // Pod-to-ClusterIP keeps the source (no masquerade inside the cluster network).
    let answer = tcp_get(&topo.pods[0], cip, 80).unwrap();
    assert!(
        answer.contains(&format!("peer={}:", Topology::pod_ip(0)))
            || answer.contains(&format!("peer={BRIDGE_IP}:")),
        "{answer}"
    );

    // A port the Service doesn't have is rejected, not left to time out.
    let t = Instant::now();
    let err = tcp_get(&topo.client, cip, 81).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(t.elapsed() < Duration::from_secs(1));

    // Deleting the Service removes every trace of it.
    assert!(list_table(&topo).contains("default/web/tcp/http"));
    let before = proxy.sync_generation();
    cluster.delete_service("web").await;
    assert!(proxy.wait_synced(before, Duration::from_secs(5)).await);
    eventually(
        Duration::from_secs(5),
        "rules of the deleted Service gone",
        || {
            let table = list_table(&topo);
            !table.contains("default/web/")
                && !table.contains(&cip.to_string())
                && !table.contains(&np.to_string())
        },
    )
    .await;
    assert!(tcp_get(&topo.client, cip, 80).is_err());
    assert_eq!(proxy.stats().failures, 0, "{:?}", proxy.stats());
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_services_without_endpoints() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(2);
    topo.tcp_server(0, 8080, "pod-a");
    topo.tcp_server(1, 8080, "pod-b");
    let web = cluster
        .service(
            "web",
            json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}),
        )
        .await;
    let empty = cluster
        .service(
            "empty",
            json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}),
        )
        .await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "x"), endpoint(1, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;
    let cip = cluster_ip(&web);
    eventually(Duration::from_secs(10), "both backends", || {
        distinct(&backends(&topo.client, cip, 80, 16)).len() == 2
    })
    .await;

    // No endpoints: refused at once (ICMP reject), on the ClusterIP and on the NodePort.
    for (from, addr, port) in [
        (&topo.client, cluster_ip(&empty), 80),
        (&topo.node, cluster_ip(&empty), 80),
        (&topo.client, NODE_IP, node_port(&empty)),
        (&topo.node, Ipv4Addr::LOCALHOST, node_port(&empty)),
    ] {
        let t = Instant::now();
        let err = tcp_get(from, addr, port).unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{addr}:{port}: {err}"
        );
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "refusal took {:?}",
            t.elapsed()
        );
    }

    // pod-b turns unready: within a second it gets no new connections.
    let changed = Instant::now();
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "x"), endpoint(1, false, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    let took = eventually(Duration::from_secs(1), "pod-b out of rotation", || {
        backends(&topo.client, cip, 80, 12)
            .iter()
            .all(|b| b == "pod-a")
    })
    .await;
    let seen = backends(&topo.client, cip, 80, 30);
    assert!(seen.iter().all(|b| b == "pod-a"), "{seen:?}");
    // That was an incremental sync touching only this service's chains. The proxy records a
    // sync once `nft` has exited, which traffic can beat: wait for the record.
    eventually(Duration::from_secs(2), "the sync recorded", || {
        proxy.stats().partial_syncs > 0
    })
    .await;
    let stats = proxy.stats();
    assert!(
        !stats.last_was_full && stats.last_script_lines > 0 && stats.last_script_lines < 15,
        "{stats:?}"
    );
    eprintln!(
        "unready endpoint out of rotation after {:?} (apiserver write + watch + sync: {:?})",
        took,
        changed.elapsed()
    );

    // Every endpoint unready: rejected again; back to ready: served again.
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, false, "x"), endpoint(1, false, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    eventually(
        Duration::from_secs(2),
        "refused without ready endpoints",
        || {
            tcp_get(&topo.client, cip, 80)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        },
    )
    .await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    eventually(Duration::from_secs(2), "served again", || {
        tcp_get(&topo.client, cip, 80).is_ok()
    })
    .await;

    // Terminating-but-serving endpoints are used only when nothing is ready.
    let terminating = json!({"addresses": [Topology::pod_ip(1).to_string()], "conditions": {"ready": false, "serving": true, "terminating": true}});
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "x"), terminating.clone()]),
            json!([{"port": 8080}]),
        )
        .await;
    eventually(Duration::from_secs(2), "only the ready one", || {
        backends(&topo.client, cip, 80, 12)
            .iter()
            .all(|b| b == "pod-a")
    })
    .await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, false, "x"), terminating]),
            json!([{"port": 8080}]),
        )
        .await;
    eventually(Duration::from_secs(2), "fallback to terminating", || {
        backends(&topo.client, cip, 80, 8)
            .iter()
            .all(|b| b == "pod-b")
    })
    .await;

    assert_eq!(proxy.stats().failures, 0);
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_service_and_stale_conntrack_flush() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(2);
    topo.udp_server(0, 5353, "pod-a");
    topo.udp_server(1, 5353, "pod-b");
    let dns = cluster
        .service(
            "dns",
            json!({"ports": [{"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}]}),
        )
        .await;
    let cip = cluster_ip(&dns);
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;

    // Before any endpoint: rejected. The first endpoint's arrival flushes whatever conntrack
    // holds for the service, so the same client flow reaches it at once.
    assert!(udp_ask(&topo.client, 40053, cip, 53).is_err());
    cluster
        .slice(
            "dns-1",
            "dns",
            json!([endpoint(0, true, "x")]),
            json!([{"name": "dns", "port": 5353, "protocol": "UDP"}]),
        )
        .await;
    eventually(
        Duration::from_secs(3),
        "UDP reaches pod-a from the same source port",
        || udp_ask(&topo.client, 40053, cip, 53).is_ok_and(|a| a.starts_with("pod-a")),
    )
    .await;

    // pod-a is replaced by pod-b while pod-a still runs: without the flush, the conntrack
    // entry would keep sending this flow to pod-a.
    cluster
        .slice(
            "dns-1",
            "dns",
            json!([endpoint(1, true, "x")]),
            json!([{"name": "dns", "port": 5353, "protocol": "UDP"}]),
        )
        .await;
    eventually(Duration::from_secs(3), "same flow moves to pod-b", || {
        udp_ask(&topo.client, 40053, cip, 53).is_ok_and(|a| a.starts_with("pod-b"))
    })
    .await;
    for _ in 0..5 {
        assert!(
            udp_ask(&topo.client, 40053, cip, 53)
                .unwrap()
                .starts_with("pod-b")
        );
    }
    assert!(
        proxy
            .metrics_text()
            .contains("kubeproxy_conntrack_reconciler_deleted_entries_total")
    );
    let deleted: f64 = proxy
        .metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix("kubeproxy_conntrack_reconciler_deleted_entries_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(deleted >= 1.0, "flushed entries counted: {deleted}");
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ip_session_affinity_sticks() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(3);
    for i in 0..3 {
        topo.tcp_server(i, 8080, &format!("pod-{i}"));
    }
    let sticky = cluster
        .service("sticky", json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "ports": [{"port": 80, "targetPort": 8080}]}))
        .await;
    cluster
        .slice(
            "sticky-1",
            "sticky",
            json!([
                endpoint(0, true, "x"),
                endpoint(1, true, "x"),
                endpoint(2, true, "x")
            ]),
            json!([{"port": 8080}]),
        )
        .await;
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;
    let cip = cluster_ip(&sticky);
    eventually(Duration::from_secs(10), "served", || {
        tcp_get(&topo.client, cip, 80).is_ok()
    })
    .await;
    let seen = backends(&topo.client, cip, 80, 30);
    assert_eq!(
        distinct(&seen).len(),
        1,
        "one client, one backend: {seen:?}"
    );
    // Another client address (a pod) may land elsewhere but sticks too.
    let seen = backends(&topo.pods[0], cip, 80, 20);
    assert_eq!(distinct(&seen).len(), 1, "{seen:?}");
    let table = list_table(&topo);
    assert!(
        table.contains("flags dynamic,timeout") && table.contains("timeout 1m"),
        "{table}"
    );
    // The affinity set remembers the client with its timeout.
    assert!(
        table.contains(&format!("{CLIENT_IP} timeout 1m"))
            || table.contains(&format!("{CLIENT_IP} expires")),
        "{table}"
    );
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_traffic_policy_local_preserves_the_client_ip() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(1);
    topo.tcp_server(0, 8080, "local-pod");
    // The endpoint at 10.42.9.9 "runs on another node": unreachable here, and Local policy
    // must never send external traffic there.
    let local = cluster
        .service("local", json!({"type": "NodePort", "externalTrafficPolicy": "Local", "ports": [{"port": 80, "targetPort": 8080}]}))
        .await;
    let remote_ep = json!({"addresses": ["10.42.9.9"], "nodeName": "node-b"});
    cluster
        .slice(
            "local-1",
            "local",
            json!([endpoint(0, true, NODE), remote_ep.clone()]),
            json!([{"port": 8080}]),
        )
        .await;
    let cluster_policy = cluster
        .service(
            "clusterpol",
            json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}),
        )
        .await;
    cluster
        .slice(
            "clusterpol-1",
            "clusterpol",
            json!([endpoint(0, true, NODE)]),
            json!([{"port": 8080}]),
        )
        .await;
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;
    let np = node_port(&local);
    eventually(Duration::from_secs(10), "served", || {
        tcp_get(&topo.client, NODE_IP, np).is_ok()
    })
    .await;
    for _ in 0..20 {
        let a = tcp_get(&topo.client, NODE_IP, np).expect("only the local endpoint is used");
        assert!(
            a.starts_with("local-pod peer=192.168.77.2:"),
            "client IP preserved: {a}"
        );
    }
    // Cluster policy masquerades the same traffic.
    let a = tcp_get(&topo.client, NODE_IP, node_port(&cluster_policy)).unwrap();
    assert!(
        a.starts_with(&format!("local-pod peer={BRIDGE_IP}:")),
        "masqueraded: {a}"
    );
    // Without a local endpoint, external traffic is dropped (not rejected, not forwarded).
    cluster
        .slice(
            "local-1",
            "local",
            json!([remote_ep]),
            json!([{"port": 8080}]),
        )
        .await;
    eventually(Duration::from_secs(3), "dropped", || {
        tcp_get(&topo.client, NODE_IP, np).is_err_and(|e| {
            e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock
        })
    })
    .await;
    assert!(proxy.metrics_text().contains(
        "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"} 1"
    ));

    // internalTrafficPolicy Local: the ClusterIP uses only this node's endpoint.
    let itp = cluster
        .service(
            "itp",
            json!({"internalTrafficPolicy": "Local", "ports": [{"port": 80, "targetPort": 8080}]}),
        )
        .await;
    cluster
        .slice(
            "itp-1",
            "itp",
            json!([endpoint(0, true, NODE), {"addresses": ["10.42.9.9"], "nodeName": "node-b"}]),
            json!([{"port": 8080}]),
        )
        .await;
    let icip = cluster_ip(&itp);
    eventually(Duration::from_secs(3), "itp served", || {
        tcp_get(&topo.pods[0], icip, 80).is_ok()
    })
    .await;
    for _ in 0..10 {
        assert!(
            tcp_get(&topo.pods[0], icip, 80)
                .unwrap()
                .starts_with("local-pod")
        );
    }
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hairpin_through_the_service_even_with_a_competing_iptables_rule() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(2);
    topo.tcp_server(0, 8080, "pod-a");
    topo.tcp_server(1, 8080, "pod-b");
    // The CNI bridge plugin's pitfall (RUNTIME.md §4): an iptables-nft nat POSTROUTING rule
    // accepting pod-network traffic before any masquerade. Our own table's chain still runs.
    in_ns(
        &topo.node,
        &[
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "10.42.0.0/16",
            "-d",
            "10.42.0.0/16",
            "-j",
            "ACCEPT",
        ],
    );
    let web = cluster
        .service("web", json!({"ports": [{"port": 80, "targetPort": 8080}]}))
        .await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, NODE), endpoint(1, true, NODE)]),
            json!([{"port": 8080}]),
        )
        .await;
    let proxy = start_proxy(&cluster, topo.proxy_config()).await;
    let cip = cluster_ip(&web);
    eventually(Duration::from_secs(10), "served", || {
        tcp_get(&topo.pods[0], cip, 80).is_ok()
    })
    .await;
    let answers: Vec<String> = (0..30)
        .map(|_| tcp_get(&topo.pods[0], cip, 80).expect("hairpin works"))
        .collect();
    let to_self: Vec<&String> = answers.iter().filter(|a| a.starts_with("pod-a")).collect();
    assert!(
        !to_self.is_empty(),
        "some requests reach the caller itself: {answers:?}"
    );
    for a in to_self {
        assert!(
            a.contains(&format!("peer={BRIDGE_IP}:")),
            "hairpin is masqueraded: {a}"
        );
    }
    proxy.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_traffic_and_resync_repairs_tampering() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(2);
    topo.tcp_server(0, 8080, "pod-a");
    topo.tcp_server(1, 8080, "pod-b");
    let web = cluster
        .service(
            "web",
            json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}),
        )
        .await;
    cluster
        .slice(
            "web-1",
            "web",
            json!([endpoint(0, true, "x"), endpoint(1, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    let cip = cluster_ip(&web);
    let mut config = topo.proxy_config();
    config.sync_period = Duration::from_secs(1);
    let proxy = start_proxy(&cluster, config.clone()).await;
    eventually(Duration::from_secs(10), "served", || {
        tcp_get(&topo.client, cip, 80).is_ok()
    })
    .await;

    // Stopped: the rules stay and keep working.
    proxy.stop().await;
    assert_eq!(distinct(&backends(&topo.client, cip, 80, 16)).len(), 2);
    // A change while no proxy runs, then a new proxy: it starts with a full sync that
    // picks the change up and removes what is stale.
    cluster.delete_service("web").await;
    let web2 = cluster
        .service("web2", json!({"ports": [{"port": 80, "targetPort": 8080}]}))
        .await;
    cluster
        .slice(
            "web2-1",
            "web2",
            json!([endpoint(1, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    let proxy = start_proxy(&cluster, config).await;
    let cip2 = cluster_ip(&web2);
    eventually(Duration::from_secs(5), "new service served", || {
        tcp_get(&topo.client, cip2, 80).is_ok()
    })
    .await;
    let table = list_table(&topo);
    assert!(
        !table.contains("default/web/"),
        "stale chains of the deleted service removed:\n{table}"
    );
    assert!(proxy.stats().full_syncs >= 1);

    // Someone deletes our table: the next periodic sync notices and rewrites it.
    in_ns(&topo.node, &["nft", "delete", "table", "ip", "kube-proxy"]);
    let took = eventually(Duration::from_secs(5), "table rewritten", || {
        list_table(&topo).contains("default/web2/")
    })
    .await;
    assert_eq!(
        distinct(&backends(&topo.client, cip2, 80, 4)).len(),
        1,
        "served again"
    );
    eprintln!("table repaired after {took:?}");
    // And a flushed chain (table still there) is repaired too.
    let fulls = proxy.stats().full_syncs;
    in_ns(
        &topo.node,
        &[
            "nft",
            "flush",
            "chain",
            "ip",
            "kube-proxy",
            "filter-forward",
        ],
    );
    in_ns(
        &topo.node,
        &["nft", "flush", "chain", "ip", "kube-proxy", "filter-output"],
    );
    in_ns(
        &topo.node,
        &[
            "nft",
            "delete",
            "chain",
            "ip",
            "kube-proxy",
            "cluster-ips-check",
        ],
    );
    eventually(
        Duration::from_secs(5),
        "full resync after chain deletion",
        || proxy.stats().full_syncs > fulls,
    )
    .await;
    assert!(list_table(&topo).contains("chain cluster-ips-check"));
    proxy.stop().await;
    rkube_proxy::cleanup("kube-proxy", Some(&topo.node_path()))
        .await
        .unwrap();
    assert!(list_table(&topo).is_empty(), "cleanup deletes the table");
    rkube_proxy::cleanup("kube-proxy", Some(&topo.node_path()))
        .await
        .expect("cleanup of nothing is fine");
    cluster.stop().await;
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_services_nft_failures_and_metrics() {
    let cluster = Cluster::start().await;
    let topo = Topology::new(1);
    topo.tcp_server(0, 8080, "pod-a");
    // Odd inputs next to a good Service: none of them may stop it from being served.
    cluster
        .service(
            "extname",
            json!({"type": "ExternalName", "externalName": "example.com"}),
        )
        .await;
    cluster
        .service(
            "headless",
            json!({"clusterIP": "None", "ports": [{"port": 80}]}),
        )
        .await;
    cluster
        .service("mixed", json!({"ports": [{"name": "sctp", "port": 9, "protocol": "SCTP"}, {"name": "tcp", "port": 80, "targetPort": 8080}]}))
        .await;
    cluster
        .slice(
            "mixed-1",
            "mixed",
            json!([endpoint(0, true, "x")]),
            json!([{"name": "sctp", "port": 9, "protocol": "SCTP"}, {"name": "tcp", "port": 8080}]),
        )
        .await;
    cluster
        .slice(
            "orphan-1",
            "no-such-service",
            json!([endpoint(0, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    let good = cluster
        .service("good", json!({"ports": [{"port": 80, "targetPort": 8080}]}))
        .await;
    cluster
        .slice(
            "good-1",
            "good",
            json!([endpoint(0, true, "x")]),
            json!([{"port": 8080}]),
        )
        .await;

    // nft through a wrapper that fails transactions while a flag file exists.
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("fail");
    let wrapper = dir.path().join("nft");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nif [ \"$1\" = \"-f\" ] && [ -e {} ]; then echo 'Error: injected failure' >&2; exit 1; fi\nexec nft \"$@\"\n", flag.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut config = topo.proxy_config();
    config.nft_path = wrapper;
    config.sync_period = Duration::from_secs(2);
    let proxy = start_proxy(&cluster, config).await;
    assert_eq!(proxy.stats().failures, 0, "{:?}", proxy.stats());
    assert!(proxy.healthy());
    for svc in ["good", "mixed"] {
        let cip = cluster_ip(&cluster.services().get(svc).await.unwrap());
        eventually(Duration::from_secs(5), svc, || {
            tcp_get(&topo.client, cip, 80).is_ok_and(|a| a.starts_with("pod-a"))
        })
        .await;
    }

    // A slice update carrying a trigger time is measured from that time to rules-in-kernel.
    let before = proxy.sync_generation();
    cluster
        .slice(
            "good-1",
            "good",
            json!([endpoint(0, true, "x"), endpoint(1, false, "x")]),
            json!([{"port": 8080}]),
        )
        .await;
    assert!(proxy.wait_synced(before, Duration::from_secs(5)).await);
    let text = proxy.metrics_text();
    assert!(
        metric(
            &text,
            "kubeproxy_network_programming_duration_seconds_count"
        ) >= 1.0,
        "{text}"
    );
    assert!(metric(&text, "kubeproxy_sync_proxy_rules_duration_seconds_count") >= 2.0);
    assert!(
        metric(
            &text,
            "kubeproxy_sync_full_proxy_rules_duration_seconds_count"
        ) >= 1.0
    );
    assert!(metric(&text, "kubeproxy_sync_proxy_rules_last_timestamp_seconds") > 1.7e9);
    assert!(metric(&text, "kubeproxy_sync_proxy_rules_endpoint_changes_total") >= 1.0);
    assert_eq!(
        metric(
            &text,
            "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"
        ),
        0.0
    );

    // nft fails: counted, retried with backoff, and the next success programs the change.
    std::fs::write(&flag, "").unwrap();
    cluster.delete_service("mixed").await;
    eventually(Duration::from_secs(5), "a failed sync", || {
        proxy.stats().failures >= 2
    })
    .await;
    let stats = proxy.stats();
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("injected failure"),
        "{stats:?}"
    );
    assert!(
        metric(
            &proxy.metrics_text(),
            "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"
        ) >= 2.0
    );
    assert!(
        list_table(&topo).contains("default/mixed/"),
        "nothing applied while nft fails"
    );
    let good_ip = cluster_ip(&good);
    assert!(
        tcp_get(&topo.client, good_ip, 80).is_ok(),
        "old rules keep working"
    );
    let synced = |s: SyncStats| s.full_syncs + s.partial_syncs;
    let before = synced(proxy.stats());
    std::fs::remove_file(&flag).unwrap();
    eventually(Duration::from_secs(5), "recovered", || {
        !list_table(&topo).contains("default/mixed/")
    })
    .await;
    assert!(tcp_get(&topo.client, good_ip, 80).is_ok());
    // The sync is recorded once `nft` has exited, which the table listing can beat.
    eventually(Duration::from_secs(2), "the recovery recorded", || {
        synced(proxy.stats()) > before
    })
    .await;
    assert!(proxy.stats().last_was_full, "recovery is a full sync");
    proxy.stop().await;
    cluster.stop().await;
}
