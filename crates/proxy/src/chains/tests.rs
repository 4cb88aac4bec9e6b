//! Structural checks of the generated per-service objects: which maps point where, which
//! chains exist, what each chain does.

use std::net::Ipv4Addr;

use super::*;
use crate::model::{Endpoint, Protocol, ServicePort, ServicePortName, Snapshot};

pub(crate) fn spn(name: &str, port: &str, protocol: Protocol) -> ServicePortName {
    ServicePortName {
        namespace: "ns".into(),
        name: name.into(),
        port: port.into(),
        protocol,
    }
}

pub(crate) fn sp(cip: [u8; 4], port: u16) -> ServicePort {
    ServicePort {
        cluster_ip: cip.into(),
        port,
        node_port: None,
        external_ips: vec![],
        load_balancer_ips: vec![],
        load_balancer_source_ranges: vec![],
        affinity_timeout: None,
        external_policy_local: false,
        internal_policy_local: false,
        health_check_node_port: None,
    }
}

pub(crate) fn ep(ip: [u8; 4], port: u16, ready: bool, local: bool) -> Endpoint {
    Endpoint {
        ip: ip.into(),
        port,
        ready,
        serving: ready,
        terminating: false,
        local,
    }
}

pub(crate) fn ctx() -> RuleContext {
    RuleContext {
        cluster_cidrs: vec!["10.42.0.0/16".parse().unwrap()],
        masquerade_all: false,
        node_ips: vec![Ipv4Addr::new(192, 168, 50, 2)],
    }
}

fn el<'a>(st: &'a DesiredState, container: &str, key: &str) -> Option<&'a str> {
    st.elements
        .get(&(container.to_string(), key.to_string()))
        .map(|v| v.value.as_deref().unwrap_or("<set>"))
}

fn chain_with<'a>(st: &'a DesiredState, prefix: &str) -> Vec<(&'a String, &'a Vec<String>)> {
    st.chains
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .collect()
}

#[test]
fn cluster_ip_balances_across_ready_endpoints_only() {
    let web = spn("web", "http", Protocol::Tcp);
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), sp([10, 43, 0, 10], 80));
    snap.endpoints.insert(
        web.clone(),
        vec![
            ep([10, 42, 0, 2], 8080, true, false),
            ep([10, 42, 0, 3], 8080, true, false),
            ep([10, 42, 0, 4], 8080, false, false),
        ],
    );
    let g = generate(&snap, &ctx());
    let merged = g.state.merged();
    let st = &merged;
    let svc_chain = format!("service-{}", crate::names::service_base(&web));
    assert_eq!(
        el(st, "service-ips", "10.43.0.10 . tcp . 80"),
        Some(format!("goto {svc_chain}").as_str())
    );
    assert_eq!(el(st, "cluster-ips", "10.43.0.10"), Some("<set>"));
    assert!(st.elements.keys().all(|(c, _)| c != "no-endpoint-services"));
    let rules = &st.chains[&svc_chain];
    assert_eq!(
        rules[0],
        "ip daddr 10.43.0.10 ip saddr != 10.42.0.0/16 jump mark-for-masquerade"
    );
    assert!(
        rules[1].starts_with("numgen random mod 2 vmap { 0 : goto endpoint-"),
        "{rules:?}"
    );
    let eps = chain_with(st, "endpoint-");
    assert_eq!(eps.len(), 2, "the unready endpoint gets no chain");
    let dnats: Vec<&String> = eps.iter().map(|(_, r)| r.last().unwrap()).collect();
    assert!(dnats.contains(&&"meta l4proto tcp dnat to 10.42.0.2:8080".to_string()));
    assert!(dnats.contains(&&"meta l4proto tcp dnat to 10.42.0.3:8080".to_string()));
    for (_, r) in &eps {
        assert!(
            r[0].starts_with("ip saddr 10.42.0.") && r[0].ends_with("jump mark-for-masquerade"),
            "hairpin first: {r:?}"
        );
    }
    // Every chain referenced from a vmap exists.
    for rule in rules {
        for target in rule.split("goto ").skip(1) {
            let target = target.split([' ', '}', ',']).next().unwrap();
            assert!(st.chains.contains_key(target), "dangling {target}");
        }
    }
}

#[test]
fn no_ready_endpoints_means_reject_and_terminating_fallback() {
    let web = spn("web", "", Protocol::Tcp);
    let mut s = sp([10, 43, 0, 11], 80);
    s.node_port = Some(30080);
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    let g = generate(&snap, &ctx());
    assert_eq!(
        el(
            &g.state.merged(),
            "no-endpoint-services",
            "10.43.0.11 . tcp . 80"
        ),
        Some("goto reject-chain")
    );
    assert_eq!(
        el(&g.state.merged(), "no-endpoint-nodeports", "tcp . 30080"),
        Some("goto reject-chain")
    );
    assert!(
        g.state.merged().chains.is_empty(),
        "no chains without endpoints: {:?}",
        g.state.merged().chains.keys()
    );
    assert_eq!(
        g.state.elements[&(
            "no-endpoint-services".to_string(),
            "10.43.0.11 . tcp . 80".to_string()
        )]
            .comment
            .as_deref(),
        Some("ns/web")
    );

    // Only a serving-but-terminating endpoint: it is used.
    snap.endpoints.insert(
        web.clone(),
        vec![Endpoint {
            ip: [10, 42, 0, 9].into(),
            port: 80,
            ready: false,
            serving: true,
            terminating: true,
            local: false,
        }],
    );
    let g = generate(&snap, &ctx());
    assert!(el(&g.state.merged(), "service-ips", "10.43.0.11 . tcp . 80").is_some());
    assert!(
        el(
            &g.state.merged(),
            "no-endpoint-services",
            "10.43.0.11 . tcp . 80"
        )
        .is_none()
    );
}

#[test]
fn nodeport_lb_and_external_ips_go_through_the_masquerading_external_chain() {
    let web = spn("web", "http", Protocol::Tcp);
    let mut s = sp([10, 43, 0, 12], 80);
    s.node_port = Some(30080);
    s.load_balancer_ips = vec![[198, 51, 100, 7].into()];
    s.external_ips = vec![[192, 0, 2, 7].into()];
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    snap.endpoints
        .insert(web.clone(), vec![ep([10, 42, 1, 2], 8080, true, false)]);
    let g = generate(&snap, &ctx());
    let base = crate::names::service_base(&web);
    let ext = format!("external-{base}");
    assert_eq!(
        el(&g.state.merged(), "service-nodeports", "tcp . 30080"),
        Some(format!("goto {ext}").as_str())
    );
    assert_eq!(
        el(&g.state.merged(), "service-ips", "198.51.100.7 . tcp . 80"),
        Some(format!("goto {ext}").as_str())
    );
    assert_eq!(
        el(&g.state.merged(), "service-ips", "192.0.2.7 . tcp . 80"),
        Some(format!("goto {ext}").as_str())
    );
    assert_eq!(
        g.state.merged().chains[&ext],
        vec![
            "jump mark-for-masquerade".to_string(),
            format!("goto service-{base}")
        ]
    );
}

#[test]
fn external_traffic_policy_local_keeps_the_client_ip_and_drops_without_local_endpoints() {
    let web = spn("web", "", Protocol::Tcp);
    let mut s = sp([10, 43, 0, 13], 80);
    s.node_port = Some(30081);
    s.external_policy_local = true;
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    snap.endpoints.insert(
        web.clone(),
        vec![
            ep([10, 42, 0, 5], 80, true, true),
            ep([10, 42, 1, 5], 80, true, false),
        ],
    );
    let g = generate(&snap, &ctx());
    let base = crate::names::service_base(&web);
    let ext = g.state.merged().chains[&format!("external-{base}")].clone();
    assert!(
        !ext.contains(&"jump mark-for-masquerade".to_string()),
        "no unconditional masquerade: {ext:?}"
    );
    assert!(ext[0].starts_with(&format!("ip saddr 10.42.0.0/16 goto service-{base}")));
    assert!(ext[1].starts_with("fib saddr type local jump mark-for-masquerade"));
    assert_eq!(ext.last().unwrap(), &format!("goto local-{base}"));
    let local = g.state.merged().chains[&format!("local-{base}")].clone();
    assert!(
        local[0].starts_with("numgen random mod 1 vmap"),
        "only the local endpoint: {local:?}"
    );
    // The ClusterIP still uses every endpoint.
    assert!(
        g.state.merged().chains[&format!("service-{base}")][1].starts_with("numgen random mod 2")
    );

    // No local endpoint: external traffic is dropped (not rejected), ClusterIP still works.
    snap.endpoints
        .insert(web.clone(), vec![ep([10, 42, 1, 5], 80, true, false)]);
    let g = generate(&snap, &ctx());
    assert_eq!(
        el(&g.state.merged(), "no-endpoint-nodeports", "tcp . 30081"),
        Some("drop")
    );
    assert!(el(&g.state.merged(), "service-ips", "10.43.0.13 . tcp . 80").is_some());
    assert_eq!(g.no_local_external, 1);
}

#[test]
fn internal_traffic_policy_local_without_local_endpoints_drops_cluster_ip() {
    let web = spn("web", "", Protocol::Tcp);
    let mut s = sp([10, 43, 0, 14], 80);
    s.internal_policy_local = true;
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    snap.endpoints
        .insert(web.clone(), vec![ep([10, 42, 1, 5], 80, true, false)]);
    let g = generate(&snap, &ctx());
    assert_eq!(
        el(
            &g.state.merged(),
            "no-endpoint-services",
            "10.43.0.14 . tcp . 80"
        ),
        Some("drop")
    );
    assert_eq!(g.no_local_internal, 1);
    assert!(g.state.merged().chains.is_empty());
}

#[test]
fn session_affinity_uses_timed_sets_checked_before_balancing() {
    let web = spn("web", "", Protocol::Udp);
    let mut s = sp([10, 43, 0, 15], 53);
    s.affinity_timeout = Some(60);
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    snap.endpoints.insert(
        web.clone(),
        vec![
            ep([10, 42, 0, 2], 53, true, false),
            ep([10, 42, 0, 3], 53, true, false),
        ],
    );
    let g = generate(&snap, &ctx());
    assert_eq!(g.state.merged().sets.len(), 2);
    assert!(
        g.state
            .merged()
            .sets
            .values()
            .all(|b| b.contains("flags dynamic,timeout") && b.contains("timeout 60s"))
    );
    let svc =
        g.state.merged().chains[&format!("service-{}", crate::names::service_base(&web))].clone();
    assert!(
        svc[1].starts_with("ip saddr @affinity-") && svc[2].starts_with("ip saddr @affinity-"),
        "{svc:?}"
    );
    assert!(svc[3].starts_with("numgen random mod 2"));
    for (_, rules) in chain_with(&g.state.merged(), "endpoint-") {
        assert!(rules[1].starts_with("update @affinity-") && rules[1].ends_with("{ ip saddr }"));
        assert!(rules[2].starts_with("meta l4proto udp dnat to"));
    }
}

#[test]
fn load_balancer_source_ranges_build_a_firewall_chain() {
    let web = spn("web", "", Protocol::Tcp);
    let mut s = sp([10, 43, 0, 16], 80);
    s.node_port = Some(30090);
    s.load_balancer_ips = vec![[198, 51, 100, 9].into()];
    s.load_balancer_source_ranges = vec![
        "203.0.113.0/25".parse().unwrap(),
        "192.168.50.0/24".parse().unwrap(),
    ];
    let mut snap = Snapshot::default();
    snap.services.insert(web.clone(), s);
    snap.endpoints
        .insert(web.clone(), vec![ep([10, 42, 0, 2], 80, true, false)]);
    let g = generate(&snap, &ctx());
    let fw = format!("firewall-{}", crate::names::service_base(&web));
    assert_eq!(
        el(&g.state.merged(), "firewall-ips", "198.51.100.9 . tcp . 80"),
        Some(format!("goto {fw}").as_str())
    );
    assert_eq!(
        g.state.merged().chains[&fw],
        vec!["ip saddr != { 203.0.113.0/25, 192.168.50.0/24, 198.51.100.9 } drop".to_string()],
        "the node is in a range, so the LB IP itself is admitted"
    );
}

#[test]
fn a_nodeport_claimed_twice_keeps_the_first_owner() {
    let a = spn("a", "", Protocol::Tcp);
    let b = spn("b", "", Protocol::Tcp);
    let mut sa = sp([10, 43, 0, 20], 80);
    sa.node_port = Some(30100);
    let mut sb = sp([10, 43, 0, 21], 80);
    sb.node_port = Some(30100);
    let mut snap = Snapshot::default();
    snap.services.insert(a.clone(), sa);
    snap.services.insert(b.clone(), sb);
    snap.endpoints
        .insert(a.clone(), vec![ep([10, 42, 0, 2], 80, true, false)]);
    snap.endpoints
        .insert(b.clone(), vec![ep([10, 42, 0, 3], 80, true, false)]);
    let g = generate(&snap, &ctx());
    assert_eq!(
        el(&g.state.merged(), "service-nodeports", "tcp . 30100"),
        Some(format!("goto external-{}", crate::names::service_base(&a)).as_str())
    );
    assert_eq!(g.conflicts.len(), 1, "{:?}", g.conflicts);
    assert!(
        el(&g.state.merged(), "service-ips", "10.43.0.21 . tcp . 80").is_some(),
        "b's ClusterIP still works"
    );
}

#[test]
fn the_generator_reuses_unchanged_services() {
    let mut snap = Snapshot::default();
    for i in 0..3u8 {
        let name = spn(&format!("s{i}"), "", Protocol::Tcp);
        snap.services.insert(name.clone(), sp([10, 43, 2, i], 80));
        snap.endpoints
            .insert(name, vec![ep([10, 42, 0, 10 + i], 80, true, false)]);
    }
    let mut generator = Generator::new(ctx());
    let first = generator.generate(&snap);
    assert_eq!(first.regenerated, 3);
    let same = generator.generate(&snap);
    assert_eq!(same.regenerated, 0);
    assert_eq!(crate::script::partial("kp", &first.state, &same.state), "");
    snap.endpoints
        .get_mut(&spn("s1", "", Protocol::Tcp))
        .unwrap()[0]
        .ready = false;
    let changed = generator.generate(&snap);
    assert_eq!(changed.regenerated, 1);
    let script = crate::script::partial("kp", &same.state, &changed.state);
    assert!(
        script.contains("/s1/") && !script.contains("/s0/") && !script.contains("/s2/"),
        "{script}"
    );
    assert!(script.contains("add element ip kp no-endpoint-services { 10.43.2.1 . tcp . 80 comment \"ns/s1\" : goto reject-chain }"));
}
