//! `kubectl describe` (the real kubectl) against the in-process apiserver: each object's
//! fields, and its Events — kubectl finds them with a field selector on `involvedObject`, so an
//! Event created for the object must show its reason and message.

use crate::common;

use common::Cluster;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports: [{containerPort: 80}]
    env: [{name: MODE, value: describe}]
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/hostname: n1}
spec:
  podCIDR: 10.42.1.0/24
  taints: [{key: dedicated, value: web, effect: NoSchedule}]
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  addresses: [{type: InternalIP, address: 10.0.0.11}, {type: Hostname, address: n1}]
  nodeInfo:
    machineID: m1
    systemUUID: s1
    bootID: b1
    kernelVersion: 6.1.0
    osImage: Debian GNU/Linux 12
    containerRuntimeVersion: containerd://1.7.0
    kubeletVersion: v1.33.0
    kubeProxyVersion: v1.33.0
    operatingSystem: linux
    architecture: amd64
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: web-rc
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: nginx, image: nginx:1.25}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-deploy
spec:
  replicas: 3
  selector:
    matchLabels: {app: web-deploy}
  template:
    metadata:
      labels: {app: web-deploy}
    spec:
      containers: [{name: nginx, image: nginx:1.25}]
"#;

/// Creates a core Event about `kind/name` (with its uid, as controllers record them).
async fn record_event(
    c: &Cluster,
    api_version: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
) {
    let resource = match kind {
        "ReplicationController" => "rc".to_string(),
        other => other.to_lowercase(),
    };
    let uid = c
        .ok(&["get", &resource, name, "-o", "jsonpath={.metadata.uid}"])
        .await;
    assert!(!uid.is_empty(), "{kind}/{name} has no uid");
    let namespace = if kind == "Node" { "" } else { "default" };
    let event = format!(
        r#"
apiVersion: v1
kind: Event
metadata:
  name: {name}.{reason_lower}
  namespace: default
involvedObject:
  apiVersion: {api_version}
  kind: {kind}
  name: {name}
  namespace: "{namespace}"
  uid: {uid}
reason: {reason}
message: "{message}"
type: Warning
source: {{component: describe-test}}
count: 2
firstTimestamp: "{first}"
lastTimestamp: "{last}"
"#,
        reason_lower = reason.to_lowercase(),
        // 10.5 minutes: rounding to whole seconds must not tip it under the "10m" kubectl prints.
        first = ago(630),
        last = ago(60),
    );
    let out = c.kubectl_stdin(&["create", "-f", "-"], Some(&event)).await;
    assert!(out.ok, "creating the event: {}", out.stderr);
}

/// `seconds` ago, as an RFC 3339 timestamp with whole seconds.
fn ago(seconds: i64) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds);
    t.round(jiff::Unit::Second).unwrap().to_string()
}

/// Asserts `kubectl describe` printed every `wants` and an Events row with the reason and
/// message.
async fn describe(c: &Cluster, args: &[&str], wants: &[&str], reason: &str, message: &str) {
    let mut all = vec!["describe"];
    all.extend_from_slice(args);
    let (out, err) = c.ok_with_log(&all).await;
    assert!(
        err.is_empty(),
        "kubectl describe {args:?} complained:\n{err}\n{out}"
    );
    // kubectl aligns columns per section: compare with runs of spaces squashed.
    let squashed: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for want in wants {
        assert!(
            squashed.iter().any(|l| l.contains(want)),
            "{want:?} missing from describe {args:?}:\n{out}"
        );
    }
    let events = out
        .split("\nEvents:")
        .nth(1)
        .unwrap_or_else(|| panic!("no Events section in describe {args:?}:\n{out}"));
    assert!(
        events.lines().any(|l| l.contains("Warning")
            && l.contains(reason)
            && l.contains("(x2 over 10m)")
            && l.contains("describe-test")
            && l.contains(message)),
        "event {reason} missing from describe {args:?}:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_fields_and_events() {
    let c = common::cluster().await;
    let out = c.kubectl_stdin(&["create", "-f", "-"], Some(OBJECTS)).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);

    record_event(
        &c,
        "v1",
        "Pod",
        "web-0",
        "BackOff",
        "Back-off pulling image",
    )
    .await;
    describe(
        &c,
        &["pod", "web-0"],
        &[
            "Name: web-0",
            "Namespace: default",
            "app=web",
            "Status: Pending",
            "Image: nginx:1.25",
            "Port: 80/TCP",
            "MODE: describe",
            "QoS Class: BestEffort",
        ],
        "BackOff",
        "Back-off pulling image",
    )
    .await;

    record_event(
        &c,
        "v1",
        "Node",
        "n1",
        "NodeNotReady",
        "Node n1 status is now: NodeNotReady",
    )
    .await;
    describe(
        &c,
        &["node", "n1"],
        &[
            "Name: n1",
            "Taints: dedicated=web:NoSchedule",
            "InternalIP: 10.0.0.11",
            "PodCIDR: 10.42.1.0/24",
            "Kernel Version: 6.1.0",
            "Container Runtime Version: containerd://1.7.0",
        ],
        "NodeNotReady",
        "Node n1 status is now: NodeNotReady",
    )
    .await;

    record_event(
        &c,
        "v1",
        "Service",
        "web",
        "SyncLoadBalancerFailed",
        "No load balancer here",
    )
    .await;
    describe(
        &c,
        &["service", "web"],
        &[
            "Name: web",
            "Selector: app=web",
            "Type: ClusterIP",
            "IP: 10.43.",
            "Port: http 80/TCP",
            "TargetPort: 8080/TCP",
        ],
        "SyncLoadBalancerFailed",
        "No load balancer here",
    )
    .await;

    record_event(
        &c,
        "v1",
        "ReplicationController",
        "web-rc",
        "FailedCreate",
        "Error creating: quota exceeded",
    )
    .await;
    describe(
        &c,
        &["rc", "web-rc"],
        &[
            "Name: web-rc",
            "Selector: app=web",
            "Replicas: 0 current / 2 desired",
            // Only pods the controller owns count (web-0 is an orphan).
            "Pods Status: 0 Running / 0 Waiting / 0 Succeeded / 0 Failed",
            "Image: nginx:1.25",
        ],
        "FailedCreate",
        "Error creating: quota exceeded",
    )
    .await;

    record_event(
        &c,
        "apps/v1",
        "Deployment",
        "web-deploy",
        "ScalingReplicaSet",
        "Scaled up replica set web-deploy-1 to 3",
    )
    .await;
    describe(
        &c,
        &["deployment", "web-deploy"],
        &[
            "Name: web-deploy",
            "Selector: app=web-deploy",
            "Replicas: 3 desired | 0 updated | 0 total | 0 available | 0 unavailable",
            "StrategyType: RollingUpdate",
            "RollingUpdateStrategy: 25% max unavailable, 25% max surge",
        ],
        "ScalingReplicaSet",
        "Scaled up replica set web-deploy-1 to 3",
    )
    .await;

    // Several at once, by label: every one gets its section.
    let out = c.ok(&["describe", "pods,services", "-l", "app=web"]).await;
    assert!(out.contains("Back-off pulling image"), "{out}");
}
