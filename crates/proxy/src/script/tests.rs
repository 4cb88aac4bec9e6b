//! Checks of the rendered transactions: the skeleton's hooks, a full sync's cleanup of
//! leftovers, and that a partial sync touches only what changed, in a valid order.

use super::*;
use crate::chains::generate;
use crate::chains::tests::{ctx, ep, sp, spn};
use crate::model::{Protocol, Snapshot};

fn skeleton() -> Skeleton {
    Skeleton {
        table: "kp".into(),
        mark: 0x4000,
        service_cidrs: vec!["10.43.0.0/16".parse().unwrap()],
        nodeports: NodePortAddresses::All,
    }
}

fn snapshot(n: usize) -> Snapshot {
    let mut snap = Snapshot::default();
    for i in 0..n {
        let name = spn(&format!("svc{i}"), "http", Protocol::Tcp);
        let mut s = sp([10, 43, 1, i as u8], 80);
        s.node_port = Some(30000 + i as u16);
        snap.services.insert(name.clone(), s);
        snap.endpoints.insert(
            name,
            vec![
                ep([10, 42, 0, 2 + i as u8], 8080, true, false),
                ep([10, 42, 1, 2 + i as u8], 8080, true, false),
            ],
        );
    }
    snap
}

#[test]
fn skeleton_hooks_every_path_like_upstream() {
    let s = full(&skeleton(), &TableState::default(), &Existing::default());
    for line in [
        "add table ip kp { comment \"rules for kube-proxy\" ; }",
        "add chain ip kp nat-prerouting { type nat hook prerouting priority -100 ; }",
        "add chain ip kp nat-output { type nat hook output priority -100 ; }",
        "add chain ip kp nat-postrouting { type nat hook postrouting priority 100 ; }",
        "add rule ip kp nat-prerouting jump services",
        "add rule ip kp nat-output jump services",
        "add rule ip kp nat-postrouting jump masquerading",
        "add rule ip kp services ip daddr . meta l4proto . th dport vmap @service-ips",
        "add rule ip kp services fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        "add rule ip kp filter-input ct state new jump nodeport-endpoints-check",
        "add rule ip kp filter-output ct state new jump service-endpoints-check",
        "add rule ip kp filter-forward ct state new jump cluster-ips-check",
        "add rule ip kp mark-for-masquerade mark set mark or 0x00004000",
        "add rule ip kp masquerading mark and 0x00004000 == 0 return",
        "add rule ip kp masquerading masquerade fully-random",
        "add rule ip kp reject-chain reject",
        "add rule ip kp cluster-ips-check ip daddr { 10.43.0.0/16 } drop comment \"Drop traffic to unallocated ClusterIPs\"",
        "delete set ip kp nodeport-ips",
    ] {
        assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
    }
    let restricted = Skeleton {
        nodeports: NodePortAddresses::Only(vec!["192.168.50.2".parse().unwrap()]),
        ..skeleton()
    };
    let s = full(&restricted, &TableState::default(), &Existing::default());
    assert!(s.contains("add rule ip kp services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"));
    assert!(s.contains("add element ip kp nodeport-ips { 192.168.50.2 }"));
    assert!(!s.contains("delete set ip kp nodeport-ips"));
}

#[test]
fn full_sync_deletes_leftover_service_chains_and_affinity_sets_only() {
    let g = generate(&snapshot(1), &ctx());
    let existing = Existing {
        chains: [
            "services",
            "service-OLD00000-ns/gone/tcp/http",
            "endpoint-OLD11111-ns/gone/tcp/http__10.0.0.1/80",
        ]
        .map(String::from)
        .into(),
        sets: ["affinity-OLD-ns/gone/tcp/__10.0.0.1/80", "cluster-ips"]
            .map(String::from)
            .into(),
    };
    let s = full(&skeleton(), &g.state, &existing);
    assert!(s.contains("delete chain ip kp service-OLD00000-ns/gone/tcp/http\n"));
    assert!(s.contains("delete chain ip kp endpoint-OLD11111-ns/gone/tcp/http__10.0.0.1/80\n"));
    assert!(s.contains("delete set ip kp affinity-OLD-ns/gone/tcp/__10.0.0.1/80\n"));
    assert!(!s.contains("delete chain ip kp services"));
    assert!(!s.contains("delete set ip kp cluster-ips"));
    // The flushes of maps come before the deletions that need them unreferenced.
    let flush = s.find("flush map ip kp service-ips").unwrap();
    let delete = s.find("delete chain ip kp service-OLD").unwrap();
    assert!(flush < delete);
}

#[test]
fn partial_sync_touches_only_changed_services() {
    let old = generate(&snapshot(3), &ctx()).state;
    assert_eq!(
        partial("kp", &old, &old),
        "",
        "nothing changed, nothing to do"
    );

    let mut snap = snapshot(3);
    let svc1 = spn("svc1", "http", Protocol::Tcp);
    snap.endpoints.get_mut(&svc1).unwrap().pop(); // one endpoint of svc1 goes away
    let new = generate(&snap, &ctx()).state;
    let s = partial("kp", &old, &new);
    let base1 = crate::names::service_base(&svc1);
    assert!(
        s.contains(&format!("flush chain ip kp service-{base1}\n")),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "add rule ip kp service-{base1} numgen random mod 1 vmap"
        )),
        "{s}"
    );
    assert!(
        s.contains("delete chain ip kp endpoint-"),
        "the removed endpoint's chain goes: {s}"
    );
    for other in ["svc0", "svc2"] {
        assert!(
            !s.contains(&format!("/{other}/")),
            "{other} untouched:\n{s}"
        );
    }
    assert!(!s.contains("element"), "dispatch elements unchanged: {s}");
}

#[test]
fn partial_sync_orders_deletes_after_flushes_and_swaps_changed_elements() {
    let mut snap = snapshot(1);
    let svc0 = spn("svc0", "http", Protocol::Tcp);
    let old = generate(&snap, &ctx()).state;
    // All endpoints gone: dispatch switches to reject, every chain goes.
    snap.endpoints.remove(&svc0);
    let new = generate(&snap, &ctx()).state;
    let s = partial("kp", &old, &new);
    let pos = |needle: &str| {
        s.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing in\n{s}"))
    };
    let del_elem = pos("delete element ip kp service-ips { 10.43.1.0 . tcp . 80 }");
    let add_reject = pos(
        "add element ip kp no-endpoint-services { 10.43.1.0 . tcp . 80 comment \"ns/svc0:http\" : goto reject-chain }",
    );
    let first_chain_delete = pos("delete chain ip kp ");
    let last_flush = s.rfind("flush chain").unwrap();
    assert!(
        del_elem < first_chain_delete
            && last_flush < first_chain_delete
            && add_reject < first_chain_delete
    );
    // And back: the reject element goes, the dispatch comes back.
    let s = partial("kp", &new, &old);
    assert!(s.contains("delete element ip kp no-endpoint-services { 10.43.1.0 . tcp . 80 }"));
    assert!(s.contains("add element ip kp service-ips { 10.43.1.0 . tcp . 80 : goto service-"));
    let add_chain = s.find("add chain").unwrap();
    assert!(
        add_chain < s.find("add element ip kp service-ips").unwrap(),
        "chains exist before elements point at them"
    );
}

#[test]
fn changed_affinity_timeout_recreates_the_set_and_its_users() {
    let mut snap = snapshot(1);
    let svc0 = spn("svc0", "http", Protocol::Tcp);
    snap.services.get_mut(&svc0).unwrap().affinity_timeout = Some(30);
    let old = generate(&snap, &ctx()).state;
    snap.services.get_mut(&svc0).unwrap().affinity_timeout = Some(60);
    let new = generate(&snap, &ctx()).state;
    let s = partial("kp", &old, &new);
    let del = s.find("delete set ip kp affinity-").expect(&s);
    let add = s.find("add set ip kp affinity-").expect(&s);
    let flush = s.find("flush chain ip kp endpoint-").expect(&s);
    assert!(flush < del && del < add, "{s}");
    assert!(s.contains("timeout 60s"));
}
