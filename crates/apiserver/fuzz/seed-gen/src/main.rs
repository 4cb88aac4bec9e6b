//! Writes the seed inputs of the apiserver fuzz targets into `<corpus dir>/<target>/seed-*`:
//! realistic requests as kubectl and client-go send them (JSON and YAML manifests, including
//! `examples/seed/`, protobuf bodies encoded like client-go's, list/watch/delete queries,
//! continue tokens as the server hands them out).
//!
//! `cargo run --manifest-path crates/apiserver/fuzz/seed-gen/Cargo.toml -- crates/apiserver/fuzz/corpus`
//! (from the repository root).

use base64::Engine;
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// request_body's selector byte: content type (bits 0-1), kind (2-4), mode (5-7).
const JSON: u8 = 0;
const YAML: u8 = 1;
const PROTOBUF: u8 = 2;
const NO_TYPE: u8 = 3;
const PODS: u8 = 0;
const SERVICES: u8 = 1;
const DEPLOYMENTS: u8 = 2;
const CONFIGMAPS: u8 = 3;
const RCS: u8 = 4;
const NAMESPACES: u8 = 5;
const SECRETS: u8 = 6;
const JOBS: u8 = 7;
const CREATE: u8 = 0;
const STRICT: u8 = 1;
const IGNORE: u8 = 2;
const PUT: u8 = 3;
const PUT_STATUS: u8 = 4;
const EVICTION: u8 = 5;
const BINDING: u8 = 6;
const MERGE_PATCH: u8 = 7;

fn selector(content_type: u8, kind: u8, mode: u8) -> u8 {
    content_type | (kind << 2) | (mode << 5)
}

struct Out {
    dir: PathBuf,
    n: usize,
}

impl Out {
    fn write(&mut self, data: &[u8]) {
        self.n += 1;
        let path = self.dir.join(format!("seed-{:03}", self.n));
        std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn body(&mut self, content_type: u8, kind: u8, mode: u8, body: &[u8]) {
        let mut data = vec![selector(content_type, kind, mode)];
        data.extend_from_slice(body);
        self.write(&data);
    }
}

fn out(root: &Path, target: &str) -> Out {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    Out { dir, n: 0 }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// client-go's protobuf body: `k8s\0` and a `runtime.Unknown` envelope.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>, content_type: &str) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(raw),
        content_encoding: s(""),
        content_type: s(content_type),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// ObjectMeta as Go's encoder writes it for a new object: every value field, zero or not.
fn go_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
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

fn container(name: &str, image: &str) -> core::Container {
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
        resources: Some(core::ResourceRequirements {
            limits: BTreeMap::from([(
                "memory".to_string(),
                k8s_pb::apimachinery::pkg::api::resource::Quantity { string: s("64Mi") },
            )]),
            ..Default::default()
        }),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        ..Default::default()
    }
}

fn pod_spec(image: &str) -> core::PodSpec {
    core::PodSpec {
        containers: vec![container("app", image)],
        restart_policy: s(""),
        dns_policy: s(""),
        service_account_name: s(""),
        node_name: s(""),
        host_network: Some(false),
        scheduler_name: s(""),
        ..Default::default()
    }
}

fn template(image: &str) -> Option<core::PodTemplateSpec> {
    Some(core::PodTemplateSpec {
        metadata: go_meta("", "", &[("app", "web")]),
        spec: Some(pod_spec(image)),
    })
}

fn protobuf_bodies() -> Vec<(u8, Vec<u8>)> {
    let pod = core::Pod {
        metadata: go_meta("fuzz", "default", &[("app", "web")]),
        spec: Some(pod_spec("nginx:1.25")),
        status: Some(core::PodStatus::default()),
    };
    let svc = core::Service {
        metadata: go_meta("fuzz", "default", &[]),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: s("http"),
                protocol: s("TCP"),
                app_protocol: None,
                port: Some(80),
                target_port: int(8080),
                node_port: Some(0),
            }],
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
    let deployment = apps::Deployment {
        metadata: go_meta("fuzz", "default", &[("app", "web")]),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(2),
            selector: Some(meta::LabelSelector {
                match_labels: BTreeMap::from([("app".into(), "web".into())]),
                ..Default::default()
            }),
            template: template("nginx:1.25"),
            strategy: Some(apps::DeploymentStrategy::default()),
            min_ready_seconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus::default()),
    };
    let configmap = core::ConfigMap {
        metadata: go_meta("fuzz", "default", &[]),
        immutable: None,
        data: BTreeMap::from([("a".into(), "b".into()), ("empty".into(), String::new())]),
        binary_data: BTreeMap::from([("bin".into(), vec![0, 1, 2, 255])]),
    };
    let namespace = core::Namespace {
        metadata: go_meta("fuzz", "", &[]),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus::default()),
    };
    let secret = core::Secret {
        metadata: go_meta("fuzz", "default", &[]),
        data: BTreeMap::from([("p".into(), b"q".to_vec())]),
        r#type: s("Opaque"),
        ..Default::default()
    };
    let rc = core::ReplicationController {
        metadata: go_meta("fuzz", "default", &[]),
        spec: Some(core::ReplicationControllerSpec {
            replicas: Some(1),
            selector: BTreeMap::from([("app".into(), "web".into())]),
            template: template("myweb"),
            min_ready_seconds: Some(0),
        }),
        status: Some(core::ReplicationControllerStatus::default()),
    };
    let job = batch::Job {
        metadata: go_meta("fuzz", "default", &[]),
        spec: Some(batch::JobSpec {
            template: template("busybox").map(|mut t| {
                if let Some(spec) = t.spec.as_mut() {
                    spec.restart_policy = s("Never");
                }
                t
            }),
            ..Default::default()
        }),
        status: Some(batch::JobStatus::default()),
    };
    vec![
        (PODS, envelope("v1", "Pod", pod.encode_to_vec(), "")),
        (SERVICES, envelope("v1", "Service", svc.encode_to_vec(), "")),
        (
            DEPLOYMENTS,
            envelope("apps/v1", "Deployment", deployment.encode_to_vec(), ""),
        ),
        (
            CONFIGMAPS,
            envelope("v1", "ConfigMap", configmap.encode_to_vec(), ""),
        ),
        (
            NAMESPACES,
            envelope("v1", "Namespace", namespace.encode_to_vec(), ""),
        ),
        (SECRETS, envelope("v1", "Secret", secret.encode_to_vec(), "")),
        (
            RCS,
            envelope("v1", "ReplicationController", rc.encode_to_vec(), ""),
        ),
        (JOBS, envelope("batch/v1", "Job", job.encode_to_vec(), "")),
        // The envelope may carry JSON instead of protobuf.
        (
            CONFIGMAPS,
            envelope(
                "v1",
                "ConfigMap",
                br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fuzz-json"},"data":{"k":"v"}}"#.to_vec(),
                "application/json",
            ),
        ),
    ]
}

/// JSON manifests per kind: one to create (`fuzz`) and one replacing `web`.
fn json_manifests() -> Vec<(u8, &'static str, &'static str)> {
    vec![
        (
            PODS,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fuzz","labels":{"app":"web"},"annotations":{"a":"b"}},"spec":{"containers":[{"name":"app","image":"nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"128Mi"}},"env":[{"name":"A","value":"1"}],"readinessProbe":{"httpGet":{"path":"/","port":80}},"volumeMounts":[{"name":"data","mountPath":"/data"}]}],"volumes":[{"name":"data","emptyDir":{}}],"tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule"}]}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","v":"2"}},"spec":{"containers":[{"name":"c","image":"nginx:1.25","ports":[{"containerPort":80}]}]}}"#,
        ),
        (
            SERVICES,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"fuzz"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http","nodePort":30080},{"name":"dns","port":53,"protocol":"UDP"}],"sessionAffinity":"ClientIP"}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"ClusterIP","selector":{"app":"web"},"ports":[{"port":81,"targetPort":8080}]}}"#,
        ),
        (
            DEPLOYMENTS,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fuzz"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},"template":{"metadata":{"labels":{"app":"web","tier":"a"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":5,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:1.26"}]}}}}"#,
        ),
        (
            CONFIGMAPS,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fuzz","namespace":"default"},"data":{"key":"value","file.txt":"line\n"},"binaryData":{"bin":"AAEC"}}"#,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web"},"data":{"a":"c"},"immutable":true}"#,
        ),
        (
            RCS,
            r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"fuzz"},"spec":{"replicas":2,"selector":{"app":"web"},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"myweb"}]}}}}"#,
            r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"web"},"spec":{"replicas":0,"selector":{"app":"web"},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
        ),
        (
            NAMESPACES,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fuzz","labels":{"team":"a"}}}"#,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"web"},"spec":{"finalizers":["kubernetes"]}}"#,
        ),
        (
            SECRETS,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"fuzz"},"type":"kubernetes.io/tls","data":{"tls.crt":"Y3J0","tls.key":"a2V5"}}"#,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"web"},"type":"Opaque","stringData":{"p":"r"}}"#,
        ),
        (
            JOBS,
            r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"fuzz"},"spec":{"completions":3,"parallelism":2,"backoffLimit":1,"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox","command":["sh","-c","true"]}]}}}}"#,
            r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"web"},"spec":{"suspend":true,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}"#,
        ),
    ]
}

/// The same as YAML, as kubectl sends `create -f`/`apply` bodies (it sends JSON, but other
/// clients send YAML).
const YAML_MANIFESTS: &[(u8, &str)] = &[
    (
        PODS,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fuzz-yaml\n  labels: {app: web}\nspec:\n  containers:\n  - name: app\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n    securityContext:\n      runAsUser: 1000\n      capabilities:\n        drop: [ALL]\n",
    ),
    (
        DEPLOYMENTS,
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: fuzz-yaml\nspec:\n  replicas: 1\n  selector:\n    matchLabels: &labels\n      app: web\n  template:\n    metadata:\n      labels: *labels\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    ),
    (
        CONFIGMAPS,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fuzz-yaml\ndata:\n  multi: |\n    a\n    b\n  num: \"1\"\n  yes: \"true\"\n",
    ),
    // Several documents in one body.
    (
        CONFIGMAPS,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n...\n",
    ),
    (
        SERVICES,
        "# comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: fuzz-yaml\nspec:\n  ports:\n  - port: 80\n---\n",
    ),
];

fn request_body(root: &Path, repo: &Path) {
    let mut o = out(root, "request_body");
    for (kind, create, replace) in json_manifests() {
        o.body(JSON, kind, CREATE, create.as_bytes());
        o.body(NO_TYPE, kind, STRICT, create.as_bytes());
        o.body(JSON, kind, PUT, replace.as_bytes());
        o.body(JSON, kind, PUT_STATUS, replace.as_bytes());
    }
    // Unknown fields, for fieldValidation.
    let unknown = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fuzz","bogus":1},"spec":{"containers":[{"name":"c","image":"i","colour":"red"}]}}"#;
    o.body(JSON, PODS, STRICT, unknown.as_bytes());
    o.body(JSON, PODS, IGNORE, unknown.as_bytes());
    o.body(JSON, PODS, CREATE, br#"{"metadata":{"generateName":"fuzz-"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#);
    for (kind, yaml) in YAML_MANIFESTS {
        o.body(YAML, *kind, CREATE, yaml.as_bytes());
    }
    for entry in std::fs::read_dir(repo.join("examples/seed")).expect("examples/seed") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read(&path).expect("a seed manifest");
        let kind = if path.to_string_lossy().ends_with("-svc.yaml") {
            SERVICES
        } else {
            RCS
        };
        o.body(YAML, kind, CREATE, &text);
    }
    for (kind, body) in protobuf_bodies() {
        o.body(PROTOBUF, kind, CREATE, &body);
    }
    o.body(
        JSON,
        PODS,
        EVICTION,
        br#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web-1","namespace":"default"},"deleteOptions":{"gracePeriodSeconds":0,"propagationPolicy":"Background","preconditions":{"resourceVersion":"5"}}}"#,
    );
    o.body(
        JSON,
        PODS,
        BINDING,
        br#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"web","namespace":"default"},"target":{"apiVersion":"v1","kind":"Node","name":"node-1"}}"#,
    );
    o.body(
        JSON,
        DEPLOYMENTS,
        MERGE_PATCH,
        br#"{"metadata":{"labels":{"x":"y","app":null}},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}}}"#,
    );
    o.body(
        JSON,
        PODS,
        MERGE_PATCH,
        br#"{"metadata":{"finalizers":null,"annotations":{"k":"v"}},"status":{"phase":"Running"}}"#,
    );
}

/// A continue token as the server writes it.
fn token(rv: i64, start: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!(
        r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":"{start}"}}"#
    ))
}

fn request_url(root: &Path) {
    const TABLE: &str = "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    const METADATA: &str =
        "Accept: application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
    const JSON_BODY: &str = "Content-Type: application/json";
    let t = token(12, "/registry/pods/default/web");
    let requests: Vec<String> = vec![
        "GET /api/v1/namespaces/default/pods?limit=1".into(),
        "GET /api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+%28front%2Cback%29%2C%21canary&fieldSelector=spec.nodeName%3Dn1%2Cstatus.phase%21%3DFailed".into(),
        "GET /api/v1/namespaces/default/pods?labelSelector=app+notin+(db),tier&fieldSelector=metadata.name==web-1".into(),
        format!("GET /api/v1/namespaces/default/pods?limit=1&continue={t}"),
        format!("GET /api/v1/pods?limit=2&continue={t}&resourceVersion=3"),
        "GET /api/v1/namespaces/default/pods?resourceVersion=5&resourceVersionMatch=Exact".into(),
        "GET /api/v1/namespaces/default/pods?resourceVersion=0&resourceVersionMatch=NotOlderThan".into(),
        "GET /api/v1/namespaces/default/pods?resourceVersion=999999&limit=500".into(),
        "GET /api/v1/namespaces/default/pods?watch=true&resourceVersion=3&allowWatchBookmarks=true&timeoutSeconds=30".into(),
        "GET /api/v1/watch/namespaces/default/pods/web?sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan".into(),
        format!("GET /api/v1/pods?watch=1&labelSelector=app%3Dweb\n{TABLE}"),
        format!("GET /api/v1/namespaces/default/pods/web\n{TABLE}"),
        format!("GET /api/v1/namespaces/default/pods?includeObject=Object\n{TABLE}"),
        format!("GET /api/v1/namespaces/default/services?limit=1\n{METADATA}"),
        "GET /api/v1/namespaces/default/pods/web/status\nAccept: application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io".into(),
        "GET /api/v1/namespaces/default/pods/web\nAccept: application/vnd.kubernetes.protobuf".into(),
        "DELETE /api/v1/namespaces/default/pods/web?gracePeriodSeconds=0&propagationPolicy=Background".into(),
        format!("DELETE /api/v1/namespaces/default/pods/web-2\n{JSON_BODY}\n\n{{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Foreground\",\"orphanDependents\":true,\"gracePeriodSeconds\":30,\"preconditions\":{{\"uid\":\"x\",\"resourceVersion\":\"4\"}}}}"),
        "DELETE /api/v1/namespaces/default/pods?labelSelector=app%3Ddb&gracePeriodSeconds=5".into(),
        "DELETE /api/v1/namespaces/web?propagationPolicy=Orphan".into(),
        "DELETE /apis/apps/v1/namespaces/default/deployments/web?propagationPolicy=Foreground".into(),
        "GET /apis/apps/v1/namespaces/default/deployments/web/scale".into(),
        format!("PUT /apis/apps/v1/namespaces/default/deployments/web/scale\n{JSON_BODY}\n\n{{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{{\"name\":\"web\",\"namespace\":\"default\"}},\"spec\":{{\"replicas\":4}}}}"),
        "PATCH /api/v1/namespaces/default/replicationcontrollers/web/scale\nContent-Type: application/merge-patch+json\n\n{\"spec\":{\"replicas\":0}}".into(),
        "PATCH /api/v1/namespaces/default/configmaps/web?fieldValidation=Strict\nContent-Type: application/merge-patch+json\n\n{\"data\":{\"a\":null,\"b\":\"c\"}}".into(),
        "PATCH /api/v1/namespaces/default/pods/web/status\nContent-Type: application/merge-patch+json\n\n{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}".into(),
        "PATCH /api/v1/namespaces/default/pods/web\nContent-Type: application/strategic-merge-patch+json\n\n{}".into(),
        "PATCH /api/v1/namespaces/default/pods/web?fieldManager=kubectl&force=true\nContent-Type: application/apply-patch+yaml\n\nkind: Pod".into(),
        format!("POST /api/v1/namespaces/default/configmaps?dryRun=All\n{JSON_BODY}\n\n{{\"metadata\":{{\"name\":\"x\"}}}}"),
        format!("POST /api/v1/namespaces/default/configmaps?fieldManager=kubectl-create&fieldValidation=Warn\n{JSON_BODY}\n\n{{\"metadata\":{{\"name\":\"x\",\"extra\":1}},\"data\":{{\"k\":\"v\"}}}}"),
        format!("POST /api/v1/namespaces/default/bindings\n{JSON_BODY}\n\n{{\"metadata\":{{\"name\":\"web\"}},\"target\":{{\"kind\":\"Node\",\"name\":\"n2\"}}}}"),
        format!("POST /api/v1/namespaces/default/pods/web-1/eviction\n{JSON_BODY}\n\n{{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{{\"name\":\"web-1\"}}}}"),
        format!("PUT /api/v1/namespaces/web/finalize\n{JSON_BODY}\n\n{{\"metadata\":{{\"name\":\"web\"}},\"spec\":{{\"finalizers\":[]}}}}"),
        format!("PUT /api/v1/namespaces/default/secrets/web\nContent-Type: application/yaml\n\nmetadata:\n  name: web\n  resourceVersion: \"11\"\nstringData:\n  k: v\n"),
        "GET /api/v1/nodes?fieldSelector=metadata.name%3Dn1&labelSelector=node-role.kubernetes.io%2Fcontrol-plane".into(),
        "GET /api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb%2CinvolvedObject.kind%3DPod".into(),
        "GET /api/v1/namespaces?fieldSelector=status.phase%3DActive".into(),
        "GET /apis/apps/v1/deployments?labelSelector=app&limit=10".into(),
        "GET /api/v1/namespaces/default/pods/web/log".into(),
        "GET /api/v1/namespaces/default/pods/web/exec?command=ls".into(),
        "GET /api".into(),
        "GET /api/v1".into(),
        "GET /apis".into(),
        "GET /apis/apps".into(),
        "GET /apis/apps/v1".into(),
        "GET /apis\nAccept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json".into(),
        "GET /version".into(),
        "GET /readyz?verbose".into(),
        "GET /livez/ping".into(),
        "GET /healthz/etcd".into(),
        "GET /openapi/v3".into(),
        "GET /metrics".into(),
        "HEAD /api/v1/namespaces/default/configmaps/web".into(),
        "OPTIONS /api/v1/pods".into(),
    ];
    let mut o = out(root, "request_url");
    for r in requests {
        o.write(r.as_bytes());
    }
}

fn continue_token(root: &Path) {
    let mut o = out(root, "continue_token");
    let inputs = [
        format!(
            "{}\n1\n\n\ndefault",
            token(12, "/registry/pods/default/web")
        ),
        format!("{}\n2\n\n\n", token(12, "/registry/pods/default/web-1")),
        format!("{}\n0", token(3, "")),
        format!("{}\n1", token(9_223_372_036_854_775_807, "/registry/pods/")),
        format!("{}\n1\n5", token(12, "/registry/pods/default/web")),
        "\n1\n\n\ndefault".into(),
        "\n2\n0\nNotOlderThan".into(),
        "\n1\n7\nExact\nkube-system".into(),
        "\n0\n18446744073709551616\nExact".into(),
        "\n0\n9223372036854775807".into(),
        "\n0\n-1\n".into(),
        "not base64!\n1".into(),
        format!(
            "{}\n1",
            base64::engine::general_purpose::STANDARD.encode(r#"{"rv":-5,"start":1}"#)
        ),
    ];
    for i in inputs {
        o.write(i.as_bytes());
    }
}

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "crates/apiserver/fuzz/corpus".into()),
    );
    // The repository root, for examples/seed.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../..");
    request_body(&root, &repo);
    request_url(&root);
    continue_token(&root);
}
