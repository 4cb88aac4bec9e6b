//! Strategic merge patch against upstream's documented behaviour for the built-in types.

use serde_json::{Value, json};

use super::PatchError;
use super::strategic::apply;

const POD: &str = "io.k8s.api.core.v1.Pod";
const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const SERVICE: &str = "io.k8s.api.core.v1.Service";

fn pod_spec(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

#[test]
fn pod_lists_merge_by_their_keys() {
    let cases = [
        // (what, original spec, patch spec, expected spec)
        (
            "containers merged by name; a new one goes first (no $setElementOrder)",
            json!({"containers": [{"name": "web", "image": "nginx:1"}]}),
            json!({"containers": [{"name": "web", "image": "nginx:2"}, {"name": "log", "image": "tail"}]}),
            json!({"containers": [{"name": "web", "image": "nginx:2"}, {"name": "log", "image": "tail"}]}),
        ),
        (
            "a patched container keeps its other fields",
            json!({"containers": [{"name": "a", "image": "i", "args": ["x"]}, {"name": "b", "image": "j"}]}),
            json!({"containers": [{"name": "b", "image": "j2"}]}),
            json!({"containers": [{"name": "a", "image": "i", "args": ["x"]}, {"name": "b", "image": "j2"}]}),
        ),
        (
            "ports merged by containerPort",
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]}]}),
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}),
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]}]}),
        ),
        (
            "env merged by name, null deletes a field of an item",
            json!({"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}),
            json!({"containers": [{"name": "c", "env": [{"name": "B", "value": "3"}, {"name": "A", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}),
            json!({"containers": [{"name": "c", "env": [{"name": "B", "value": "3"}, {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}),
        ),
        (
            "volumes merged by name",
            json!({"volumes": [{"name": "a", "emptyDir": {}}]}),
            json!({"volumes": [{"name": "b", "emptyDir": {}}]}),
            json!({"volumes": [{"name": "b", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}),
        ),
        (
            "$retainKeys clears a volume's other source",
            json!({"volumes": [{"name": "v", "emptyDir": {}}]}),
            json!({"volumes": [{"$retainKeys": ["hostPath", "name"], "name": "v", "hostPath": {"path": "/x"}}]}),
            json!({"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}),
        ),
        (
            "tolerations have no strategy: replaced",
            json!({"tolerations": [{"key": "a", "operator": "Exists"}]}),
            json!({"tolerations": [{"key": "b", "operator": "Exists"}]}),
            json!({"tolerations": [{"key": "b", "operator": "Exists"}]}),
        ),
        (
            "args (no strategy) replaced",
            json!({"containers": [{"name": "c", "args": ["a", "b"]}]}),
            json!({"containers": [{"name": "c", "args": ["c"]}]}),
            json!({"containers": [{"name": "c", "args": ["c"]}]}),
        ),
        (
            "$patch: delete removes the item with that key",
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"containers": [{"name": "a", "$patch": "delete"}]}),
            json!({"containers": [{"name": "b"}]}),
        ),
        (
            "$patch: replace makes the list the patch's items",
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}),
            json!({"containers": [{"name": "c", "image": "y"}, {"$patch": "replace"}]}),
            json!({"containers": [{"name": "c", "image": "y"}]}),
        ),
        (
            "$setElementOrder orders the merged list",
            json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            json!({"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
            json!({"containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
        ),
        (
            "$setElementOrder with an added item puts it where listed",
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"$setElementOrder/containers": [{"name": "a"}, {"name": "n"}, {"name": "b"}],
                "containers": [{"name": "n", "image": "i"}]}),
            json!({"containers": [{"name": "a"}, {"name": "n", "image": "i"}, {"name": "b"}]}),
        ),
        (
            "$patch: replace on a map replaces it",
            json!({"nodeSelector": {"a": "1", "b": "2"}}),
            json!({"nodeSelector": {"$patch": "replace", "c": "3"}}),
            json!({"nodeSelector": {"c": "3"}}),
        ),
        (
            "$patch: delete on an existing map leaves it empty (as upstream)",
            json!({"securityContext": {"runAsUser": 1}}),
            json!({"securityContext": {"$patch": "delete"}}),
            json!({"securityContext": {}}),
        ),
        (
            "$patch: delete on an absent map adds nothing",
            json!({}),
            json!({"securityContext": {"$patch": "delete"}}),
            json!({}),
        ),
        (
            "null deletes a field; a new field keeps no nulls or directives",
            json!({"hostNetwork": true, "dnsPolicy": "Default"}),
            json!({"hostNetwork": null, "affinity": {"nodeAffinity": null, "podAffinity": {"$patch": "merge"}}}),
            json!({"dnsPolicy": "Default", "affinity": {"podAffinity": {}}}),
        ),
    ];
    for (what, original, patch, want) in cases {
        let got = apply(&pod_spec(original), &json!({"spec": patch}), POD)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got, pod_spec(want), "{what}");
    }
}

#[test]
fn finalizers_merge_as_a_set() {
    let obj = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
    let cases = [
        (json!({"finalizers": ["b", "c"]}), json!(["a", "b", "c"])),
        (json!({"finalizers": ["c"]}), json!(["c", "a", "b"])),
        (
            json!({"$deleteFromPrimitiveList/finalizers": ["a"]}),
            json!(["b"]),
        ),
        (
            json!({"$setElementOrder/finalizers": ["c", "b"],
                   "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}),
            json!(["c", "b"]),
        ),
    ];
    for (patch, want) in cases {
        let got = apply(&obj, &json!({"metadata": patch}), POD).unwrap();
        assert_eq!(got["metadata"]["finalizers"], want, "{patch}");
    }
}

#[test]
fn nested_types_and_retain_keys() {
    let deploy = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
                {"name": "a", "image": "i", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "j"}]}}
        }
    });
    // What kubectl apply sends to switch the strategy type.
    let patch = json!({"spec": {
        "strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"},
        "template": {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}
    }});
    let got = apply(&deploy, &patch, DEPLOYMENT).unwrap();
    assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "a", "image": "i", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]},
            {"name": "b", "image": "j"}
        ])
    );
    assert_eq!(
        got["spec"]["template"]["metadata"],
        deploy["spec"]["template"]["metadata"]
    );

    let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
    let got = apply(
        &svc,
        &json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
        SERVICE,
    )
    .unwrap();
    assert_eq!(
        got["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}])
    );
}

#[test]
fn unknown_definitions_merge_like_json_merge_patch() {
    let obj = json!({"spec": {"items": [{"name": "a"}], "m": {"x": 1}}});
    let got = apply(
        &obj,
        &json!({"spec": {"items": [{"name": "b"}], "m": {"y": 2}}}),
        "io.example.v1.W",
    )
    .unwrap();
    assert_eq!(
        got,
        json!({"spec": {"items": [{"name": "b"}], "m": {"x": 1, "y": 2}}})
    );
}

#[test]
fn bad_patches_are_refused() {
    let obj = pod_spec(
        json!({"containers": [{"name": "a"}], "volumes": [{"name": "v", "emptyDir": {}}]}),
    );
    let malformed = [
        json!([1]),
        json!({"spec": {"volumes": [{"name": "v", "$retainKeys": "name"}]}}),
        json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "hostPath": {}}]}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
        json!({"spec": {"$setElementOrder/containers": {"name": "a"}}}),
        json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "z"}]}}),
        json!({"spec": {"securityContext": {"$patch": "explode"}}}),
    ];
    for patch in malformed {
        assert!(
            matches!(apply(&obj, &patch, POD), Err(PatchError::Malformed(_))),
            "{patch}: {:?}",
            apply(&obj, &patch, POD)
        );
    }
    let does_not_apply = [
        (
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
            "merging lists cannot yet",
        ),
        (
            json!({"spec": {"containers": ["a"]}}),
            "list element types are not identical",
        ),
        (
            json!({"metadata": {"finalizers": [["a"]]}}),
            "lists of lists",
        ),
        (
            json!({"$patch": "delete"}),
            "cannot delete the whole object",
        ),
    ];
    for (patch, want) in does_not_apply {
        match apply(&obj, &patch, POD) {
            Err(PatchError::DoesNotApply(msg)) => assert!(msg.contains(want), "{patch}: {msg}"),
            other => panic!("{patch}: {other:?}"),
        }
    }
}
