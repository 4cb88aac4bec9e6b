//! Tests of the whole documents, checking what kubectl relies on.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use rkube_api::resources::{BUILTIN, ResourceInfo, is_virtual};
use serde_json::{Value, json};

use super::refs::for_each_ref;
use super::{OpenApi, hash, proto};

fn all_builtin() -> Vec<&'static ResourceInfo> {
    BUILTIN.iter().collect()
}

fn openapi() -> &'static OpenApi {
    static DOCS: OnceLock<OpenApi> = OnceLock::new();
    DOCS.get_or_init(|| OpenApi::new(&all_builtin()))
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("document is JSON")
}

fn v2() -> Value {
    parse(openapi().v2())
}

fn prefix_of(r: &ResourceInfo) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

fn v3(prefix: &str) -> Value {
    parse(
        openapi()
            .v3_group_version(prefix)
            .unwrap_or_else(|| panic!("no v3 document for {prefix}")),
    )
}

/// The paths upstream serves for a resource, with the methods each must have.
fn expected_paths(r: &ResourceInfo) -> Vec<(String, Vec<&'static str>)> {
    let base = format!("/{}", prefix_of(r));
    let collection = if r.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };
    if is_virtual(r) {
        return vec![(collection, vec!["post"])];
    }
    let item = format!("{collection}/{{name}}");
    let mut out = vec![
        (collection, vec!["get", "post", "delete"]),
        (item.clone(), vec!["get", "put", "patch", "delete"]),
    ];
    if r.namespaced {
        out.push((format!("{base}/{}", r.plural), vec!["get"]));
    }
    for sub in r.subresources {
        let methods = match *sub {
            "binding" | "eviction" => vec!["post"],
            // Connect subresources (served by the kubelet): not in the documents yet.
            "log" | "exec" | "attach" | "portforward" | "proxy" => continue,
            _ => vec!["get", "put", "patch"],
        };
        out.push((format!("{item}/{sub}"), methods));
    }
    out
}

fn param_names(op: &Value) -> BTreeSet<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn protobuf_is_chosen_by_accept() {
    use super::accepts_v2_protobuf;
    assert!(accepts_v2_protobuf(
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    ));
    assert!(accepts_v2_protobuf(
        "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    ));
    assert!(!accepts_v2_protobuf("application/json, */*"));
    assert!(!accepts_v2_protobuf(""));
}

#[test]
fn documents_parse_with_the_right_versions() {
    let v2 = v2();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"].as_object().is_some_and(|d| d.len() > 100));
    let root = parse(openapi().v3_root());
    let paths = root["paths"].as_object().expect("root has paths");
    assert!(paths.contains_key("api/v1"));
    assert!(paths.contains_key("apis/apps/v1"));
    for prefix in openapi().v3_prefixes() {
        let doc = v3(prefix);
        assert_eq!(doc["openapi"], "3.0.0");
        assert!(doc["components"]["schemas"].is_object());
    }
}

#[test]
fn root_urls_carry_the_content_hash() {
    let root = parse(openapi().v3_root());
    for (prefix, entry) in root["paths"].as_object().unwrap() {
        let bytes = openapi().v3_group_version(prefix).unwrap();
        let want = format!("/openapi/v3/{prefix}?hash={}", hash::content_hash(bytes));
        assert_eq!(entry["serverRelativeURL"], json!(want));
        assert_eq!(
            openapi().v3_hash(prefix),
            Some(hash::content_hash(bytes).as_str())
        );
    }
    assert!(openapi().v3_group_version("/api/v1/").is_some());
    assert!(openapi().v3_group_version("apis/nope/v1").is_none());
}

#[test]
fn every_resource_has_its_paths_with_gvk_and_field_validation() {
    let v2 = v2();
    for r in BUILTIN {
        let doc3 = v3(&prefix_of(r));
        for (path, methods) in expected_paths(r) {
            for (version, doc) in [("v2", &v2), ("v3", &doc3)] {
                let item = &doc["paths"][&path];
                assert!(item.is_object(), "{version}: missing path {path}");
                for method in &methods {
                    let op = &item[*method];
                    assert!(op.is_object(), "{version}: missing {method} {path}");
                    let gvk = &op["x-kubernetes-group-version-kind"];
                    assert!(gvk.is_object(), "{version}: {method} {path} has no GVK");
                    assert!(op["x-kubernetes-action"].is_string());
                    if matches!(*method, "post" | "put" | "patch") {
                        let names = param_names(op);
                        for p in ["fieldValidation", "dryRun", "fieldManager"] {
                            assert!(names.contains(p), "{version}: {method} {path} lacks {p}");
                        }
                    }
                }
            }
        }
        // The list operation's GVK is the resource's own (kubectl explain starts there).
        if !is_virtual(r) {
            let (path, _) = &expected_paths(r)[0];
            assert_eq!(
                doc3["paths"][path]["get"]["x-kubernetes-group-version-kind"],
                json!({"group": r.group, "kind": r.kind, "version": r.version})
            );
            let names = param_names(&doc3["paths"][path]["get"]);
            for p in [
                "labelSelector",
                "fieldSelector",
                "limit",
                "continue",
                "resourceVersion",
                "resourceVersionMatch",
                "watch",
                "timeoutSeconds",
                "allowWatchBookmarks",
                "sendInitialEvents",
            ] {
                assert!(names.contains(p), "list {path} lacks {p}");
            }
        }
    }
}

/// kubectl's `supportsQueryParamV3`: for each GVK it takes the first PATCH operation (in map
/// order, which Go randomizes) with that GVK and requires `fieldValidation` there. So every
/// PATCH operation must have it, and every served non-virtual kind must have one.
#[test]
fn kubectl_field_validation_check_passes_for_every_kind() {
    for prefix in openapi().v3_prefixes() {
        let doc = v3(prefix);
        for (path, item) in doc["paths"].as_object().unwrap() {
            if let Some(op) = item.get("patch") {
                assert!(
                    param_names(op).contains("fieldValidation"),
                    "PATCH {path} lacks fieldValidation"
                );
                let body = &op["requestBody"]["content"];
                assert!(
                    body.get("application/strategic-merge-patch+json").is_some(),
                    "PATCH {path} does not take strategic merge patches"
                );
            }
        }
    }
    for r in BUILTIN.iter().filter(|r| !is_virtual(r)) {
        let doc = v3(&prefix_of(r));
        let gvk = json!({"group": r.group, "kind": r.kind, "version": r.version});
        let found = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|item| item.get("patch"))
            .any(|op| op["x-kubernetes-group-version-kind"] == gvk);
        assert!(found, "no PATCH operation for {gvk}");
    }
}

fn assert_refs_resolve(doc: &Value, prefix: &str, defs: &Value, what: &str) {
    let defs = defs.as_object().expect("definitions object");
    let mut missing = BTreeSet::new();
    let mut count = 0;
    for_each_ref(doc, &mut |r| {
        count += 1;
        match r.strip_prefix(prefix) {
            Some(name) if defs.contains_key(name) => {}
            _ => {
                missing.insert(r.to_string());
            }
        }
    });
    assert!(count > 0, "{what}: no references at all");
    assert!(missing.is_empty(), "{what}: unresolved {missing:?}");
}

#[test]
fn every_ref_resolves_within_its_document() {
    let v2 = v2();
    assert_refs_resolve(&v2, "#/definitions/", &v2["definitions"], "v2");
    for prefix in openapi().v3_prefixes() {
        let doc = v3(prefix);
        assert_refs_resolve(
            &doc,
            "#/components/schemas/",
            &doc["components"]["schemas"],
            prefix,
        );
    }
}

#[test]
fn operation_ids_are_unique() {
    let v2 = v2();
    let mut seen = BTreeSet::new();
    for item in v2["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "duplicate operationId {id}");
        }
    }
}

#[test]
fn patch_extensions_are_present() {
    let v2 = v2();
    let core = v3("api/v1");
    let apps = v3("apis/apps/v1");
    for (defs, what) in [
        (&v2["definitions"], "v2"),
        (&core["components"]["schemas"], "v3 api/v1"),
        (&apps["components"]["schemas"], "v3 apps/v1"),
    ] {
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name", "{what}");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge", "{what}");
        assert_eq!(containers["x-kubernetes-list-type"], "map", "{what}");
        assert_eq!(
            containers["x-kubernetes-list-map-keys"],
            json!(["name"]),
            "{what}"
        );
        let ports = &defs["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(
            ports["x-kubernetes-patch-merge-key"], "containerPort",
            "{what}"
        );
        assert_eq!(ports["x-kubernetes-patch-strategy"], "merge", "{what}");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"]),
            "{what}"
        );
        let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let finalizers =
            &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
        assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    }
    let service_ports =
        &core["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
    assert_eq!(service_ports["x-kubernetes-patch-merge-key"], "port");
    let conditions = &apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentStatus"]["properties"]
        ["conditions"];
    assert_eq!(conditions["x-kubernetes-patch-merge-key"], "type");
}

/// Resolves `#/components/schemas/<name>` the way kubectl explain's `resolveRef` does.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The lookup `kubectl explain pods.spec.containers` performs on the v3 document.
#[test]
fn explain_pods_spec_containers_resolves() {
    let doc = v3("api/v1");
    // 1. GVK from the list operation of the resource's path.
    let gvk = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["x-kubernetes-group-version-kind"];
    assert_eq!(gvk, &json!({"group": "", "kind": "Pod", "version": "v1"}));
    // 2. The schema whose GVK list contains it.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let matching: Vec<_> = schemas
        .values()
        .filter(|s| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|l| l.contains(gvk))
        })
        .collect();
    assert_eq!(matching.len(), 1);
    let pod = matching[0];
    assert!(
        pod["description"]
            .as_str()
            .unwrap()
            .contains("collection of containers")
    );
    // 3. Follow spec → containers → items.
    let spec = &pod["properties"]["spec"];
    assert!(
        spec["description"]
            .as_str()
            .unwrap()
            .contains("Specification")
    );
    let pod_spec = resolve(&doc, spec);
    let containers = &pod_spec["properties"]["containers"];
    assert!(
        containers["description"]
            .as_str()
            .unwrap()
            .contains("List of containers belonging to the pod")
    );
    let container = resolve(&doc, &containers["items"]);
    assert!(
        container["description"]
            .as_str()
            .unwrap()
            .contains("container")
    );
    assert!(container["properties"]["image"]["description"].is_string());
    assert!(
        container["required"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );
}

#[test]
fn v3_documents_hold_only_their_group_version() {
    let apps = v3("apis/apps/v1");
    for path in apps["paths"].as_object().unwrap().keys() {
        assert!(path.starts_with("/apis/apps/v1/"), "{path}");
    }
    let schemas = apps["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("io.k8s.api.apps.v1.Deployment"));
    assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
    assert!(!schemas.contains_key("io.k8s.api.core.v1.Service"));
}

#[test]
fn v2_protobuf_carries_the_same_document() {
    use proto::decode::{named, one, text};
    let bytes = openapi().v2_protobuf();
    assert_eq!(text(bytes, 1), Some("2.0"));
    let defs = one(bytes, 9).expect("definitions");
    let pod = named(defs, 1, "io.k8s.api.core.v1.Pod").expect("Pod definition");
    let gvk = named(pod, 31, "x-kubernetes-group-version-kind").expect("GVK extension");
    let gvk: Value = serde_json::from_str(text(gvk, 2).unwrap()).unwrap();
    assert_eq!(gvk, json!([{"group": "", "kind": "Pod", "version": "v1"}]));
    let paths = one(bytes, 8).expect("paths");
    let item = named(paths, 2, "/api/v1/namespaces/{namespace}/pods/{name}").expect("pod path");
    assert!(one(item, 8).is_some(), "PATCH operation");
    let v2 = v2();
    let count = proto::decode::all(paths, 2).len();
    assert_eq!(count, v2["paths"].as_object().unwrap().len());
}

/// Prints build time and sizes (`cargo test -- --nocapture openapi::tests::report`).
#[test]
fn report_build_time_and_sizes() {
    let start = std::time::Instant::now();
    let docs = OpenApi::new(&all_builtin());
    let elapsed = start.elapsed();
    let v3_total: usize = docs
        .v3_prefixes()
        .filter_map(|p| docs.v3_group_version(p))
        .map(|b| b.len())
        .sum();
    println!(
        "openapi: built in {elapsed:?}; v2 {} bytes JSON, {} bytes protobuf; v3 root {} bytes, {} group versions, {} bytes total (api/v1 {} bytes)",
        docs.v2().len(),
        docs.v2_protobuf().len(),
        docs.v3_root().len(),
        docs.v3_prefixes().count(),
        v3_total,
        docs.v3_group_version("api/v1").map_or(0, |b| b.len()),
    );
}

/// Writes the documents under `$RKUBE_OPENAPI_DUMP` (a directory) for manual checks with real
/// clients; does nothing when unset.
#[test]
fn dump_documents_when_asked() {
    let Some(dir) = std::env::var_os("RKUBE_OPENAPI_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let docs = openapi();
    std::fs::write(dir.join("v2.json"), docs.v2()).unwrap();
    std::fs::write(dir.join("v2.pb"), docs.v2_protobuf()).unwrap();
    std::fs::write(dir.join("root.json"), docs.v3_root()).unwrap();
    for prefix in docs.v3_prefixes() {
        let name = format!("{}.json", prefix.replace('/', "_"));
        std::fs::write(dir.join(name), docs.v3_group_version(prefix).unwrap()).unwrap();
    }
}
