use super::managers::{MAX_UPDATE_MANAGERS, ManagedFields, Operation, Write};
use super::set::FieldSet;
use super::walk::{compare, extract};
use serde_json::{Value, json};

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn write<'a>(manager: &'a str, time: &'a str) -> Write<'a> {
    Write {
        manager,
        api_version: "apps/v1",
        subresource: "",
        time,
        definition: Some(DEPLOYMENT),
        has_status: true,
    }
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "c", "image": image,
                    "ports": [{"containerPort": 80}],
                }]},
            },
        },
    })
}

#[test]
fn fields_v1_of_a_deployment_as_upstream_encodes_it() {
    let set = extract(&deployment(1, "nginx"), Some(DEPLOYMENT));
    let encoded = set.to_fields_v1();
    let container =
        &encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
    assert_eq!(container["."], json!({}));
    assert_eq!(container["f:image"], json!({}));
    assert_eq!(
        container["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"],
        json!({".": {}, "f:containerPort": {}})
    );
    assert_eq!(
        encoded["f:metadata"],
        json!({"f:labels": {"f:app": {}}, "f:name": {}})
    );
    assert_eq!(encoded["f:spec"]["f:replicas"], json!({}));
    assert_eq!(FieldSet::from_fields_v1(&encoded).unwrap(), set);
}

#[test]
fn sets_and_atomic_lists() {
    let pod = json!({"metadata": {"finalizers": ["a", "b"]},
                     "spec": {"tolerations": [{"key": "k"}], "containers": []}});
    let encoded = extract(&pod, Some("io.k8s.api.core.v1.Pod")).to_fields_v1();
    assert_eq!(
        encoded["f:metadata"]["f:finalizers"],
        json!({"v:\"a\"": {}, "v:\"b\"": {}})
    );
    assert_eq!(encoded["f:spec"]["f:tolerations"], json!({}));
    assert!(encoded["f:spec"].get("f:containers").is_none());
}

#[test]
fn compare_reports_changes_by_key() {
    let old = deployment(1, "nginx");
    let mut new = deployment(2, "nginx");
    new["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "d", "image": "busybox"}));
    let cmp = compare(&old, &new, Some(DEPLOYMENT));
    let modified: Vec<String> = cmp
        .modified
        .paths()
        .iter()
        .map(|p| super::set::display(p))
        .collect();
    assert_eq!(modified, [".spec.replicas"]);
    let added: Vec<String> = cmp
        .added
        .paths()
        .iter()
        .map(|p| super::set::display(p))
        .collect();
    assert_eq!(
        added,
        [
            ".spec.template.spec.containers[name=\"d\"]",
            ".spec.template.spec.containers[name=\"d\"].image",
            ".spec.template.spec.containers[name=\"d\"].name",
        ]
    );
    assert!(cmp.removed.is_empty());
}

#[test]
fn create_records_the_creator_without_status_or_identity() {
    let mut obj = deployment(1, "nginx");
    obj["status"] = json!({"replicas": 0});
    obj["metadata"]["uid"] = json!("u");
    let mut managed = ManagedFields::default();
    managed.update(None, &obj, &write("kubectl-create", "2025-01-01T00:00:00Z"));
    let encoded = managed.encode();
    assert_eq!(encoded.as_array().unwrap().len(), 1);
    let entry = &encoded[0];
    assert_eq!(entry["manager"], "kubectl-create");
    assert_eq!(entry["operation"], "Update");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["time"], "2025-01-01T00:00:00Z");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry.get("subresource").is_none());
    let fields = &entry["fieldsV1"];
    assert!(fields.get("f:status").is_none());
    assert!(fields.get("f:apiVersion").is_none());
    assert_eq!(
        fields["f:metadata"],
        json!({"f:labels": {".": {}, "f:app": {}}})
    );
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert!(fields["f:spec"].get(".").is_none());
}

#[test]
fn update_moves_changed_fields_and_merges_entries() {
    let v1 = deployment(1, "nginx");
    let mut managed = ManagedFields::default();
    managed.update(None, &v1, &write("creator", "2025-01-01T00:00:00Z"));
    let v2 = deployment(3, "nginx");
    managed.update(Some(&v1), &v2, &write("scaler", "2025-01-01T00:00:01Z"));
    let v3 = deployment(4, "nginx");
    managed.update(Some(&v2), &v3, &write("scaler", "2025-01-01T00:00:02Z"));
    assert_eq!(managed.entries.len(), 2);
    let scaler = managed
        .entries
        .iter()
        .find(|e| e.manager == "scaler")
        .unwrap();
    assert_eq!(
        scaler.fields.to_fields_v1(),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(scaler.time.as_deref(), Some("2025-01-01T00:00:02Z"));
    let creator = managed
        .entries
        .iter()
        .find(|e| e.manager == "creator")
        .unwrap();
    assert!(
        creator.fields.to_fields_v1()["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    // An update that changes nothing leaves everything as it was.
    let before = managed.clone();
    managed.update(Some(&v3), &v3, &write("other", "2025-01-01T00:00:03Z"));
    assert_eq!(managed, before);
}

#[test]
fn apply_conflicts_force_and_shared_ownership() {
    let config = deployment(1, "nginx");
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(
            None,
            &config,
            false,
            &write("alice", "2025-01-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    // Bob changes replicas with an update: he owns it now.
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    managed.update(Some(&live), &scaled, &write("bob", "2025-01-01T00:00:01Z"));
    // Alice re-applies replicas 1: conflict naming bob and the field.
    let err = managed
        .clone()
        .apply(
            Some(&scaled),
            &config,
            false,
            &write("alice", "2025-01-01T00:00:02Z"),
        )
        .unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].manager, "\"bob\" using apps/v1");
    assert_eq!(err[0].field, ".spec.replicas");
    let status = super::conflict_error(&err);
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"bob\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        status.details.as_ref().unwrap().causes[0].reason,
        "FieldManagerConflict"
    );
    // Applying bob's value shares ownership instead.
    let mut same = config.clone();
    same["spec"]["replicas"] = json!(5);
    let mut shared = managed.clone();
    shared
        .apply(
            Some(&scaled),
            &same,
            false,
            &write("alice", "2025-01-01T00:00:02Z"),
        )
        .unwrap();
    assert_eq!(shared.entries.len(), 2);
    // Force takes it from bob, whose entry, now empty, goes.
    let forced = managed
        .apply(
            Some(&scaled),
            &config,
            true,
            &write("alice", "2025-01-01T00:00:02Z"),
        )
        .unwrap();
    assert_eq!(forced["spec"]["replicas"], 1);
    assert_eq!(managed.entries.len(), 1);
    assert_eq!(managed.entries[0].operation, Operation::Apply);
}

#[test]
fn apply_removes_fields_the_applier_dropped_unless_others_own_them() {
    let mut config = deployment(1, "nginx");
    config["metadata"]["labels"]["tier"] = json!("front");
    config["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "side", "image": "busybox"}));
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(None, &config, false, &write("alice", "t1"))
        .unwrap();
    // Carol also sets the tier label to the same value (shared ownership).
    let carol = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "labels": {"tier": "front"}}});
    let live = managed
        .apply(Some(&live), &carol, false, &write("carol", "t2"))
        .unwrap();
    // Alice drops the label and the sidecar.
    let again = deployment(1, "nginx");
    let live = managed
        .apply(Some(&live), &again, false, &write("alice", "t3"))
        .unwrap();
    assert_eq!(live["metadata"]["labels"]["tier"], "front");
    let containers = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "c");
    // Carol drops it too: now it goes.
    let carol_none = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "web"}});
    let live = managed
        .apply(Some(&live), &carol_none, false, &write("carol", "t4"))
        .unwrap();
    assert!(live["metadata"]["labels"].get("tier").is_none());
    assert_eq!(live["metadata"]["labels"]["app"], "web");
}

#[test]
fn apply_merges_containers_by_name() {
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(None, &deployment(1, "nginx"), false, &write("alice", "t1"))
        .unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}});
    let live = managed
        .apply(Some(&live), &sidecar, false, &write("bob", "t2"))
        .unwrap();
    let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "side"]);
}

#[test]
fn managed_fields_reset_and_kept_on_update() {
    let old = json!({"metadata": {"managedFields": [{"manager": "a", "operation": "Update",
        "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}}]}});
    let reset = json!({"metadata": {"managedFields": []}});
    assert!(
        ManagedFields::for_update(&old, &reset, "")
            .entries
            .is_empty()
    );
    let omitted = json!({"metadata": {}});
    assert_eq!(
        ManagedFields::for_update(&old, &omitted, "").entries.len(),
        1
    );
    assert_eq!(
        ManagedFields::for_update(&old, &reset, "status")
            .entries
            .len(),
        1
    );
}

#[test]
fn update_managers_are_capped() {
    let mut managed = ManagedFields::default();
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let w = |m: &'static str, t: &'static str| Write {
        manager: m,
        api_version: "v1",
        subresource: "",
        time: t,
        definition: Some("io.k8s.api.core.v1.ConfigMap"),
        has_status: false,
    };
    let names = [
        "m00", "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11",
    ];
    let times = [
        "t00", "t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11",
    ];
    for (name, time) in names.iter().zip(times) {
        let mut next = obj.clone();
        next["data"][*name] = json!("v");
        managed.update(Some(&obj), &next, &w(name, time));
        obj = next;
    }
    assert_eq!(managed.entries.len(), MAX_UPDATE_MANAGERS);
    let ancient = managed
        .entries
        .iter()
        .find(|e| e.manager == "ancient-changes")
        .unwrap();
    assert_eq!(
        ancient.fields.to_fields_v1(),
        json!({"f:data": {".": {}, "f:m00": {}, "f:m01": {}, "f:m02": {}}})
    );
}
