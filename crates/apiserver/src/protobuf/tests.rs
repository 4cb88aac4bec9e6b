//! Bodies encoded with kube-rs' prost types (`k8s-pb`, generated from the same upstream protos by
//! a different tool) and decoded by ours. Like Go's encoder, the helpers write zero values for
//! non-pointer fields, so these tests also check which zeros survive.

use super::decode::{Decoder, MAX_DEPTH, MAX_MERGE_BYTES};
use super::{ProtobufError, decode_body, schema};
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn body(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    envelope(api_version, kind, object.encode_to_vec(), "")
}

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>, content_type: &str) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(content_type.into()),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// ObjectMeta as Go's encoder writes it for a new object: every value field, zero or not.
fn go_meta(name: &str, namespace: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    })
}

fn int(v: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: s(""),
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    })
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

#[test]
fn namespace() {
    let ns = core::Namespace {
        metadata: go_meta("team-b", ""),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: s(""),
            ..Default::default()
        }),
    };
    let v = decode_body(&body("v1", "Namespace", &ns)).unwrap();
    // Exactly what `kubectl create namespace team-b --dry-run=client -o json` prints.
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-b", "creationTimestamp": null}, "spec": {}, "status": {}})
    );
}

#[test]
fn configmap_keeps_empty_values_and_pointer_false() {
    let cm = core::ConfigMap {
        metadata: go_meta("c", "default"),
        data: BTreeMap::from([("a".into(), "b".into()), ("empty".into(), String::new())]),
        binary_data: BTreeMap::from([("bin".into(), vec![0, 1, 2])]),
        immutable: Some(false),
    };
    let v = decode_body(&body("v1", "ConfigMap", &cm)).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "creationTimestamp": null},
            "data": {"a": "b", "empty": ""}, "binaryData": {"bin": "AAEC"}, "immutable": false})
    );
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::Secret {
        metadata: go_meta("s", "default"),
        data: BTreeMap::from([
            ("p".into(), b"q".to_vec()),
            ("bin".into(), vec![0xff, 0xfe, 0x00]),
        ]),
        r#type: s("Opaque"),
        ..Default::default()
    };
    let v = decode_body(&body("v1", "Secret", &secret)).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default", "creationTimestamp": null},
            "data": {"p": "cQ==", "bin": "//4A"}, "type": "Opaque"})
    );
}

fn container(name: &str, image: &str) -> core::Container {
    // The value fields Go always writes, left at zero.
    core::Container {
        name: s(name),
        image: s(image),
        working_dir: s(""),
        termination_message_path: s(""),
        image_pull_policy: s(""),
        termination_message_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        resources: Some(core::ResourceRequirements::default()),
        ..Default::default()
    }
}

fn deployment(replicas: Option<i32>) -> apps::Deployment {
    let mut c = container("nginx", "nginx:1.25");
    c.ports = vec![core::ContainerPort {
        name: s(""),
        host_port: Some(0),
        container_port: Some(80),
        protocol: s("TCP"),
        host_ip: s(""),
    }];
    c.resources = Some(core::ResourceRequirements {
        limits: BTreeMap::from([
            ("cpu".into(), quantity("500m")),
            ("memory".into(), quantity("128Mi")),
        ]),
        requests: BTreeMap::from([("cpu".into(), Quantity::default())]),
        ..Default::default()
    });
    let mut template_meta = go_meta("", "").unwrap();
    template_meta.labels = BTreeMap::from([("app".into(), "d".into())]);
    let mut meta = go_meta("d", "default").unwrap();
    meta.creation_timestamp = Some(meta::Time {
        seconds: Some(1_700_000_000),
        nanos: Some(5),
    });
    meta.annotations = BTreeMap::from([("note".into(), "x".into())]);
    apps::Deployment {
        metadata: Some(meta),
        spec: Some(apps::DeploymentSpec {
            replicas,
            selector: Some(meta::LabelSelector {
                match_labels: BTreeMap::from([("app".into(), "d".into())]),
                ..Default::default()
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(core::PodSpec {
                    containers: vec![c],
                    restart_policy: s(""),
                    dns_policy: s(""),
                    service_account_name: s(""),
                    node_name: s(""),
                    host_network: Some(false),
                    scheduler_name: s(""),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: int(1),
                    max_surge: string("25%"),
                }),
            }),
            min_ready_seconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            observed_generation: Some(0),
            replicas: Some(0),
            updated_replicas: Some(0),
            ready_replicas: Some(0),
            available_replicas: Some(0),
            unavailable_replicas: Some(0),
            conditions: vec![apps::DeploymentCondition {
                r#type: s("Available"),
                status: s("True"),
                last_update_time: Some(meta::Time {
                    seconds: Some(0),
                    nanos: Some(0),
                }),
                last_transition_time: Some(meta::Time::default()),
                reason: s(""),
                message: s(""),
            }],
            ..Default::default()
        }),
    }
}

fn deployment_json(replicas: Option<i64>) -> Value {
    let mut spec = json!({
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}, "creationTimestamp": null},
            "spec": {"containers": [{
                "name": "nginx", "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "0"}},
            }]},
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
    });
    if let Some(r) = replicas {
        spec["replicas"] = json!(r);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "creationTimestamp": "2023-11-14T22:13:20Z",
            "annotations": {"note": "x"}},
        "spec": spec,
        "status": {"conditions": [{"type": "Available", "status": "True",
            "lastUpdateTime": "1970-01-01T00:00:00Z", "lastTransitionTime": null}]},
    })
}

#[test]
fn deployment_intorstring_quantity_time_and_pointer_replicas() {
    let v = decode_body(&body("apps/v1", "Deployment", &deployment(Some(2)))).unwrap();
    assert_eq!(v, deployment_json(Some(2)));
    // Absent stays absent (defaulting sets 1); an explicit 0 is kept (a pointer field).
    let v = decode_body(&body("apps/v1", "Deployment", &deployment(None))).unwrap();
    assert_eq!(v, deployment_json(None));
    let v = decode_body(&body("apps/v1", "Deployment", &deployment(Some(0)))).unwrap();
    assert_eq!(v, deployment_json(Some(0)));
}

#[test]
fn service_target_ports() {
    let port = |name: &str, port: i32, target: Option<IntOrString>| core::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        app_protocol: None,
        port: Some(port),
        target_port: target,
        node_port: Some(0),
    };
    let svc = core::Service {
        metadata: go_meta("web", "default"),
        spec: Some(core::ServiceSpec {
            ports: vec![
                port("http", 80, int(8080)),
                port("https", 443, string("https")),
                port("", 9, int(0)),
            ],
            selector: BTreeMap::from([("app".into(), "web".into())]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus::default()),
            ..Default::default()
        }),
    };
    let v = decode_body(&body("v1", "Service", &svc)).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                    {"protocol": "TCP", "port": 9, "targetPort": 0},
                ],
                "selector": {"app": "web"}, "type": "ClusterIP"},
            "status": {"loadBalancer": {}}})
    );
}

#[test]
fn pod_inline_structs_are_flattened_and_pointer_zeros_kept() {
    let mut c = container("app", "busybox");
    c.liveness_probe = Some(core::Probe {
        handler: Some(core::ProbeHandler {
            http_get: Some(core::HttpGetAction {
                path: s("/healthz"),
                port: int(8080),
                host: s(""),
                scheme: s(""),
                ..Default::default()
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(0),
        period_seconds: Some(10),
        ..Default::default()
    });
    c.env = vec![core::EnvVar {
        name: s("A"),
        value: s(""),
        value_from: Some(core::EnvVarSource {
            config_map_key_ref: Some(core::ConfigMapKeySelector {
                local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                key: s("k"),
                optional: Some(false),
            }),
            ..Default::default()
        }),
    }];
    c.security_context = Some(core::SecurityContext {
        run_as_user: Some(0),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    });
    let pod = core::Pod {
        metadata: go_meta("p", "default"),
        spec: Some(core::PodSpec {
            containers: vec![c],
            volumes: vec![core::Volume {
                name: s("v"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                        default_mode: Some(420),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }],
            termination_grace_period_seconds: Some(0),
            automount_service_account_token: Some(false),
            tolerations: vec![core::Toleration {
                key: s("k"),
                operator: s("Exists"),
                value: s(""),
                effect: s(""),
                toleration_seconds: Some(0),
            }],
            ..Default::default()
        }),
        status: None,
    };
    let v = decode_body(&body("v1", "Pod", &pod)).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": null},
        "spec": {
            "containers": [{
                "name": "app", "image": "busybox", "resources": {},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": false}}}],
                "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false},
            }],
            "volumes": [{"name": "v", "configMap": {"name": "cm", "defaultMode": 420}}],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 0}],
        }})
    );
}

#[test]
fn micro_time_raw_extension_and_json_content() {
    let lease = coordination::Lease {
        metadata: go_meta("l", "kube-node-lease"),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s(""),
            lease_duration_seconds: Some(0),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_789),
            }),
            ..Default::default()
        }),
    };
    let v = decode_body(&body("coordination.k8s.io/v1", "Lease", &lease)).unwrap();
    assert_eq!(
        v["spec"],
        json!({"holderIdentity": "", "leaseDurationSeconds": 0, "renewTime": "2023-11-14T22:13:20.123456Z"})
    );

    let revision = apps::ControllerRevision {
        metadata: go_meta("r", "default"),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"a":[1,2]}}"#.to_vec()),
        }),
        revision: Some(3),
    };
    let v = decode_body(&body("apps/v1", "ControllerRevision", &revision)).unwrap();
    assert_eq!(v["data"], json!({"spec": {"a": [1, 2]}}));
    assert_eq!(v["revision"], json!(3));

    let bad = apps::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"{nope".to_vec()),
        }),
        ..revision
    };
    assert!(matches!(
        decode_body(&body("apps/v1", "ControllerRevision", &bad)),
        Err(ProtobufError::EmbeddedJson(_))
    ));

    let v = decode_body(&envelope(
        "v1",
        "ConfigMap",
        br#"{"data":{"x":"y"}}"#.to_vec(),
        "application/json",
    ))
    .unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"x": "y"}})
    );
}

#[test]
fn repeated_message_fields_merge_and_last_scalar_wins() {
    // Two encodings back to back decode as their protobuf merge.
    let a = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("first"),
            labels: BTreeMap::from([("a".into(), "1".into())]),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };
    let b = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("second"),
            labels: BTreeMap::from([("b".into(), "2".into())]),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            min_ready_seconds: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut raw = a.encode_to_vec();
    raw.extend(b.encode_to_vec());
    let merged = apps::Deployment::decode(raw.as_slice()).unwrap();
    let ours = decode_body(&envelope("apps/v1", "Deployment", raw, "")).unwrap();
    assert_eq!(
        ours,
        decode_body(&body("apps/v1", "Deployment", &merged)).unwrap()
    );
    assert_eq!(
        ours,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "second", "labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 1, "minReadySeconds": 5}})
    );
}

#[test]
fn unknown_fields_are_skipped_and_packed_scalars_read() {
    // ConfigMap with an unknown field 99 (varint) and 98 (bytes) before its data.
    let mut raw = vec![0x98, 0x06, 0x07, 0x92, 0x06, 0x01, b'z'];
    raw.extend(
        core::ConfigMap {
            data: BTreeMap::from([("k".into(), "v".into())]),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let v = decode_body(&envelope("v1", "ConfigMap", raw, "")).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})
    );

    let schema = schema::get().unwrap();
    let decoder = Decoder::new(schema);
    // PodSecurityContext.supplementalGroups (field 4, repeated int64): two unpacked values, then
    // a packed run of two (Go writes them unpacked; packed is valid protobuf too).
    let psc = schema
        .message_index("api.core.v1.PodSecurityContext")
        .unwrap();
    let v = decoder
        .message(psc, &[0x20, 0x01, 0x20, 0x02, 0x22, 0x02, 0x03, 0x04], 0)
        .unwrap();
    assert_eq!(v, json!({"supplementalGroups": [1, 2, 3, 4]}));
    // Status.code (field 6, int32), written twice: the last wins.
    let status = schema
        .message_index("apimachinery.pkg.apis.meta.v1.Status")
        .unwrap();
    let v = decoder
        .message(status, &[0x30, 0x01, 0x30, 0x96, 0x01], 0)
        .unwrap();
    assert_eq!(v, json!({"code": 150}));
}

#[test]
fn errors_for_bad_envelopes() {
    let ns = core::Namespace {
        metadata: go_meta("x", ""),
        ..Default::default()
    };
    assert_eq!(
        decode_body(b"{\"kind\":\"Namespace\"}"),
        Err(ProtobufError::MissingMagic)
    );
    assert_eq!(decode_body(b""), Err(ProtobufError::MissingMagic));
    assert!(matches!(
        decode_body(&body("example.com/v1", "Widget", &ns)),
        Err(ProtobufError::UnknownKind { .. })
    ));
    assert_eq!(
        decode_body(&body("", "", &ns)),
        Err(ProtobufError::MissingTypeMeta)
    );
    let mut gz = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(ns.encode_to_vec()),
        content_encoding: s("gzip"),
        content_type: s(""),
    }
    .encode_to_vec();
    gz.splice(0..0, *b"k8s\0");
    assert_eq!(
        decode_body(&gz),
        Err(ProtobufError::ContentEncoding("gzip".into()))
    );
    assert!(matches!(
        decode_body(&envelope("v1", "Namespace", vec![], "text/plain")),
        Err(ProtobufError::ContentType(_))
    ));
    // An IntOrString whose type is neither int nor string.
    let svc = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                target_port: Some(IntOrString {
                    r#type: Some(2),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode_body(&body("v1", "Service", &svc)),
        Err(ProtobufError::InvalidValue { .. })
    ));
    // A string field sent as a varint.
    assert!(matches!(
        decode_body(&envelope(
            "v1",
            "Namespace",
            vec![0x0a, 0x02, 0x08, 0x01],
            ""
        )),
        Err(ProtobufError::WrongWireType { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    // JSONSchemaProps.not (field 28) nested far past the limit.
    let schema = schema::get().unwrap();
    let props = schema
        .message_index("apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps")
        .unwrap();
    let mut bytes = Vec::new();
    for _ in 0..(MAX_DEPTH * 2) {
        let mut outer = vec![0xe2, 0x01]; // field 28, wire type 2
        let mut len = bytes.len();
        loop {
            let b = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                outer.push(b);
                break;
            }
            outer.push(b | 0x80);
        }
        outer.extend(bytes);
        bytes = outer;
    }
    assert_eq!(
        Decoder::new(schema).message(props, &bytes, 0),
        Err(ProtobufError::TooDeep(MAX_DEPTH))
    );
}

#[test]
fn truncated_and_corrupted_bodies_never_panic() {
    let full = body("apps/v1", "Deployment", &deployment(Some(3)));
    for len in 0..full.len() {
        let _ = decode_body(&full[..len]);
    }
    // Deterministic pseudo-random corruption (xorshift), a few thousand variants.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut b = full.clone();
        for _ in 0..=(next() % 4) {
            let i = 4 + (next() as usize) % (b.len() - 4);
            b[i] = next() as u8;
        }
        let _ = decode_body(&b);
        let cut = 4 + (next() as usize) % (b.len() - 4);
        let _ = decode_body(&b[..cut]);
    }
}

#[test]
fn merging_is_bounded() {
    // A Deployment whose `spec` (field 2) arrives in many small pieces: merging them copies
    // bytes, and past the bound that is an error, not unbounded memory.
    let piece = apps::DeploymentSpec {
        min_ready_seconds: Some(1),
        ..Default::default()
    }
    .encode_to_vec();
    let mut field = vec![0x12, piece.len() as u8];
    field.extend(&piece);
    let few: Vec<u8> = field
        .iter()
        .copied()
        .cycle()
        .take(field.len() * 10)
        .collect();
    let v = decode_body(&envelope("apps/v1", "Deployment", few, "")).unwrap();
    assert_eq!(v["spec"], json!({"minReadySeconds": 1}));
    let many: Vec<u8> = field
        .iter()
        .copied()
        .cycle()
        .take(field.len() * (MAX_MERGE_BYTES / piece.len() + 1))
        .collect();
    assert!(matches!(
        decode_body(&envelope("apps/v1", "Deployment", many, "")),
        Err(ProtobufError::InvalidValue { .. })
    ));
}
