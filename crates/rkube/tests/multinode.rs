//! Three real nodes on one machine (the server's and two agents in their own network
//! namespaces, tests/common/cluster.rs): the pod network across nodes (podCIDRs from the node
//! IPAM controller, host-gw routes, source addresses kept), and a node whose agent is killed:
//! NotReady, tainted, its pods evicted and replaced elsewhere.

mod common;

use std::time::Duration;

use common::cluster::{BUSYBOX, MultiNode};

/// A pod pinned to `node` serving its caller's address at /cgi-bin/ip on port 8080.
fn echo_ip_pod(name: &str, node: &str) -> String {
    let script = "mkdir -p /www/cgi-bin; printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip; chmod +x /www/cgi-bin/ip; exec httpd -f -p 8080 -h /www";
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "echo-ip"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", script],
                "ports": [{"containerPort": 8080, "name": "http"}]}]}
    })
    .to_string()
}

fn pod_ip(c: &MultiNode, name: &str) -> String {
    let (_, ip, _) = c.kubectl(&["get", "pod", name, "-o", "jsonpath={.status.podIP}"]);
    ip
}

fn wait_running(c: &MultiNode, name: &str) {
    c.wait(
        &format!("pod {name} Running"),
        Duration::from_secs(90),
        || {
            let (_, out, _) = c.kubectl(&["get", "pod", name, "-o", "jsonpath={.status.phase}"]);
            out == "Running"
        },
    );
}

#[test]
fn pods_on_different_nodes_reach_each_other_and_a_killed_node_is_evacuated() {
    let mut c = MultiNode::start(2, &[]);
    // Every node got its own range from the cluster CIDR.
    let mut cidrs = Vec::new();
    for n in &c.nodes {
        let (_, cidr, _) = c.kubectl(&["get", "node", n, "-o", "jsonpath={.spec.podCIDR}"]);
        let net = c.cluster_cidr.trim_end_matches(".0.0/16");
        assert!(cidr.starts_with(&format!("{net}.")), "{n}: {cidr:?}");
        assert!(!cidrs.contains(&cidr), "{cidr} handed out twice");
        cidrs.push(cidr);
    }
    let (server, a, b) = (c.nodes[0].clone(), c.nodes[1].clone(), c.nodes[2].clone());
    for (name, node) in [("echo-b", &b), ("client-a", &a), ("client-s", &server)] {
        let (ok, out, err) = c.kubectl_stdin(&["create", "-f", "-"], &echo_ip_pod(name, node));
        assert!(ok, "{out}{err}");
    }
    for name in ["echo-b", "client-a", "client-s"] {
        wait_running(&c, name);
    }
    let target = format!("http://{}:8080/cgi-bin/ip", pod_ip(&c, "echo-b"));
    for client in ["client-a", "client-s"] {
        let (ok, out) = c.exec(client, &["timeout", "10", "wget", "-qO-", &target]);
        assert!(ok, "{client} → echo-b: {out}\n{}", c.logs());
        // httpd listens on IPv6 and reports v4 callers as mapped addresses.
        let seen = out
            .trim()
            .trim_start_matches("[::ffff:")
            .trim_end_matches(']');
        assert_eq!(
            seen,
            pod_ip(&c, client),
            "the pod on the other node sees {client}'s own address"
        );
    }

    // A ReplicationController's pod on agent 0, tolerating unreachability for 2 s only.
    let rc = serde_json::json!({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "pinned"},
        "spec": {"replicas": 1, "selector": {"app": "pinned"}, "template": {
            "metadata": {"labels": {"app": "pinned"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "preference": {"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [a]}]}}]}},
                "tolerations": [
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2},
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}],
                "containers": [{"name": "c", "image": BUSYBOX,
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}}}
    });
    let (ok, out, err) = c.kubectl_stdin(&["create", "-f", "-"], &rc.to_string());
    assert!(ok, "{out}{err}");
    let on_node = |c: &MultiNode| {
        let (_, out, _) = c.kubectl(&[
            "get",
            "pods",
            "-l",
            "app=pinned",
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName}{\" \"}{.status.phase}{\"\\n\"}{end}",
        ]);
        out
    };
    c.wait(
        "the RC's pod running on agent 0",
        Duration::from_secs(90),
        || on_node(&c).trim() == format!("{a} Running"),
    );

    c.kill_agent(0);
    // No heartbeat: the node lifecycle controller marks it Unknown and taints it; the pod's
    // short toleration runs out, it is evicted and the RC replaces it on another node.
    c.wait("agent 0 Ready=Unknown", Duration::from_secs(120), || {
        let (_, out, _) = c.kubectl(&[
            "get",
            "node",
            &a,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ]);
        out == "Unknown"
    });
    let (_, taints, _) = c.kubectl(&["get", "node", &a, "-o", "jsonpath={.spec.taints[*].key}"]);
    assert!(
        taints.contains("node.kubernetes.io/unreachable"),
        "{taints}"
    );
    c.wait(
        "the replacement running elsewhere",
        Duration::from_secs(90),
        || {
            on_node(&c)
                .lines()
                .any(|l| l.ends_with(" Running") && !l.starts_with(&format!("{a} ")))
        },
    );
    let (_, events, _) = c.kubectl(&[
        "get",
        "events",
        "-A",
        "--field-selector",
        "reason=TaintManagerEviction",
        "-o",
        "name",
    ]);
    assert!(!events.trim().is_empty(), "an eviction event was recorded");
}
