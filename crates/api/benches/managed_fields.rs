//! The cost `managedFields` adds to every write: the `Update` bookkeeping (decode the stored
//! entries, compare old with new, move ownership, encode) on the writes a cluster makes most
//! (a kubelet's pod status update, a controller's spec update, a create), beside the floor
//! every write pays anyway (one JSON encode + decode of the object).
//!
//! `cargo bench -p rkube-api --bench managed_fields`. `RKUBE_BENCH_ITERS` overrides the count.
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

use rkube_api::apply::{ManagedFields, Write, record_update};
use serde_json::{Value, json};
use std::time::Instant;

const DEF: &str = "io.k8s.api.core.v1.Pod";

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-7d9f8c6b5-x2x9z", "namespace": "default", "uid": "0b7c",
            "generateName": "web-7d9f8c6b5-", "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5",
                "uid": "1c2d", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": [{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]},
        "status": {"phase": "Pending", "qosClass": "Burstable",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-23T03:00:00Z"}]}
    })
}

fn running(mut p: Value) -> Value {
    p["spec"]["nodeName"] = json!("node-17");
    p["status"] = json!({"phase": "Running", "qosClass": "Burstable", "hostIP": "172.16.0.18",
        "podIP": "10.42.17.9", "podIPs": [{"ip": "10.42.17.9"}], "startTime": "2026-11-23T03:00:01Z",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-23T03:00:02Z"},
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-23T03:00:01Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T03:00:03Z"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-23T03:00:03Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-23T03:00:00Z"}],
        "containerStatuses": [{"name": "web", "image": "nginx:1.27", "imageID": "sha256:abc", "containerID": "containerd://123",
            "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-23T03:00:02Z"}},
            "lastState": {}}]});
    p
}

fn write<'a>(manager: &'a str, subresource: &'a str) -> Write<'a> {
    Write {
        manager,
        api_version: "v1",
        subresource,
        time: "2026-11-23T03:00:03Z",
        definition: Some(DEF),
        has_status: true,
    }
}

/// Mean microseconds of `f` over `iters` runs.
fn time(iters: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / iters as f64
}

fn main() {
    let iters: usize = std::env::var("RKUBE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // The stored object after create (by the ReplicaSet controller) and binding.
    let mut created = pod();
    let mut m = ManagedFields::default();
    m.update(None, &created, &write("kube-controller-manager", ""));
    m.write_to(&mut created);
    let mut bound = created.clone();
    bound["spec"]["nodeName"] = json!("node-17");
    let mut m = ManagedFields::of(&created);
    m.update(Some(&created), &bound, &write("kube-scheduler", "binding"));
    m.write_to(&mut bound);
    let status = running(bound.clone());
    let bytes = serde_json::to_vec(&status).unwrap();

    println!("managedFields cost per write ({iters} iterations, µs per write)");
    println!("{:<44} {:>10}", "case", "µs");
    let floor = time(iters, || {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        std::hint::black_box(serde_json::to_vec(&v).unwrap());
    });
    println!(
        "{:<44} {floor:>10.1}",
        "reference: JSON decode + encode of the pod"
    );
    let create = time(iters, || {
        let mut obj = pod();
        let mut m = ManagedFields::default();
        m.update(None, &obj, &write("kube-controller-manager", ""));
        m.write_to(&mut obj);
        std::hint::black_box(obj);
    });
    let build = time(iters, || {
        std::hint::black_box(pod());
    });
    println!("{:<44} {:>10.1}", "create (controller)", create - build);
    let status_update = time(iters, || {
        let mut new = status.clone();
        let mut m = ManagedFields::for_update(&bound, &new, "status");
        m.update(Some(&bound), &new, &write("kubelet", "status"));
        m.write_to(&mut new);
        std::hint::black_box(new);
    });
    let clone = time(iters, || {
        std::hint::black_box(status.clone());
    });
    println!(
        "{:<44} {:>10.1}",
        "status update (kubelet, Pending → Running)",
        status_update - clone
    );
    let status_incremental = time(iters, || {
        let mut new = status.clone();
        record_update(&bound, &mut new, &write("kubelet", "status"));
        std::hint::black_box(new);
    });
    println!(
        "{:<44} {:>10.1}",
        "  the same, entries decoded only if touched",
        status_incremental - clone
    );
    let mut relabel = bound.clone();
    relabel["metadata"]["labels"]["tier"] = json!("front");
    let spec_update = time(iters, || {
        let mut new = relabel.clone();
        let mut m = ManagedFields::for_update(&bound, &new, "");
        m.update(Some(&bound), &new, &write("kubectl-label", ""));
        m.write_to(&mut new);
        std::hint::black_box(new);
    });
    println!(
        "{:<44} {:>10.1}",
        "update adding one label (kubectl)",
        spec_update - clone
    );
    let spec_incremental = time(iters, || {
        let mut new = relabel.clone();
        record_update(&bound, &mut new, &write("kubectl-label", ""));
        std::hint::black_box(new);
    });
    println!(
        "{:<44} {:>10.1}",
        "  the same, entries decoded only if touched",
        spec_incremental - clone
    );
    let noop = time(iters, || {
        let mut new = bound.clone();
        let mut m = ManagedFields::for_update(&bound, &new, "");
        m.update(Some(&bound), &new, &write("kube-controller-manager", ""));
        m.write_to(&mut new);
        std::hint::black_box(new);
    });
    println!("{:<44} {:>10.1}", "no-op update", noop - clone);
    let noop_incremental = time(iters, || {
        let mut new = bound.clone();
        record_update(&bound, &mut new, &write("kube-controller-manager", ""));
        std::hint::black_box(new);
    });
    println!(
        "{:<44} {:>10.1}",
        "  the same, entries decoded only if touched",
        noop_incremental - clone
    );

    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    println!();
    let floor_ref = format!("JSON decode + encode of the pod {floor:.1} µs");
    for (what, us) in [
        ("create (controller)", create - build),
        (
            "status update (kubelet), entries decoded only if touched",
            status_incremental - clone,
        ),
        (
            "label update (kubectl), entries decoded only if touched",
            spec_incremental - clone,
        ),
    ] {
        println!("SUMMARY | managedFields: {what} | {us:.1} µs | {floor_ref}");
    }
}
