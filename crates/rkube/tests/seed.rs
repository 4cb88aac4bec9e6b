//! The seed example (`examples/seed`) on real containers: MariaDB as a ReplicationController of
//! 1 behind a ClusterIP Service, the web app as an RC of 2 behind NodePort 30001. The images are
//! built by `examples/seed/images/build.sh` (debootstrap; cached under
//! /var/cache/rkube/seed-images, so only the first run takes minutes) and imported with
//! `rkube images import`. One node: `examples/seed/run.sh` deploys it, then the data path, the
//! Service env vars and DNS name, RC replacement, a restarted database keeping its data,
//! scaling and a LoadBalancer. Three nodes: spread, NodePort everywhere, a stopped node's pods
//! replaced elsewhere once their (shortened) tolerations run out.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::cluster::MultiNode;

/// Both tests' server nodes live in the host namespace, where NodePort 30001 matches any
/// local address: one cluster at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed")
}

/// Runs `cmd`, echoing each stdout line to stderr as it comes (stderr passes straight
/// through, so progress shows); (success, stdout).
fn run_echoed(cmd: &mut Command) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        eprintln!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    (child.wait().expect("wait").success(), out)
}

/// The images archive, built (or found in the cache) by the example's own script.
fn build_images() -> PathBuf {
    let start = Instant::now();
    eprintln!("building the seed images (the first build debootstraps, a few minutes)…");
    let (ok, out) = run_echoed(&mut Command::new(seed_dir().join("images/build.sh")));
    assert!(ok, "examples/seed/images/build.sh failed");
    let archive = PathBuf::from(out.lines().last().expect("the archive's path").trim());
    assert!(archive.is_file(), "{archive:?}");
    eprintln!(
        "images ready in {:.1} s: {}",
        start.elapsed().as_secs_f64(),
        archive.display()
    );
    archive
}

fn progress(start: Instant, what: &str) {
    eprintln!("[{:6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// A pod that is not being deleted: (name, node, phase).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodRow {
    name: String,
    node: String,
    phase: String,
}

fn pods(c: &MultiNode, app: &str) -> Vec<PodRow> {
    let (_, out, _) = c.kubectl(&[
        "get",
        "pods",
        "-l",
        &format!("app={app}"),
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| PodRow {
                name: f[0].into(),
                node: f[1].into(),
                phase: f[2].into(),
            })
        })
        .collect()
}

fn running(c: &MultiNode, app: &str) -> Vec<PodRow> {
    pods(c, app)
        .into_iter()
        .filter(|p| p.phase == "Running")
        .collect()
}

fn wait_running(c: &MultiNode, app: &str, n: usize, timeout: Duration) -> Vec<PodRow> {
    c.wait(&format!("{n} {app} pods Running"), timeout, || {
        let all = pods(c, app);
        all.len() == n && all.iter().all(|p| p.phase == "Running")
    });
    running(c, app)
}

/// GET `path` from `addr`; the body when the answer is 200 OK.
fn page(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let out = out.replace("\r\n", "\n");
    let (head, body) = out.split_once("\n\n")?;
    head.lines()
        .next()
        .is_some_and(|status| status.contains(" 200 "))
        .then(|| body.to_owned())
}

/// The page's `<key>: value` line.
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// The number of visit rows MariaDB reported.
fn visits(body: &str) -> u64 {
    field(body, "visits stored in MariaDB")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no visit count in:\n{body}"))
}

/// Waits until `addr` serves a page with data from MariaDB; returns it.
fn wait_page(c: &MultiNode, addr: &str, path: &str, timeout: Duration) -> String {
    let last = std::cell::RefCell::new(None);
    c.wait(&format!("http://{addr}{path} with data"), timeout, || {
        *last.borrow_mut() = page(addr, path);
        last.borrow().is_some()
    });
    let body = last.into_inner().expect("page");
    assert!(
        field(&body, "server").is_some_and(|s| s.contains("MariaDB")),
        "{body}"
    );
    body
}

fn jsonpath(c: &MultiNode, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let p = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &p]);
    c.kubectl(&args).1
}

#[test]
fn seed_on_one_node() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let archive = build_images();
    let start = Instant::now();
    let c = MultiNode::start(0, &[]);
    progress(start, "cluster up; running examples/seed/run.sh");
    let node = c.node_ips[0].clone();
    let nodeport = format!("{node}:30001");

    // The walkthrough itself: build (cached) + import, kubectl create ×4, get, curl.
    let run_sh = |args: &[&str], skip_import: bool| {
        let mut cmd = Command::new(seed_dir().join("run.sh"));
        cmd.args(args)
            .env("KUBECONFIG", &c.kubeconfig)
            .env("RKUBE", env!("CARGO_BIN_EXE_rkube"))
            .env("RKUBE_DATA_DIR", c.data_dir(0))
            .env("HOME", c.data_dir(0))
            .env("SEED_TIMEOUT", "240");
        if skip_import {
            cmd.env("SEED_SKIP_IMPORT", "1");
        }
        run_echoed(&mut cmd)
    };
    let (ok, out) = run_sh(&[], false);
    assert!(ok, "run.sh failed\n{}", c.logs());
    assert!(
        out.contains(&format!("$ curl http://{node}:30001/")),
        "{out}"
    );
    assert!(out.contains("visits stored in MariaDB: "), "{out}");
    assert!(archive.is_file());
    progress(start, "run.sh done");

    let mysql = wait_running(&c, "mysql", 1, Duration::from_secs(30));
    let web = wait_running(&c, "myweb", 2, Duration::from_secs(30));
    assert_eq!(mysql.len(), 1);
    assert_eq!(web.len(), 2);

    // Each request is a row in MariaDB: the count goes up, and the rows name the web pods.
    let first = wait_page(&c, &nodeport, "/", Duration::from_secs(30));
    let second = wait_page(&c, &nodeport, "/", Duration::from_secs(30));
    assert!(visits(&second) > visits(&first), "{first}\n---\n{second}");
    assert!(
        web.iter().any(|p| second.contains(&p.name)),
        "{second} names a web pod of {web:?}"
    );

    // MySQL found through the Service: the injected env vars hold its ClusterIP…
    let cluster_ip = jsonpath(&c, &["svc", "mysql"], "{.spec.clusterIP}");
    assert_eq!(
        field(&second, "mysql"),
        Some(format!("{cluster_ip}:3306 (via MYSQL_SERVICE_HOST/MYSQL_SERVICE_PORT)").as_str()),
        "{second}"
    );
    for p in &web {
        let (ok, env) = c.exec(&p.name, &["printenv", "MYSQL_SERVICE_HOST"]);
        assert!(ok && env.trim() == cluster_ip, "{}: {env}", p.name);
    }
    // …and its DNS name resolves and connects too.
    let by_name = wait_page(&c, &nodeport, "/?host=mysql", Duration::from_secs(30));
    assert_eq!(
        field(&by_name, "mysql"),
        Some("mysql:3306 (via name given in the request)"),
        "{by_name}"
    );
    assert!(visits(&by_name) > visits(&second), "{by_name}");
    progress(start, "data path, env vars and DNS name checked");

    // A deleted web pod is replaced by the RC.
    let victim = web[0].name.clone();
    let (ok, o, e) = c.kubectl(&["delete", "pod", &victim, "--wait=false"]);
    assert!(ok, "{o}{e}");
    c.wait(
        "the deleted web pod replaced",
        Duration::from_secs(90),
        || {
            let now = running(&c, "myweb");
            now.len() == 2 && now.iter().all(|p| p.name != victim)
        },
    );
    progress(start, "deleted myweb pod replaced");

    // mariadbd is the container's PID 1; stopping it restarts the container, and the data on
    // the emptyDir volume is still there.
    let db = mysql[0].name.clone();
    let (ok, comm) = c.exec(&db, &["cat", "/proc/1/comm"]);
    assert!(ok && comm.trim() == "mariadbd", "PID 1 is {comm:?}");
    let before = visits(&wait_page(&c, &nodeport, "/", Duration::from_secs(30)));
    let (ok, out) = c.exec(&db, &["bash", "-c", "kill 1"]);
    assert!(ok, "kill 1: {out}");
    c.wait(
        "the mysql container restarted (restartCount 1)",
        Duration::from_secs(120),
        || {
            jsonpath(
                &c,
                &["pod", &db],
                "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}",
            ) == "1 true"
        },
    );
    let after = wait_page(&c, &nodeport, "/", Duration::from_secs(120));
    assert!(
        visits(&after) > before,
        "the rows survived the restart: {before} before, now\n{after}"
    );
    let (_, logs, _) = c.kubectl(&["logs", &db]);
    assert!(
        logs.contains("reusing the data directory"),
        "the restarted server reused its data: {logs}"
    );
    progress(start, "mariadbd restarted, data kept");

    // Scaled to 3: every replica serves through the NodePort.
    let (ok, o, e) = c.kubectl(&["scale", "rc", "myweb", "--replicas=3"]);
    assert!(ok, "{o}{e}");
    let web = wait_running(&c, "myweb", 3, Duration::from_secs(90));
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 && Instant::now() < deadline {
        if let Some(body) = page(&nodeport, "/")
            && let Some(pod) = field(&body, "myweb pod")
        {
            seen.insert(pod.to_owned());
        }
    }
    let names: std::collections::BTreeSet<String> = web.iter().map(|p| p.name.clone()).collect();
    assert_eq!(seen, names, "every replica answered through NodePort 30001");
    progress(start, "scaled to 3, all serving");

    // The LoadBalancer variant gets an address from the pool, and it answers.
    let (ok, o, e) = c.kubectl(&[
        "create",
        "-f",
        seed_dir().join("myweb-lb-svc.yaml").to_str().unwrap(),
    ]);
    assert!(ok, "{o}{e}");
    let lb = std::cell::RefCell::new(String::new());
    c.wait("the LoadBalancer address", Duration::from_secs(30), || {
        *lb.borrow_mut() = jsonpath(
            &c,
            &["svc", "myweb-lb"],
            "{.status.loadBalancer.ingress[0].ip}",
        );
        !lb.borrow().is_empty()
    });
    let lb = lb.into_inner();
    let body = wait_page(&c, &format!("{lb}:8080"), "/", Duration::from_secs(30));
    assert!(visits(&body) > visits(&after), "{body}");
    progress(start, &format!("LoadBalancer {lb}:8080 answers"));

    // run.sh again keeps what exists and still ends at the page; `run.sh delete` removes it.
    let (ok, out) = run_sh(&[], true);
    assert!(ok, "second run.sh failed");
    assert_eq!(out.matches("(kept)").count(), 4, "{out}");
    assert!(out.contains("visits stored in MariaDB: "), "{out}");
    let (ok, out) = run_sh(&["delete"], true);
    assert!(ok, "run.sh delete: {out}");
    let (_, left, _) = c.kubectl(&["get", "rc,svc", "-o", "name"]);
    assert_eq!(
        left.trim(),
        "service/kubernetes\nservice/myweb-lb",
        "{left}"
    );
    progress(start, "run.sh again (kept) and run.sh delete");
}

/// The seed's RC manifest as JSON with `tolerationSeconds` shortened for node problems (as a
/// user does to fail over faster than the default 300 s).
fn with_short_tolerations(c: &MultiNode, file: &str, seconds: u64) -> String {
    let path = seed_dir().join(file);
    let (ok, json, err) = c.kubectl(&[
        "create",
        "-f",
        path.to_str().unwrap(),
        "--dry-run=client",
        "-o",
        "json",
    ]);
    assert!(ok, "{err}");
    let mut rc: serde_json::Value = serde_json::from_str(&json).unwrap();
    rc["spec"]["template"]["spec"]["tolerations"] = serde_json::json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds},
    ]);
    rc.to_string()
}

#[test]
fn seed_across_three_nodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let archive = build_images();
    let start = Instant::now();
    let mut c = MultiNode::start(2, &[]);
    progress(
        start,
        "server and 2 agents Ready; importing the images on each node",
    );
    c.import_images(&archive);

    for (file, rc) in [
        ("mysql-rc.yaml", true),
        ("mysql-svc.yaml", false),
        ("myweb-rc.yaml", true),
        ("myweb-svc.yaml", false),
    ] {
        let (ok, o, e) = if rc {
            c.kubectl_stdin(&["create", "-f", "-"], &with_short_tolerations(&c, file, 5))
        } else {
            c.kubectl(&["create", "-f", seed_dir().join(file).to_str().unwrap()])
        };
        assert!(ok, "{file}: {o}{e}");
    }
    wait_running(&c, "mysql", 1, Duration::from_secs(120));
    let web = wait_running(&c, "myweb", 2, Duration::from_secs(120));
    progress(start, &format!("running: {web:?}"));
    assert_ne!(web[0].node, web[1].node, "the web pods spread over nodes");

    // NodePort 30001 on every node's address serves data from MariaDB.
    for ip in c.node_ips.clone() {
        let body = wait_page(&c, &format!("{ip}:30001"), "/", Duration::from_secs(180));
        assert!(visits(&body) >= 1, "{body}");
        progress(start, &format!("NodePort answers on {ip}"));
    }

    // Stop an agent that runs a web pod: once the node is unreachable and the pods' 5 s
    // toleration has run out, they are evicted and the RCs replace them on the other nodes.
    let agent = (1..c.nodes.len())
        .find(|i| web.iter().any(|p| p.node == c.nodes[*i]))
        .expect("a web pod on an agent (they are on two different nodes)");
    let gone = c.nodes[agent].clone();
    c.stop_agent(agent - 1);
    progress(
        start,
        &format!("stopped agent {gone}; waiting for its pods to move"),
    );
    c.wait(
        "the stopped node's pods replaced on the others",
        Duration::from_secs(240),
        || {
            let web = running(&c, "myweb");
            let db = running(&c, "mysql");
            web.len() == 2 && db.len() == 1 && web.iter().chain(&db).all(|p| p.node != gone)
        },
    );
    progress(start, &format!("replaced: {:?}", running(&c, "myweb")));
    for (i, ip) in c.node_ips.clone().into_iter().enumerate() {
        if i == agent {
            continue;
        }
        let body = wait_page(&c, &format!("{ip}:30001"), "/", Duration::from_secs(180));
        assert!(
            running(&c, "myweb").iter().any(|p| body.contains(&p.name)),
            "{body}"
        );
        progress(start, &format!("NodePort answers on {ip} after the move"));
    }

    // The stopped agent took its containerd down with it, but not its containers: started
    // again, it removes the evicted pods, and the harness's teardown reaches its runtime.
    c.start_agent(agent - 1);
    c.wait(
        &format!("{gone} Ready again"),
        Duration::from_secs(120),
        || {
            jsonpath(
                &c,
                &["node", &gone],
                "{.status.conditions[?(@.type=='Ready')].status}",
            ) == "True"
        },
    );
    c.wait(
        &format!("the evicted pods' containers gone from {gone}"),
        Duration::from_secs(60),
        || {
            let sock = c.data_dir(agent).join("agent/containerd/containerd.sock");
            let out = Command::new("ctr")
                .arg("-a")
                .arg(&sock)
                .args(["-n", "k8s.io", "tasks", "ls", "-q"])
                .output();
            // Only the replacement pods' containers (none were scheduled back here) remain.
            out.is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).trim().is_empty()
            })
        },
    );
    progress(start, &format!("{gone} back, its old containers removed"));
}
