//! `kubectl port-forward` end to end — the real kubectl against the in-process apiserver,
//! which relays the upgrade to the kubelet, which splices it to containerd's stream server —
//! over WebSockets (SPDY tunneled, kubectl's default) and over plain SPDY; and exec when
//! kubectl insists on SPDY.

use crate::common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BUSYBOX, TestNode};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Child;

const BODY: &str = "hello-from-pod";

fn running(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
}

/// A pod serving `BODY` with busybox httpd on 8080.
async fn web_pod(node: &TestNode) {
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": BUSYBOX,
            "command": ["sh", "-c", format!("mkdir -p /www && echo {BODY} > /www/index.html && exec httpd -f -p 8080 -h /www")]}]}
    }))
    .await;
    node.wait_pod("web", Duration::from_secs(60), running).await;
}

/// A running `kubectl port-forward` and everything it printed so far.
struct Forward {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Forward {
    /// Starts `kubectl port-forward pod/web :remote` (a free local port) and waits for
    /// "Forwarding from".
    async fn start(node: &TestNode, remote: u16, websockets: bool) -> Forward {
        let started = Instant::now();
        let spec = format!(":{remote}");
        let mut cmd = node.kubectl_command(&["port-forward", "-v=4", "pod/web", &spec]);
        cmd.env(
            "KUBECTL_PORT_FORWARD_WEBSOCKETS",
            if websockets { "true" } else { "false" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut out_lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = out_lines.next_line().await {
                // "Forwarding from 127.0.0.1:41234 -> 8080"
                if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                    return rest.split_whitespace().next().and_then(|p| p.parse().ok());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "kubectl port-forward did not start: {}",
                stderr.lock().unwrap()
            )
        });
        tokio::spawn(async move { while let Ok(Some(_)) = out_lines.next_line().await {} });
        eprintln!(
            "port-forward (websockets={websockets}) ready on {port} in {:?}",
            started.elapsed()
        );
        Forward {
            child,
            port,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stops this kubectl (its own process only).
    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `GET /` through the forwarded port; the whole response.
async fn fetch(port: u16) -> std::io::Result<String> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    // busybox httpd lingers up to a second for the client's end after answering.
    tcp.shutdown().await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), tcp.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("response timed out"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn fetch_ok(port: u16) {
    let resp = fetch(port).await.expect("fetch through the forward");
    assert!(
        resp.starts_with("HTTP/1.")
            && resp.contains(" 200 ")
            && resp.ends_with(&format!("{BODY}\n")),
        "unexpected response: {resp:?}"
    );
}

/// Sequential and concurrent fetches through a forward.
async fn exercise(forward: &Forward) {
    let started = Instant::now();
    for _ in 0..3 {
        fetch_ok(forward.port).await;
    }
    let concurrent: Vec<_> = (0..5)
        .map(|_| tokio::spawn(fetch_ok(forward.port)))
        .collect();
    for t in concurrent {
        t.await.expect("concurrent fetch");
    }
    eprintln!("8 fetches took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_through_kubectl() {
    let node = TestNode::start().await;
    web_pod(&node).await;

    // WebSockets (SPDY tunneled), kubectl's default: no fallback to SPDY.
    let ws = Forward::start(&node, 8080, true).await;
    exercise(&ws).await;
    let log = ws.stderr();
    assert!(
        log.contains("Before WebSocket Upgrade Connection"),
        "kubectl did not try WebSockets: {log}"
    );
    assert!(
        !log.contains("fallback to secondary dialer"),
        "kubectl fell back to SPDY: {log}"
    );
    ws.stop().await;

    // Plain SPDY.
    let spdy = Forward::start(&node, 8080, false).await;
    exercise(&spdy).await;
    assert!(
        !spdy
            .stderr()
            .contains("Before WebSocket Upgrade Connection")
    );
    spdy.stop().await;

    // Nobody listens on 9999: the connection ends without a response and kubectl reports the
    // runtime's error; the kubelet stays up.
    let nowhere = Forward::start(&node, 9999, true).await;
    let resp = fetch(nowhere.port).await.unwrap_or_default();
    assert!(!resp.contains(BODY), "unexpected response: {resp:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nowhere.stderr().contains("error forwarding port 9999") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = nowhere.stderr();
    let error = log
        .lines()
        .find(|l| l.contains("error forwarding port 9999"));
    eprintln!("kubectl said: {error:?}");
    assert!(error.is_some(), "kubectl's error: {log}");
    nowhere.stop().await;

    let again = Forward::start(&node, 8080, true).await;
    fetch_ok(again.port).await;
    again.stop().await;

    // Without an upgrade the kubelet route answers, through the apiserver, with an error.
    let out = node
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/web/portforward",
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Upgrade request required"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_over_spdy_through_kubectl() {
    let node = TestNode::start().await;
    web_pod(&node).await;
    let spdy_exec = |args: &[&str]| {
        let mut cmd = node.kubectl_command(args);
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        cmd
    };

    let started = Instant::now();
    let out = spdy_exec(&[
        "exec",
        "-v=4",
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ])
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(stderr.contains("err\n"), "{stderr}");
    assert!(
        !stderr.contains("Before WebSocket Upgrade Connection"),
        "{stderr}"
    );
    eprintln!("exec over SPDY took {:?}", started.elapsed());

    let out = spdy_exec(&["exec", "web", "--", "sh", "-c", "exit 3"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));

    // stdin, ended by kubectl's half-close.
    let mut child = spdy_exec(&["exec", "-i", "web", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"via spdy\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("cat ends when stdin does")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via spdy\n");

    // The WebSocket path still works next to it.
    let out = node.kubectl(&["exec", "web", "--", "echo", "ws"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ws\n");
    node.stop().await;
}
