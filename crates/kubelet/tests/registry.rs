//! Pulling from a registry: a real `docker-registry` on a free loopback port, an image pushed
//! to it over the distribution API, and pods whose images the runtime pulls from it
//! (`Always`), plus a tag the registry does not have (`ErrImagePull` with its message). Then
//! a registry behind htpasswd (bcrypt) authentication: without credentials the pull fails
//! with the registry's answer, with `imagePullSecrets` (dockerconfigjson, dockercfg) it works.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::TestNode;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use rkube_kubelet::runtime::images::{ArchiveFormat, ImageSpec, build_archive};
use serde_json::json;

/// A `docker-registry` process, killed (by its PID) on drop.
struct Registry {
    child: Child,
    port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registry storing under `dir`; with `htpasswd`, only its users may push and pull.
fn start_registry(dir: &Path, htpasswd: Option<&Path>) -> Registry {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("registry.yml");
    let auth = htpasswd.map_or(String::new(), |p| {
        format!(
            "auth:\n  htpasswd:\n    realm: rkube-test\n    path: {}\n",
            p.display()
        )
    });
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (scripts/install-deps.sh installs it)");
    // Owned from here on, so a failed start still kills it.
    let registry = Registry { child, port };
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return registry;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("registry did not start");
}

/// A registry's address and the `user:password` to send it (if any).
#[derive(Clone, Copy)]
struct Target<'a> {
    port: u16,
    login: Option<&'a str>,
}

/// One HTTP/1.1 request; returns (status, headers, body).
fn http(
    to: Target<'_>,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let port = to.port;
    let auth = to.login.map_or(String::new(), |l| {
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(l)
        )
    });
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head, out[split + 4..].to_vec())
}

/// Pushes the blobs and manifest of an OCI archive as `repo:tag`.
fn push(to: Target<'_>, archive: &Path, repo: &str, tag: &str) {
    let port = to.port;
    let mut blobs = std::collections::HashMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut e = entry.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            blobs.insert(format!("sha256:{hex}"), data);
        }
    }
    let manifest_digest = {
        let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
        let mut index = Vec::new();
        for entry in tar.entries().unwrap() {
            let mut e = entry.unwrap();
            if e.path().unwrap().to_string_lossy() == "index.json" {
                e.read_to_end(&mut index).unwrap();
            }
        }
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let manifest = blobs.remove(&manifest_digest).unwrap();
    for (digest, data) in &blobs {
        let (code, head, _) = http(
            to,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            "application/octet-stream",
            b"",
        );
        assert_eq!(code, 202, "{head}");
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .unwrap()
            .trim()
            .to_string();
        let path = location.trim_start_matches(&format!("http://127.0.0.1:{port}"));
        let sep = if path.contains('?') { '&' } else { '?' };
        let (code, head, _) = http(
            to,
            "PUT",
            &format!("{path}{sep}digest={digest}"),
            "application/octet-stream",
            data,
        );
        assert_eq!(code, 201, "{head}");
    }
    let (code, head, _) = http(
        to,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    assert_eq!(code, 201, "{head}");
}

fn container_waiting(p: &Pod) -> Option<(String, String)> {
    let w = p
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .clone()?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_pulled_from_a_registry() {
    let node = TestNode::start().await;
    let reg_dir = node.dir.path().join("registry");
    std::fs::create_dir_all(&reg_dir).unwrap();
    let registry = start_registry(&reg_dir, None);
    let archive = node.dir.path().join("pulled.tar");
    let image = format!("127.0.0.1:{}/rkube/pulled:1", registry.port);
    build_archive(&ImageSpec::busybox(&image), ArchiveFormat::Oci, &archive).unwrap();
    let port = registry.port;
    tokio::task::spawn_blocking(move || {
        push(Target { port, login: None }, &archive, "rkube/pulled", "1")
    })
    .await
    .unwrap();

    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pulled"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": image, "imagePullPolicy": "Always",
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
    }))
    .await;
    let missing = format!("127.0.0.1:{}/rkube/pulled:absent", registry.port);
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "absent"},
        "spec": {"containers": [{"name": "c", "image": missing}]}
    }))
    .await;
    let p = node
        .wait_pod("pulled", Duration::from_secs(60), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await;
    let cs = &p.status.unwrap().container_statuses.unwrap()[0];
    assert!(cs.image_id.contains("sha256:"), "{cs:?}");
    let ev = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=pulled",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ])
        .await;
    let ev = String::from_utf8_lossy(&ev.stdout);
    assert!(
        ev.contains(&format!("Pulling: Pulling image \"{image}\"")),
        "{ev}"
    );
    assert!(ev.contains("Pulled: Successfully pulled image"), "{ev}");

    let p = node
        .wait_pod("absent", Duration::from_secs(60), |p| {
            container_waiting(p)
                .is_some_and(|(r, _)| r == "ErrImagePull" || r == "ImagePullBackOff")
        })
        .await;
    let (_, message) = container_waiting(&p).unwrap();
    assert!(
        message.contains("not found") || message.contains("absent"),
        "the registry's answer reaches the status: {message}"
    );
    drop(registry);
    node.stop().await;
}

/// A pull secret of `type_` holding `config` under `key`.
fn pull_secret(name: &str, type_: &str, key: &str, config: serde_json::Value) -> Secret {
    let encoded = base64::engine::general_purpose::STANDARD.encode(config.to_string());
    serde_json::from_value(json!({
        "metadata": {"name": name}, "type": type_, "data": {key: encoded}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_secrets_authenticate_to_a_private_registry() {
    let node = TestNode::start().await;
    let reg_dir = node.dir.path().join("registry");
    std::fs::create_dir_all(&reg_dir).unwrap();
    // docker-registry accepts only bcrypt entries; apache2-utils (scripts/install-deps.sh).
    let out = Command::new("htpasswd")
        .args(["-nbB", "puller", "s3cret-pw"])
        .output()
        .expect("htpasswd (scripts/install-deps.sh installs apache2-utils)");
    assert!(out.status.success(), "{out:?}");
    let htpasswd = reg_dir.join("htpasswd");
    std::fs::write(&htpasswd, &out.stdout).unwrap();
    let registry = start_registry(&reg_dir, Some(&htpasswd));
    let port = registry.port;
    let archive = node.dir.path().join("private.tar");
    let image = format!("127.0.0.1:{port}/rkube/private:1");
    build_archive(&ImageSpec::busybox(&image), ArchiveFormat::Oci, &archive).unwrap();
    let (code, head, _) = tokio::task::spawn_blocking(move || {
        http(
            Target { port, login: None },
            "GET",
            "/v2/",
            "text/plain",
            b"",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 401, "the registry requires a login: {head}");
    tokio::task::spawn_blocking(move || {
        let to = Target {
            port,
            login: Some("puller:s3cret-pw"),
        };
        push(to, &archive, "rkube/private", "1")
    })
    .await
    .unwrap();

    let secrets: Api<Secret> = Api::namespaced(node.client.clone(), "default");
    let auth = base64::engine::general_purpose::STANDARD.encode("puller:s3cret-pw");
    // As `docker login` writes it, with a scheme and a path prefix the image is under.
    let json = pull_secret(
        "regcred",
        "kubernetes.io/dockerconfigjson",
        ".dockerconfigjson",
        json!({"auths": {format!("https://127.0.0.1:{port}/rkube"): {"auth": auth}}}),
    );
    // The legacy format, with the login in separate fields.
    let legacy = pull_secret(
        "oldcred",
        "kubernetes.io/dockercfg",
        ".dockercfg",
        json!({format!("127.0.0.1:{port}"): {"username": "puller", "password": "s3cret-pw", "email": "p@example.com"}}),
    );
    // Credentials for another registry only: not sent to this one.
    let elsewhere = pull_secret(
        "othercred",
        "kubernetes.io/dockerconfigjson",
        ".dockerconfigjson",
        json!({"auths": {"registry.example.com": {"username": "puller", "password": "s3cret-pw"}}}),
    );
    for s in [&json, &legacy, &elsewhere] {
        secrets.create(&Default::default(), s).await.unwrap();
    }
    let pod = |name: &str, secrets: &[&str]| {
        let refs: Vec<_> = secrets.iter().map(|s| json!({"name": s})).collect();
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "imagePullSecrets": refs,
                "containers": [{"name": "c", "image": image, "imagePullPolicy": "Always",
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
        })
    };
    node.create_pod(pod("anonymous", &["othercred"])).await;
    node.create_pod(pod("authed", &["missing", "regcred"]))
        .await;
    node.create_pod(pod("legacy", &["oldcred"])).await;

    // The pod's status shows the pull's error only until the back-off replaces it, often for
    // milliseconds; the kubelet's `Failed` event keeps it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let message = loop {
        let ev = node
            .kubectl(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=anonymous,reason=Failed",
                "-o",
                "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
            ])
            .await;
        let ev = String::from_utf8_lossy(&ev.stdout).into_owned();
        if let Some(m) = ev.lines().find(|m| m.starts_with("Failed to pull image")) {
            break m.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed pull recorded for the anonymous pod: {ev:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        message.contains("401") || message.to_lowercase().contains("unauthorized"),
        "the registry's refusal reaches the event: {message}"
    );
    for name in ["authed", "legacy"] {
        let p = node
            .wait_pod(name, Duration::from_secs(60), |p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
            .await;
        let cs = &p.status.unwrap().container_statuses.unwrap()[0];
        assert!(cs.image_id.contains("sha256:"), "{name}: {cs:?}");
    }
    let ev = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=authed,reason=FailedToRetrieveImagePullSecret",
            "-o",
            "jsonpath={.items[*].message}",
        ])
        .await;
    let ev = String::from_utf8_lossy(&ev.stdout);
    assert!(
        ev.contains("Unable to retrieve some image pull secrets (missing)"),
        "a missing secret is reported: {ev}"
    );
    drop(registry);
    node.stop().await;
}
