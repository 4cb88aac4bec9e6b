//! Container logs, exec and attach end to end: the real kubectl against the in-process
//! apiserver, which proxies to the kubelet's HTTPS API, which reads the CRI log files and
//! bridges WebSocket to containerd's stream server. Also the kubelet API's authentication
//! and authorization, and the apiserver's errors for bad containers and unreachable kubelets.

use crate::common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BUSYBOX, TestNode};
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{LogParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn running(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
}

fn container_id(p: &Pod) -> String {
    let id = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .container_id
        .clone()
        .unwrap();
    id.trim_start_matches("containerd://").to_string()
}

/// Runs kubectl, asserts success, returns stdout; prints how long it took.
async fn kubectl_ok(node: &TestNode, args: &[&str]) -> String {
    let start = Instant::now();
    let out = node.kubectl(args).await;
    eprintln!("kubectl {} took {:?}", args.join(" "), start.elapsed());
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs kubectl expecting failure; returns (exit code, stderr).
async fn kubectl_err(node: &TestNode, args: &[&str]) -> (Option<i32>, String) {
    let out = node.kubectl(args).await;
    assert!(!out.status.success(), "kubectl {args:?} should fail");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs kubectl with `input` on stdin (then closed); returns (exit code, stdout, stderr).
async fn kubectl_stdin(
    node: &TestNode,
    args: &[&str],
    input: &[u8],
) -> (Option<i32>, Vec<u8>, String) {
    let start = Instant::now();
    let mut child = node
        .kubectl_command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    });
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish"))
        .unwrap();
    writer.await.unwrap();
    eprintln!(
        "kubectl {} (stdin) took {:?}",
        args.join(" "),
        start.elapsed()
    );
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn exec_sync(node: &TestNode, container: &str, cmd: &[&str]) {
    let resp = node
        .cri
        .runtime
        .clone()
        .exec_sync(cri::ExecSyncRequest {
            container_id: container.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 5,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.exit_code,
        0,
        "{cmd:?}: {}",
        String::from_utf8_lossy(&resp.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_through_kubectl() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "logger"},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [{"name": "main", "image": BUSYBOX,
            "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; done; sleep 0.5; echo err-line >&2; \
                while [ ! -f /tmp/go ]; do sleep 0.1; done; echo after-go; \
                while [ ! -f /tmp/go2 ]; do sleep 0.1; done; echo after-rotate; \
                trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher"},
        "spec": {"terminationGracePeriodSeconds": 2,
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "c", "image": BUSYBOX,
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "command": ["sh", "-c", "if [ -f /data/ran ]; then echo second-run; \
                    trap 'exit 0' TERM; while true; do sleep 0.2; done; \
                    else touch /data/ran; echo first-run; exit 1; fi"]}]}
    }))
    .await;
    let logger = node
        .wait_pod("logger", Duration::from_secs(30), running)
        .await;
    let started = Instant::now();
    let all = "line-1\nline-2\nline-3\nline-4\nline-5\nerr-line\n";
    // The runtime writes the file as the container prints: wait for the last line. (The
    // container pauses before writing to stderr: the runtime copies stdout and stderr
    // separately, so lines written at once to both may land in either order.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = kubectl_ok(&node, &["logs", "logger"]).await;
        if got == all {
            break;
        }
        assert!(Instant::now() < deadline, "logs never complete: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(
        kubectl_ok(&node, &["logs", "logger", "-c", "main", "--tail", "2"]).await,
        "line-5\nerr-line\n"
    );
    assert_eq!(
        kubectl_ok(&node, &["logs", "logger", "--limit-bytes", "8"]).await,
        "line-1\nl"
    );
    assert_eq!(
        kubectl_ok(&node, &["logs", "logger", "--since", "1h"]).await,
        all
    );
    let stamped = kubectl_ok(&node, &["logs", "logger", "--timestamps", "--tail", "1"]).await;
    let (ts, rest) = stamped.split_once(' ').unwrap();
    assert_eq!(rest, "err-line\n");
    assert_eq!(ts.len(), "2006-01-02T15:04:05.000000000Z".len(), "{ts}");
    assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");

    // Follow: a line written after kubectl started arrives on the open stream.
    let mut follow = node
        .kubectl_command(&["logs", "-f", "logger"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    for want in all.lines() {
        let got = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
        assert_eq!(got.unwrap().unwrap().as_deref(), Some(want));
    }
    // Older than 5 s before the next line, for --since below.
    if let Some(wait) = Duration::from_millis(6500).checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let written = Instant::now();
    exec_sync(&node, &container_id(&logger), &["touch", "/tmp/go"]).await;
    let got = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(got.unwrap().unwrap().as_deref(), Some("after-go"));
    eprintln!(
        "logs -f delivered a new line {:?} after it was asked for",
        written.elapsed()
    );
    assert_eq!(
        kubectl_ok(&node, &["logs", "logger", "--since", "5s"]).await,
        "after-go\n"
    );
    // Rotation (as the kubelet's housekeeping does it): following continues in the new file.
    let id = container_id(&logger);
    let mut rt = node.cri.runtime.clone();
    let path = rt
        .container_status(cri::ContainerStatusRequest {
            container_id: id.clone(),
            verbose: false,
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap()
        .log_path;
    std::fs::rename(&path, format!("{path}.rotated")).unwrap();
    rt.reopen_container_log(cri::ReopenContainerLogRequest {
        container_id: id.clone(),
    })
    .await
    .unwrap();
    exec_sync(&node, &id, &["touch", "/tmp/go2"]).await;
    let got = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(got.unwrap().unwrap().as_deref(), Some("after-rotate"));
    follow.kill().await.unwrap();

    // Errors: an unknown container (checked by the apiserver), no previous instance (the
    // kubelet's answer, as a BadRequest).
    let pods: Api<Pod> = node.pods();
    let err = pods
        .logs(
            "logger",
            &LogParams {
                container: Some("nope".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
            assert_eq!(s.message, "container nope is not valid for pod logger");
        }
        other => panic!("{other:?}"),
    }
    let (_, stderr) = kubectl_err(&node, &["logs", "logger", "-c", "nope"]).await;
    assert!(
        stderr.contains("container nope is not valid for pod logger"),
        "{stderr}"
    );
    let (_, stderr) = kubectl_err(&node, &["logs", "logger", "--previous"]).await;
    assert!(
        stderr.contains(r#"previous terminated container "main" in pod "logger" not found"#),
        "{stderr}"
    );

    // --previous after a crash and restart.
    node.wait_pod("crasher", Duration::from_secs(30), |p| {
        running(p)
            && p.status
                .as_ref()
                .unwrap()
                .container_statuses
                .as_ref()
                .unwrap()[0]
                .restart_count
                >= 1
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while kubectl_ok(&node, &["logs", "crasher"]).await != "second-run\n" {
        assert!(
            Instant::now() < deadline,
            "the restarted container's log never showed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        kubectl_ok(&node, &["logs", "crasher", "--previous"]).await,
        "first-run\n"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_attach_through_kubectl() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [{"name": "main", "image": BUSYBOX,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
            "containers": [{"name": "main", "image": BUSYBOX, "stdin": true, "stdinOnce": true,
                "command": ["sh", "-c", "while read line; do echo \"got $line\"; done; echo bye"]}]}
    }))
    .await;
    node.wait_pod("shell", Duration::from_secs(30), running)
        .await;

    assert_eq!(
        kubectl_ok(&node, &["exec", "shell", "--", "echo", "hello"]).await,
        "hello\n"
    );
    let out = node
        .kubectl(&[
            "exec",
            "shell",
            "-c",
            "main",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ])
        .await;
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let start = Instant::now();
    let (code, _) = kubectl_err(&node, &["exec", "shell", "--", "sh", "-c", "exit 3"]).await;
    eprintln!("kubectl exec (exit 3) took {:?}", start.elapsed());
    assert_eq!(code, Some(3));

    // stdin, ended by the v5 close signal; and a larger stream through it.
    let (code, out, err) = kubectl_stdin(
        &node,
        &["exec", "-i", "shell", "--", "cat"],
        b"hello stdin\n",
    )
    .await;
    assert_eq!(
        (code, out.as_slice()),
        (Some(0), &b"hello stdin\n"[..]),
        "{err}"
    );
    let big = vec![b'x'; 300_000];
    let (code, out, err) =
        kubectl_stdin(&node, &["exec", "-i", "shell", "--", "wc", "-c"], &big).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out).trim(), "300000");
    let (code, out, _) = kubectl_stdin(
        &node,
        &[
            "exec",
            "-i",
            "shell",
            "--",
            "sh",
            "-c",
            "head -c 200000 /dev/zero | tr '\\0' y",
        ],
        b"",
    )
    .await;
    assert_eq!(
        (code, out.len()),
        (Some(0), 200_000),
        "large output arrives whole"
    );

    // kubectl cp streams a tar archive through exec's stdin.
    let local = node.dir.path().join("payload.bin");
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &payload).unwrap();
    kubectl_ok(
        &node,
        &["cp", local.to_str().unwrap(), "shell:/tmp/payload.bin"],
    )
    .await;
    let out = node
        .kubectl(&["exec", "shell", "--", "cat", "/tmp/payload.bin"])
        .await;
    assert!(
        out.status.success() && out.stdout == payload,
        "copied file differs"
    );

    // Attach to the main process: its stdin gets ours (closed after, stdinOnce), its output
    // comes back, and the session ends with the process.
    node.wait_pod("talker", Duration::from_secs(30), running)
        .await;
    let (code, out, err) = kubectl_stdin(&node, &["attach", "-i", "talker"], b"hello\n").await;
    assert_eq!(code, Some(0), "{err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("got hello"), "{out:?} {err}");
    node.stop().await;
}

/// Accepts the kubelet's self-signed certificate (as the apiserver does).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// GET `path` from the kubelet API with an optional client certificate (PEM cert, key);
/// returns the status and body.
async fn kubelet_get(
    addr: std::net::SocketAddr,
    path: &str,
    cert: Option<(&str, &str)>,
) -> (u16, String) {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
    let config = match cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: kubelet\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A client certificate for the apiserver's kubelet identity, from a CA the kubelet does not trust.
fn foreign_cert() -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "another-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "kube-apiserver-kubelet-client");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "kubelet-api-admin");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_api_authentication_authorization_and_proxy_errors() {
    let node = TestNode::start().await;
    let addr = node.kubelet_addr();
    let nodes: Api<Node> = Api::all(node.client.clone());
    // The Node reports the port actually bound.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let port = nodes
            .get(&node.name)
            .await
            .ok()
            .and_then(|n| n.status)
            .and_then(|s| s.daemon_endpoints)
            .and_then(|d| d.kubelet_endpoint)
            .map(|e| e.port);
        if port == Some(i32::from(addr.port())) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Node reports port {port:?}, not {}",
            addr.port()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(
        kubelet_get(addr, "/healthz", None).await,
        (401, "Unauthorized".into())
    );
    let (cert, key) = foreign_cert();
    assert_eq!(
        kubelet_get(addr, "/healthz", Some((&cert, &key))).await,
        (401, "Unauthorized".into())
    );
    let tls = node.dir.path().join("server/tls");
    let admin_cert = std::fs::read_to_string(tls.join("client-admin.crt")).unwrap();
    let admin_key = std::fs::read_to_string(tls.join("client-admin.key")).unwrap();
    assert_eq!(
        kubelet_get(addr, "/healthz", Some((&admin_cert, &admin_key))).await,
        (
            403,
            "Forbidden (user=system:admin, verb=get, resource=nodes, subresource=proxy)".into()
        )
    );
    // The apiserver's identity is allowed: through the node proxy.
    let path = format!("/api/v1/nodes/{}/proxy/healthz", node.name);
    assert_eq!(kubectl_ok(&node, &["get", "--raw", &path]).await, "ok");
    let discovery = kubectl_ok(&node, &["get", "--raw", "/api/v1"]).await;
    for sub in ["pods/log", "pods/exec", "pods/attach", "nodes/proxy"] {
        assert!(
            discovery.contains(&format!("\"{sub}\"")),
            "{sub} not in discovery"
        );
    }

    // A pod on a node whose kubelet does not answer: the apiserver's 500.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ghost: Node = serde_json::from_value(json!({"metadata": {"name": "ghost"}})).unwrap();
    nodes.create(&PostParams::default(), &ghost).await.unwrap();
    nodes
        .patch_status(
            "ghost",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": closed}}}})),
        )
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "stranded"},
        "spec": {"nodeName": "ghost", "containers": [{"name": "c", "image": BUSYBOX}]}}))
    .unwrap();
    node.pods()
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    match node
        .pods()
        .logs("stranded", &LogParams::default())
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 500);
            assert!(
                s.message.contains(&format!(
                    "dial tcp 127.0.0.1:{closed}: connect: connection refused"
                )),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let unscheduled: Pod = serde_json::from_value(json!({"metadata": {"name": "floating"},
        "spec": {"containers": [{"name": "c", "image": BUSYBOX}]}}))
    .unwrap();
    node.pods()
        .create(&PostParams::default(), &unscheduled)
        .await
        .unwrap();
    let (_, stderr) = kubectl_err(&node, &["exec", "floating", "--", "true"]).await;
    assert!(
        stderr.contains("pod floating does not have a host assigned"),
        "{stderr}"
    );
    node.stop().await;
}

/// `kubectl exec -it` with a real terminal: `script` gives kubectl a pseudo-terminal, so it
/// asks for a TTY; the container's shell then sees one and echoes what is typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_a_terminal() {
    let node = TestNode::start().await;
    node.create_pod(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "term"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": common::BUSYBOX,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
    }))
    .await;
    node.wait_pod("term", std::time::Duration::from_secs(30), running)
        .await;
    let kubectl = format!(
        "/usr/bin/kubectl --kubeconfig {} exec -it term -- sh -c 'tty; read line; echo got:$line'",
        node.kubeconfig.display()
    );
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &kubectl, "/dev/null"])
        .env("HOME", node.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script (util-linux) runs");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    stdin.write_all(b"hello\n").await.unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("kubectl exec -it finished")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("/dev/pts/"),
        "the shell has a terminal: {text}"
    );
    assert!(text.contains("got:hello"), "{text}");
    drop(stdin);
    node.stop().await;
}
