//! Three real nodes on one machine (the server's and two agents in their own network
//! namespaces, tests/common/cluster.rs): the pod network across nodes (podCIDRs from the node
//! IPAM controller, host-gw routes, source addresses kept), and a node whose agent is killed:
//! NotReady, tainted, its pods evicted and replaced elsewhere. Services through every node's
//! proxy: ClusterIP across nodes, cluster DNS names, NodePort on every node address and
//! 127.0.0.1, a LoadBalancer address from the pool; a stopped agent's rules keep serving.

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

/// GET `path` from `addr` over plain HTTP/1.0 from the test process (the host namespace); the
/// body, or None when the connection fails.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    // busybox httpd passes the CGI script's bare-newline headers through.
    let out = out.replace("\r\n", "\n");
    out.split_once("\n\n")
        .map(|(_, body)| body.trim().to_owned())
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
        // A Running pod may precede, by a moment, the route other nodes learn from its Node.
        let mut attempt = c.exec(client, &["timeout", "10", "wget", "-qO-", &target]);
        for _ in 0..2 {
            if attempt.0 {
                break;
            }
            attempt = c.exec(client, &["timeout", "10", "wget", "-qO-", &target]);
        }
        let (ok, out) = attempt;
        let routes = std::process::Command::new("ip")
            .args(["route"])
            .output()
            .unwrap();
        assert!(
            ok,
            "{client} → echo-b: {out}\nhost routes:\n{}\n{}",
            String::from_utf8_lossy(&routes.stdout),
            c.logs()
        );
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

    // A Service over the three pods (one per node): its ClusterIP from a pod on each side,
    // by DNS name, its NodePort from the host, and its LoadBalancer address.
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "echo-ip"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    });
    let (ok, out, err) = c.kubectl_stdin(&["create", "-f", "-"], &svc.to_string());
    assert!(ok, "{out}{err}");
    let (_, cluster_ip, _) = c.kubectl(&["get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}"]);
    let (_, node_port, _) = c.kubectl(&[
        "get",
        "svc",
        "echo",
        "-o",
        "jsonpath={.spec.ports[0].nodePort}",
    ]);
    let lb = || {
        let (_, ip, _) = c.kubectl(&[
            "get",
            "svc",
            "echo",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        ip
    };
    c.wait("the LoadBalancer address", Duration::from_secs(30), || {
        lb().starts_with(&format!("{}.2", c.subnet))
    });
    let lb_ip = lb();
    let backends: Vec<String> = ["echo-b", "client-a", "client-s"]
        .iter()
        .map(|p| pod_ip(&c, p))
        .collect();
    for client in ["client-a", "client-s"] {
        let url = format!("http://{cluster_ip}/cgi-bin/ip");
        c.wait(
            &format!("{client} → ClusterIP"),
            Duration::from_secs(30),
            || c.exec(client, &["timeout", "10", "wget", "-qO-", &url]).0,
        );
        for name in ["echo", "echo.default.svc.cluster.local"] {
            // (busybox's nslookup exits 1 when a later search domain misses on AAAA; the
            // A answer is what counts.)
            let (_, out) = c.exec(client, &["nslookup", name]);
            assert!(
                out.contains(&format!("Address: {cluster_ip}")),
                "{client}: nslookup {name}: {out}"
            );
        }
    }
    let by_name = c.exec(
        "client-a",
        &[
            "timeout",
            "10",
            "wget",
            "-qO-",
            "http://echo.default.svc.cluster.local/cgi-bin/ip",
        ],
    );
    assert!(by_name.0, "wget by Service name: {}", by_name.1);
    for (what, addr) in [
        (
            "NodePort on the server's address",
            format!("{}:{node_port}", c.node_ips[0]),
        ),
        ("NodePort on 127.0.0.1", format!("127.0.0.1:{node_port}")),
        (
            "NodePort on an agent's address",
            format!("{}:{node_port}", c.node_ips[1]),
        ),
        ("the LoadBalancer address", format!("{lb_ip}:80")),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..30 {
            if let Some(body) = http_get(&addr, "/cgi-bin/ip") {
                seen.insert(body);
            }
        }
        assert!(!seen.is_empty(), "{what} ({addr}) answered\n{}", c.logs());
        // Traffic from outside the cluster is masqueraded: the backends see a node address.
        assert!(
            seen.iter()
                .all(|s| !backends.iter().any(|b| s.contains(b.as_str()))),
            "{what}: {seen:?}"
        );
    }

    // Agent 1 stopped: its pods and its proxy's rules stay, so its NodePort still answers;
    // started again, it adopts its pods.
    c.stop_agent(1);
    let agent1_port = format!("{}:{node_port}", c.node_ips[2]);
    assert!(
        (0..10).any(|_| http_get(&agent1_port, "/cgi-bin/ip").is_some()),
        "NodePort on a stopped agent's node\n{}",
        c.logs()
    );
    c.start_agent(1);
    c.wait(
        "agent 1 back and echo-b reachable",
        Duration::from_secs(90),
        || c.exec("echo-b", &["true"]).0,
    );
    let (_, restarts, _) = c.kubectl(&[
        "get",
        "pod",
        "echo-b",
        "-o",
        "jsonpath={.status.containerStatuses[0].restartCount}",
    ]);
    assert_eq!(
        restarts, "0",
        "the restarted agent adopted the running container"
    );

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
    // The taint follows the condition in a later pass of the controller, as upstream's does.
    c.wait(
        "agent 0 tainted unreachable",
        Duration::from_secs(30),
        || {
            let (_, taints, _) =
                c.kubectl(&["get", "node", &a, "-o", "jsonpath={.spec.taints[*].key}"]);
            taints.contains("node.kubernetes.io/unreachable")
        },
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

    // The dead node removed: the other nodes drop their route to its pod range.
    let a_cidr = cidrs[1].clone();
    let host_route = || {
        let out = std::process::Command::new("ip")
            .args(["route", "show", &a_cidr])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(
        !host_route().is_empty(),
        "the server node routes to agent 0's pods"
    );
    let (ok, out, err) = c.kubectl(&["delete", "node", &a, "--wait=false"]);
    assert!(ok, "{out}{err}");
    c.wait(
        "the route to the deleted node's pods gone",
        Duration::from_secs(30),
        || host_route().is_empty(),
    );
}
