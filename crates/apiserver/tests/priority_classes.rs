//! `scheduling.k8s.io/v1` PriorityClasses and the Priority admission of pods, with the real
//! kubectl: the built-in classes, upstream's table, validation and admission messages.

use crate::common;

use common::{Cluster, cluster};
use serde_json::Value;

fn pod(name: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec_extra}  containers:\n  - name: c\n    image: nginx:1.25\n"
    )
}

/// A PriorityClass manifest (kubectl then reports server errors as it does for any object,
/// rather than in `kubectl create priorityclass`'s own words).
fn class(name: &str, value: i64, extra: &str) -> String {
    format!(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\nvalue: {value}\n{extra}"
    )
}

async fn create(c: &Cluster, manifest: &str) -> common::Out {
    c.kubectl_stdin(&["create", "-f", "-"], Some(manifest))
        .await
}

async fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.ok(&all).await).unwrap()
}

/// Runs kubectl, expects it to fail, and returns its stderr.
async fn fails(c: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = c.kubectl_stdin(args, stdin).await;
    assert!(!out.ok, "kubectl {args:?} succeeded:\n{}", out.stdout);
    out.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_classes_table_discovery_and_explain() {
    let c = cluster().await;
    let table = c.ok(&["get", "priorityclasses"]).await;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    for (row, (name, value)) in rows.iter().zip([
        ("system-cluster-critical", "2000000000"),
        ("system-node-critical", "2000001000"),
    ]) {
        assert_eq!(row[..3], [name, value, "false"], "{table}");
        assert_eq!(row[4], "PreemptLowerPriority", "{table}");
    }
    // The short name, and the stored objects as upstream bootstraps them.
    let node_critical = get_json(&c, &["pc", "system-node-critical"]).await;
    assert_eq!(node_critical["apiVersion"], "scheduling.k8s.io/v1");
    assert_eq!(node_critical["value"], 2000001000);
    assert_eq!(
        node_critical["description"],
        "Used for system critical pods that must not be moved from their current node."
    );
    assert_eq!(node_critical["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(node_critical.get("globalDefault"), None);
    let cluster_critical = get_json(&c, &["pc", "system-cluster-critical"]).await;
    assert_eq!(
        cluster_critical["description"],
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."
    );

    let resources = c
        .ok(&["api-resources", "--api-group=scheduling.k8s.io"])
        .await;
    let line = resources
        .lines()
        .find(|l| l.starts_with("priorityclasses "))
        .unwrap_or_else(|| panic!("{resources}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "priorityclasses",
            "pc",
            "scheduling.k8s.io/v1",
            "false",
            "PriorityClass"
        ]
    );
    let explain = c.ok(&["explain", "priorityclass"]).await;
    assert!(explain.contains("KIND:       PriorityClass"), "{explain}");
    assert!(explain.contains("preemptionPolicy"), "{explain}");
    let field = c.ok(&["explain", "pc.globalDefault"]).await;
    assert!(field.contains("FIELD: globalDefault <boolean>"), "{field}");

    // The built-in classes stay.
    let err = fails(&c, &["delete", "pc", "system-node-critical"], None).await;
    assert!(
        err.contains(
            "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_their_priority_from_their_class() {
    let c = cluster().await;
    // No class and no default: priority 0, and no class name is set.
    assert!(create(&c, &pod("plain", "")).await.ok);
    let plain = get_json(&c, &["pod", "plain"]).await;
    assert_eq!(plain["spec"]["priority"], 0);
    assert_eq!(plain["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(plain["spec"].get("priorityClassName"), None);

    let out = c
        .ok(&[
            "create",
            "priorityclass",
            "high",
            "--value=1000",
            "--description=for the important ones",
        ])
        .await;
    assert_eq!(out.trim(), "priorityclass.scheduling.k8s.io/high created");
    c.ok(&[
        "create",
        "priorityclass",
        "patient",
        "--value=10",
        "--preemption-policy=Never",
    ])
    .await;
    let table = c.ok(&["get", "pc", "patient"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        [row[0], row[1], row[2], row[4]],
        ["patient", "10", "false", "Never"]
    );

    assert!(
        create(&c, &pod("important", "  priorityClassName: high\n"))
            .await
            .ok
    );
    let important = get_json(&c, &["pod", "important"]).await;
    assert_eq!(important["spec"]["priority"], 1000);
    assert_eq!(
        important["spec"]["preemptionPolicy"],
        "PreemptLowerPriority"
    );
    assert!(
        create(&c, &pod("waits", "  priorityClassName: patient\n"))
            .await
            .ok
    );
    let waits = get_json(&c, &["pod", "waits"]).await;
    assert_eq!(waits["spec"]["priority"], 10);
    assert_eq!(waits["spec"]["preemptionPolicy"], "Never");
    // The built-in classes resolve like any other.
    assert!(
        create(
            &c,
            &pod("critical", "  priorityClassName: system-node-critical\n")
        )
        .await
        .ok
    );
    let critical = get_json(&c, &["pod", "critical"]).await;
    assert_eq!(critical["spec"]["priority"], 2000001000);
    // A priority matching the class is accepted.
    assert!(
        create(
            &c,
            &pod("matching", "  priorityClassName: high\n  priority: 1000\n")
        )
        .await
        .ok
    );

    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&pod("lost", "  priorityClassName: nope\n")),
    )
    .await;
    assert!(
        err.contains(
            "Error from server (Forbidden): error when creating \"STDIN\": pods \"lost\" is forbidden: no PriorityClass with name nope was found"
        ),
        "{err}"
    );
    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&pod("greedy", "  priorityClassName: high\n  priority: 5\n")),
    )
    .await;
    assert!(
        err.contains(
            "pods \"greedy\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
        ),
        "{err}"
    );
    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&pod(
            "pushy",
            "  priorityClassName: patient\n  preemptionPolicy: PreemptLowerPriority\n",
        )),
    )
    .await;
    assert!(
        err.contains(
            "pods \"pushy\" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"
        ),
        "{err}"
    );

    // Updates: a manifest without the admitted fields keeps them; changing them is refused.
    let out = c
        .kubectl_stdin(
            &["replace", "-f", "-"],
            Some(&pod("important", "  priorityClassName: high\n")),
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    let replaced = get_json(&c, &["pod", "important"]).await;
    assert_eq!(replaced["spec"]["priority"], 1000);
    let err = fails(
        &c,
        &[
            "patch",
            "--type=merge",
            "pod",
            "important",
            "-p",
            r#"{"spec":{"priority":7}}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains("The Pod \"important\" is invalid: spec: Forbidden: pod updates may not change fields other than"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_global_default_and_class_validation() {
    let c = cluster().await;
    c.ok(&[
        "create",
        "priorityclass",
        "base",
        "--value=100",
        "--global-default",
    ])
    .await;
    let table = c.ok(&["get", "pc", "base"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..3], ["base", "100", "true"]);
    // Pods without a class now get the default one, named.
    assert!(create(&c, &pod("defaulted", "")).await.ok);
    let defaulted = get_json(&c, &["pod", "defaulted"]).await;
    assert_eq!(defaulted["spec"]["priorityClassName"], "base");
    assert_eq!(defaulted["spec"]["priority"], 100);

    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&class("other", 5, "globalDefault: true\n")),
    )
    .await;
    assert!(
        err.contains(
            "Error from server (Forbidden): error when creating \"STDIN\": priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass base is already marked as default. Only one default can exist"
        ),
        "{err}"
    );
    // Nor may an existing class become a second default; the default itself may be updated.
    c.ok(&["create", "priorityclass", "other", "--value=5"])
        .await;
    let err = fails(
        &c,
        &[
            "patch",
            "--type=merge",
            "pc",
            "other",
            "-p",
            r#"{"globalDefault":true}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains("PriorityClass base is already marked as default. Only one default can exist"),
        "{err}"
    );
    c.ok(&[
        "patch",
        "--type=merge",
        "pc",
        "base",
        "-p",
        r#"{"description":"the default"}"#,
    ])
    .await;

    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&class("system-mine", 5, "")),
    )
    .await;
    assert!(
        err.contains(
            "The PriorityClass \"system-mine\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
        ),
        "{err}"
    );
    let err = fails(
        &c,
        &["create", "-f", "-"],
        Some(&class("huge", 1_000_000_001, "")),
    )
    .await;
    assert!(
        err.contains(
            "The PriorityClass \"huge\" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        ),
        "{err}"
    );
    c.ok(&["create", "priorityclass", "top", "--value=1000000000"])
        .await;
    let err = fails(
        &c,
        &[
            "patch",
            "--type=merge",
            "pc",
            "other",
            "-p",
            r#"{"value":6}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains(
            "The PriorityClass \"other\" is invalid: value: Forbidden: may not be changed in an update."
        ),
        "{err}"
    );
    let err = fails(
        &c,
        &[
            "patch",
            "--type=merge",
            "pc",
            "other",
            "-p",
            r#"{"preemptionPolicy":"Never"}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains(
            "The PriorityClass \"other\" is invalid: preemptionPolicy: Invalid value: \"Never\": field is immutable"
        ),
        "{err}"
    );
    // A user class can be deleted.
    let out = c.ok(&["delete", "pc", "other"]).await;
    assert_eq!(
        out.trim(),
        "priorityclass.scheduling.k8s.io \"other\" deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_classes_are_created_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn rkube_store::Store> = std::sync::Arc::new(
        rkube_store::embedded::EmbeddedStore::open(rkube_store::embedded::EmbeddedOptions::new(
            dir.path(),
        ))
        .await
        .unwrap(),
    );
    let first = common::cluster_on(store.clone()).await;
    let before = get_json(&first, &["pc", "system-cluster-critical"]).await;
    first.server.shutdown().await;
    let second = common::cluster_on(store).await;
    let after = get_json(&second, &["pc", "system-cluster-critical"]).await;
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    let list = get_json(&second, &["pc"]).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
