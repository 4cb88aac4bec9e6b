//! `record_update` (entries decoded only where a write touches them) must store exactly what
//! the full bookkeeping stores, write after write.

use super::managers::{MAX_UPDATE_MANAGERS, ManagedFields, Write};
use super::record_update;
use serde_json::{Value, json};

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn write<'a>(manager: &'a str, subresource: &'a str, time: &'a str) -> Write<'a> {
    Write {
        manager,
        api_version: "apps/v1",
        subresource,
        time,
        definition: Some(DEPLOYMENT),
        has_status: true,
    }
}

fn full(old: &Value, new: &Value, w: &Write) -> Value {
    let mut new = new.clone();
    let mut managed = ManagedFields::for_update(old, &new, w.subresource);
    managed.update(Some(old), &new, w);
    managed.write_to(&mut new);
    new
}

fn incremental(old: &Value, new: &Value, w: &Write) -> Value {
    let mut new = new.clone();
    record_update(old, &mut new, w);
    new
}

fn created() -> Value {
    let mut obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}]}}},
    });
    let mut managed = ManagedFields::default();
    managed.update(
        None,
        &obj,
        &write("kubectl-create", "", "2026-01-01T00:00:00Z"),
    );
    managed.write_to(&mut obj);
    obj
}

/// Applies `edit` to the stored object as `w`, both ways; returns the (equal) results.
fn step(stored: &Value, w: &Write, edit: impl Fn(&mut Value)) -> Value {
    let mut new = stored.clone();
    edit(&mut new);
    let expected = full(stored, &new, w);
    let got = incremental(stored, &new, w);
    assert_eq!(got, expected, "{} ({:?})", w.manager, w.subresource);
    got
}

#[test]
fn a_sequence_of_writes_stores_what_the_full_bookkeeping_stores() {
    let t = |s: u32| format!("2026-01-01T00:00:{s:02}Z");
    let times: Vec<String> = (1..40).map(t).collect();
    let mut obj = created();
    // The controller's status, twice (the second time only one field changes).
    obj = step(
        &obj,
        &write("kube-controller-manager", "status", &times[0]),
        |o| {
            o["status"] = json!({"replicas": 1, "readyReplicas": 0, "conditions": [{"type": "Available", "status": "False"}]});
        },
    );
    obj = step(
        &obj,
        &write("kube-controller-manager", "status", &times[1]),
        |o| {
            o["status"]["readyReplicas"] = json!(1);
        },
    );
    // A label added by another manager, then one removed by a third.
    obj = step(&obj, &write("kubectl-label", "", &times[2]), |o| {
        o["metadata"]["labels"]["tier"] = json!("front");
    });
    obj = step(&obj, &write("kubectl-edit", "", &times[3]), |o| {
        o["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
    });
    // The image taken over, a container added, an env entry removed.
    obj = step(&obj, &write("kubectl-set", "", &times[4]), |o| {
        o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    });
    obj = step(&obj, &write("kubectl-edit", "", &times[5]), |o| {
        let c = o["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        c.push(json!({"name": "side", "image": "busybox"}));
        c[0]["env"] = json!([]);
    });
    // A no-op update, a status write that carries other entries in its body (ignored), and
    // a spec write through the main resource that tries to change status (filtered).
    obj = step(&obj, &write("kubectl-create", "", &times[6]), |_| {});
    obj = step(
        &obj,
        &write("kube-controller-manager", "status", &times[7]),
        |o| {
            o["metadata"]["managedFields"] = json!([]);
            o["status"]["replicas"] = json!(2);
        },
    );
    obj = step(&obj, &write("someone", "", &times[8]), |o| {
        o["status"]["replicas"] = json!(9);
        o["spec"]["replicas"] = json!(3);
    });
    // The last writer removes everything it owned (its entry goes away).
    obj = step(&obj, &write("someone", "", &times[9]), |o| {
        o["spec"].as_object_mut().unwrap().remove("replicas");
    });
    assert!(
        obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["manager"] != "someone"),
        "{obj:#}"
    );
    // More updaters than the cap: the oldest are merged away the same way.
    for i in 0..=MAX_UPDATE_MANAGERS {
        let manager = format!("m{i}");
        obj = step(&obj, &write(&manager, "", &times[10 + i]), |o| {
            o["metadata"]["annotations"] = json!({ manager.clone(): "x" });
        });
    }
}

#[test]
fn entries_sent_by_the_client_replace_the_stored_ones_as_before() {
    let obj = created();
    for sent in [
        json!([]),
        json!([{}]),
        json!([{"manager": "other", "operation": "Update", "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        json!("not a list"),
    ] {
        step(
            &obj,
            &write("kubectl-edit", "", "2026-01-01T00:01:00Z"),
            |o| {
                o["metadata"]["managedFields"] = sent.clone();
                o["spec"]["replicas"] = json!(5);
            },
        );
    }
}

#[test]
fn another_spelling_of_a_stored_key_still_counts_as_touched() {
    let mut obj = created();
    // The container's key as a client might have spelled it.
    let entry = &mut obj["metadata"]["managedFields"][0]["fieldsV1"];
    let containers = &mut entry["f:spec"]["f:template"]["f:spec"]["f:containers"];
    let c = containers
        .as_object_mut()
        .unwrap()
        .remove("k:{\"name\":\"c\"}")
        .unwrap();
    containers["k:{ \"name\": \"c\" }"] = c;
    let after = step(
        &obj,
        &write("kubectl-set", "", "2026-01-01T00:01:00Z"),
        |o| {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:3");
        },
    );
    let creator = &after["metadata"]["managedFields"][0];
    assert_eq!(creator["manager"], "kubectl-create");
    let c = &creator["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
    assert!(c.get("f:image").is_none(), "{creator:#}");
}
