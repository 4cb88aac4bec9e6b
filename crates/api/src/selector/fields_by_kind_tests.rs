//! Tests of the per-resource field label table: accepted labels, renames, upstream's error
//! messages, and the values read from objects.

use serde_json::{Value, json};

use super::*;

fn value(group: &str, resource: &str, object: &Value, field: &str) -> String {
    field_value(group, resource, object, field)
        .unwrap_or_else(|| panic!("{group}/{resource} has no field {field}"))
}

#[test]
fn converts_supported_labels() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("", "pods", "metadata.name", "metadata.name"),
        ("", "pods", "metadata.namespace", "metadata.namespace"),
        ("", "pods", "spec.nodeName", "spec.nodeName"),
        ("", "pods", "spec.host", "spec.nodeName"),
        ("", "pods", "status.podIPs", "status.podIPs"),
        ("", "nodes", "spec.unschedulable", "spec.unschedulable"),
        (
            "",
            "replicationcontrollers",
            "status.replicas",
            "status.replicas",
        ),
        ("", "events", "involvedObject.uid", "involvedObject.uid"),
        ("", "events", "reportingComponent", "reportingComponent"),
        (
            "events.k8s.io",
            "events",
            "regarding.name",
            "involvedObject.name",
        ),
        (
            "events.k8s.io",
            "events",
            "reportingController",
            "reportingComponent",
        ),
        ("", "namespaces", "status.phase", "status.phase"),
        ("", "secrets", "type", "type"),
        ("", "services", "spec.clusterIP", "spec.clusterIP"),
        ("batch", "jobs", "status.successful", "status.successful"),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            "spec.signerName",
            "spec.signerName",
        ),
        ("", "configmaps", "metadata.name", "metadata.name"),
        (
            "apps",
            "deployments",
            "metadata.namespace",
            "metadata.namespace",
        ),
        (
            "rbac.authorization.k8s.io",
            "clusterroles",
            "metadata.namespace",
            "metadata.namespace",
        ),
    ];
    for (group, resource, label, field) in cases {
        assert_eq!(
            convert_field_label(group, resource, label),
            Ok(*field),
            "{group}/{resource} {label}"
        );
    }
}

#[test]
fn rejects_unsupported_labels_with_upstream_messages() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "",
            "pods",
            "spec.foo",
            "field label not supported: spec.foo",
        ),
        ("", "pods", "", "field label not supported: "),
        (
            "",
            "nodes",
            "metadata.namespace",
            "field label not supported: metadata.namespace",
        ),
        (
            "",
            "namespaces",
            "metadata.namespace",
            "field label not supported: metadata.namespace",
        ),
        (
            "",
            "events",
            "regarding.name",
            "field label not supported: regarding.name",
        ),
        (
            "events.k8s.io",
            "events",
            "involvedObject.name",
            "field label not supported: involvedObject.name",
        ),
        (
            "batch",
            "jobs",
            "status.succeeded",
            "field label \"status.succeeded\" not supported for batchv1.Job",
        ),
        (
            "",
            "configmaps",
            "data.x",
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        ),
        (
            "apps",
            "replicasets",
            "status.replicas",
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        ),
        (
            "batch",
            "cronjobs",
            "status.successful",
            "\"status.successful\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        ),
    ];
    for (group, resource, label, message) in cases {
        let error = convert_field_label(group, resource, label).expect_err(label);
        assert_eq!(
            error,
            SelectorError::UnsupportedFieldLabel {
                label: label.to_string(),
                message: message.to_string(),
            }
        );
        assert_eq!(error.to_string(), *message);
    }
}

#[test]
fn lists_supported_labels() {
    assert_eq!(
        supported_field_labels("", "secrets"),
        vec!["type", "metadata.namespace", "metadata.name"]
    );
    assert_eq!(
        supported_field_labels("", "configmaps"),
        vec!["metadata.name", "metadata.namespace"]
    );
    assert!(supported_field_labels("", "pods").contains(&"spec.hostNetwork"));
}

#[test]
fn validate_for_reports_the_first_unsupported_label() {
    let selector = parse_field_selector("spec.nodeName=n,zz=1,aa=2").expect("parses");
    assert_eq!(
        selector
            .validate_for("", "pods")
            .expect_err("unsupported")
            .to_string(),
        "field label not supported: aa"
    );
    let ok = parse_field_selector("spec.host=n,status.phase!=Failed").expect("parses");
    assert!(ok.validate_for("", "pods").is_ok());
    let canonical = ok.canonicalize_for("", "pods").expect("supported");
    assert_eq!(
        canonical.to_string(),
        "spec.nodeName=n,status.phase!=Failed"
    );
    assert_eq!(canonical.requires_exact_match("spec.nodeName"), Some("n"));
    assert!(
        FieldSelector::everything()
            .validate_for("", "anything")
            .is_ok()
    );
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {
            "nodeName": "node-a",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "hostNetwork": true,
            "containers": [{"name": "c", "image": "nginx"}]
        },
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
            "nominatedNodeName": "node-b"
        }
    })
}

#[test]
fn reads_pod_fields() {
    let pod = pod();
    let cases: &[(&str, &str)] = &[
        ("metadata.name", "web-1"),
        ("metadata.namespace", "default"),
        ("spec.nodeName", "node-a"),
        ("spec.host", "node-a"),
        ("spec.restartPolicy", "Always"),
        ("spec.schedulerName", "default-scheduler"),
        ("spec.serviceAccountName", "default"),
        ("spec.hostNetwork", "true"),
        ("status.phase", "Running"),
        ("status.podIP", "10.42.0.7"),
        ("status.podIPs", ""),
        ("status.nominatedNodeName", "node-b"),
    ];
    for (field, expected) in cases {
        assert_eq!(value("", "pods", &pod, field), *expected, "{field}");
    }
    assert_eq!(field_value("", "pods", &pod, "spec.containers"), None);

    let bare = json!({"metadata": {"name": "p"}});
    for field in [
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ] {
        assert_eq!(value("", "pods", &bare, field), "", "{field} of a bare pod");
    }
    assert_eq!(value("", "pods", &bare, "spec.hostNetwork"), "false");

    let legacy_ip = json!({"status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.2"}]}});
    assert_eq!(value("", "pods", &legacy_ip, "status.podIP"), "10.0.0.1");
}

#[test]
fn matches_pods_as_the_kubelet_and_scheduler_select_them() {
    let pod = pod();
    let unscheduled =
        json!({"metadata": {"name": "p", "namespace": "default"}, "status": {"phase": "Pending"}});
    let cases: &[(&str, bool, bool)] = &[
        // (selector, matches `pod`, matches `unscheduled`)
        ("spec.nodeName=node-a", true, false),
        ("spec.nodeName=", false, true),
        ("spec.host=node-a", true, false),
        ("status.phase!=Succeeded,status.phase!=Failed", true, true),
        ("spec.nodeName!=,status.phase=Running", true, false),
        (
            "metadata.name=web-1,metadata.namespace=default",
            true,
            false,
        ),
        ("spec.hostNetwork=false", false, true),
        ("status.podIP=10.42.0.7", true, false),
        ("status.podIPs=", true, true),
        ("", true, true),
    ];
    for (selector, on_pod, on_unscheduled) in cases {
        let parsed = parse_field_selector(selector).expect(selector);
        assert!(parsed.validate_for("", "pods").is_ok(), "{selector}");
        assert_eq!(
            parsed.matches_object("", "pods", &pod),
            *on_pod,
            "{selector} on pod"
        );
        assert_eq!(
            parsed.matches_object("", "pods", &unscheduled),
            *on_unscheduled,
            "{selector} on unscheduled pod"
        );
    }
}

#[test]
fn reads_fields_of_other_core_kinds() {
    let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
    assert_eq!(value("", "nodes", &node, "spec.unschedulable"), "true");
    assert_eq!(value("", "nodes", &node, "metadata.namespace"), "");
    assert_eq!(
        value("", "nodes", &json!({}), "spec.unschedulable"),
        "false"
    );

    let rc = json!({"metadata": {"name": "mysql"}, "status": {"replicas": 3}});
    assert_eq!(
        value("", "replicationcontrollers", &rc, "status.replicas"),
        "3"
    );
    assert_eq!(
        value("", "replicationcontrollers", &json!({}), "status.replicas"),
        "0"
    );

    let namespace =
        json!({"metadata": {"name": "kube-system"}, "status": {"phase": "Terminating"}});
    assert_eq!(
        value("", "namespaces", &namespace, "status.phase"),
        "Terminating"
    );
    assert_eq!(
        value("", "namespaces", &namespace, "metadata.name"),
        "kube-system"
    );

    let secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"});
    assert_eq!(value("", "secrets", &secret, "type"), "kubernetes.io/tls");
    assert_eq!(value("", "secrets", &json!({}), "type"), "");

    let service = json!({"spec": {"clusterIP": "None", "type": "ClusterIP"}});
    assert_eq!(value("", "services", &service, "spec.clusterIP"), "None");
    assert_eq!(value("", "services", &service, "spec.type"), "ClusterIP");
    let headless = parse_field_selector("spec.clusterIP!=None").expect("parses");
    assert!(!headless.matches_object("", "services", &service));

    let configmap = json!({"metadata": {"name": "cm", "namespace": "ns"}, "data": {"x": "1"}});
    assert_eq!(
        value("", "configmaps", &configmap, "metadata.namespace"),
        "ns"
    );
    assert_eq!(field_value("", "configmaps", &configmap, "data.x"), None);
}

#[test]
fn reads_fields_of_jobs_and_csrs() {
    let job = json!({"metadata": {"name": "j", "namespace": "ns"}, "status": {"succeeded": 2}});
    assert_eq!(value("batch", "jobs", &job, "status.successful"), "2");
    assert_eq!(value("batch", "jobs", &json!({}), "status.successful"), "0");
    let done = parse_field_selector("status.successful=2").expect("parses");
    assert!(done.matches_object("batch", "jobs", &job));

    let csr =
        json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}});
    assert_eq!(
        value(
            "certificates.k8s.io",
            "certificatesigningrequests",
            &csr,
            "spec.signerName"
        ),
        "kubernetes.io/kubelet-serving"
    );
}

#[test]
fn reads_core_event_fields() {
    let event = json!({
        "metadata": {"name": "web-1.17a", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u-1",
            "apiVersion": "v1", "resourceVersion": "42", "fieldPath": "spec.containers{c}"
        },
        "reason": "Scheduled",
        "type": "Normal",
        "source": {"component": "default-scheduler"},
        "reportingComponent": "scheduler-x"
    });
    let cases: &[(&str, &str)] = &[
        ("involvedObject.kind", "Pod"),
        ("involvedObject.namespace", "default"),
        ("involvedObject.name", "web-1"),
        ("involvedObject.uid", "u-1"),
        ("involvedObject.apiVersion", "v1"),
        ("involvedObject.resourceVersion", "42"),
        ("involvedObject.fieldPath", "spec.containers{c}"),
        ("reason", "Scheduled"),
        ("type", "Normal"),
        ("source", "default-scheduler"),
        ("reportingComponent", "scheduler-x"),
        ("metadata.name", "web-1.17a"),
    ];
    for (field, expected) in cases {
        assert_eq!(value("", "events", &event, field), *expected, "{field}");
    }
    // kubectl describe pod lists events like this.
    let describe = parse_field_selector(
        "involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.uid=u-1",
    )
    .expect("parses");
    assert!(describe.validate_for("", "events").is_ok());
    assert!(describe.matches_object("", "events", &event));

    let no_source = json!({"reportingComponent": "kubelet"});
    assert_eq!(value("", "events", &no_source, "source"), "kubelet");
    assert_eq!(value("", "events", &json!({}), "source"), "");
}

#[test]
fn reads_events_k8s_io_fields() {
    let event = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "regarding": {"kind": "Node", "name": "n1", "uid": "u-2"},
        "reason": "NodeReady",
        "type": "Normal",
        "reportingController": "kubelet",
        "deprecatedSource": {"component": "kubelet-legacy"}
    });
    let cases: &[(&str, &str)] = &[
        ("regarding.kind", "Node"),
        ("regarding.name", "n1"),
        ("regarding.namespace", ""),
        ("involvedObject.uid", "u-2"),
        ("reportingController", "kubelet"),
        ("reportingComponent", "kubelet"),
        ("source", "kubelet-legacy"),
        ("reason", "NodeReady"),
    ];
    for (field, expected) in cases {
        assert_eq!(
            value("events.k8s.io", "events", &event, field),
            *expected,
            "{field}"
        );
    }
    let selector =
        parse_field_selector("regarding.kind=Node,reportingController=kubelet").expect("parses");
    assert!(selector.validate_for("events.k8s.io", "events").is_ok());
    assert!(selector.matches_object("events.k8s.io", "events", &event));
    let canonical = selector
        .canonicalize_for("events.k8s.io", "events")
        .expect("supported");
    assert_eq!(
        canonical.to_string(),
        "involvedObject.kind=Node,reportingComponent=kubelet"
    );
    assert!(canonical.matches_object("events.k8s.io", "events", &event));
}
