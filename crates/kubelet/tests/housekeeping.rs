//! Node housekeeping on a real containerd: container log rotation through CRI
//! ReopenContainerLog, and image garbage collection sparing images in use and the pause image.

use crate::common;

use std::time::Duration;

use common::{BUSYBOX, TestNode};
use k8s_cri::v1 as cri;
use rkube_kubelet::housekeeping::image_gc::{GcPolicy, ImageGc};
use rkube_kubelet::housekeeping::log_rotation::{LogPolicy, rotate_once, rotated_files};
use rkube_kubelet::runtime::images::{self, PAUSE_IMAGE};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_rotate_and_old_files_are_pruned() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "chatty"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do echo 0123456789012345678901234567890123456789012345678901234567890123456789; done"]}]}
    }))
    .await;
    let p = node
        .wait_pod("chatty", Duration::from_secs(30), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await;
    let uid = p.metadata.uid.unwrap();
    let log = node
        .dir
        .path()
        .join(format!("agent/logs/pods/default_chatty_{uid}/c/0.log"));
    let policy = LogPolicy {
        max_size: 64 << 10,
        max_files: 3,
    };
    for round in 0..4 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&log).map_or(0, |m| m.len()) <= policy.max_size {
            assert!(
                tokio::time::Instant::now() < deadline,
                "log never grew (round {round})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            rotate_once(&node.cri, &policy).await.unwrap(),
            1,
            "round {round}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rotated = rotated_files(&log);
    assert_eq!(
        rotated.len(),
        2,
        "max_files 3 keeps the live file and two rotated: {rotated:?}"
    );
    // The runtime writes to the fresh file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&log).map_or(0, |m| m.len()) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reopened log never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text.lines().next().unwrap();
    // `<time> stdout F|P <text>`; the runtime may have been mid-line when the file was
    // reopened, so the text is the echoed line or a tail of it.
    let fields: Vec<&str> = first.splitn(4, ' ').collect();
    assert!(
        fields.len() == 4
            && fields[1] == "stdout"
            && matches!(fields[2], "F" | "P")
            && !fields[3].is_empty()
            && "0123456789".repeat(7).ends_with(fields[3]),
        "CRI log format kept: {first}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_gc_removes_only_unused_unpinned_images() {
    let node = TestNode::start().await;
    let work = node.dir.path().join("images");
    let extra = images::import_busybox_image(
        &node.cri,
        "localhost/rkube/extra:1",
        vec![images::ExtraFile::new("etc/extra", "x", 0o644)],
        &work,
    )
    .await
    .unwrap();
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sleep", "1000"]}]}
    }))
    .await;
    node.wait_pod("user", Duration::from_secs(30), |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await;
    // Below the threshold nothing goes.
    let mut calm = ImageGc::new(
        GcPolicy {
            high_percent: 100,
            low_percent: 100,
            min_age: Duration::ZERO,
        },
        node.dir.path().into(),
        vec![PAUSE_IMAGE.into()],
    );
    assert!(calm.collect(&node.cri).await.unwrap().removed.is_empty());
    let mut gc = ImageGc::new(
        GcPolicy {
            high_percent: 0,
            low_percent: 0,
            min_age: Duration::ZERO,
        },
        node.dir.path().into(),
        vec![PAUSE_IMAGE.into()],
    );
    let report = gc.collect(&node.cri).await.unwrap();
    assert_eq!(
        report.removed,
        [format!(
            "sha256:{}",
            extra.config_digest.trim_start_matches("sha256:")
        )],
        "{report:?}"
    );
    for (name, present) in [
        ("localhost/rkube/extra:1", false),
        (BUSYBOX, true),
        (PAUSE_IMAGE, true),
    ] {
        let got = node
            .cri
            .images
            .clone()
            .image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: name.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .image
            .is_some();
        assert_eq!(got, present, "{name}");
    }
    node.stop().await;
}
