//! Pulling from a registry: a real `docker-registry` on a free loopback port, an image pushed
//! to it over the distribution API, and pods whose images the runtime pulls from it
//! (`Always`), plus a tag the registry does not have (`ErrImagePull` with its message).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestNode;
use k8s_openapi::api::core::v1::Pod;
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

fn start_registry(dir: &Path) -> Registry {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
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

/// One HTTP/1.1 request; returns (status, headers, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head, out[split + 4..].to_vec())
}

/// Pushes the blobs and manifest of an OCI archive as `repo:tag`.
fn push(port: u16, archive: &Path, repo: &str, tag: &str) {
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
            port,
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
            port,
            "PUT",
            &format!("{path}{sep}digest={digest}"),
            "application/octet-stream",
            data,
        );
        assert_eq!(code, 201, "{head}");
    }
    let (code, head, _) = http(
        port,
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
    let registry = start_registry(&reg_dir);
    let archive = node.dir.path().join("pulled.tar");
    let image = format!("127.0.0.1:{}/rkube/pulled:1", registry.port);
    build_archive(&ImageSpec::busybox(&image), ArchiveFormat::Oci, &archive).unwrap();
    let port = registry.port;
    tokio::task::spawn_blocking(move || push(port, &archive, "rkube/pulled", "1"))
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
