//! An in-process apiserver and helpers to create nodes and pods for scheduler tests. Nodes are
//! plain Node objects (no kubelet): the scheduler only reads them.

#![allow(dead_code)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use rkube_apiserver::server::{RunningServer, ServerConfig};
use serde_json::{Value, json};

/// A control plane for one test.
pub struct Cluster {
    /// Admin client.
    pub client: kube::Client,
    /// The admin kubeconfig (for kubectl).
    pub kubeconfig: std::path::PathBuf,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts an apiserver on a free loopback port.
    pub async fn start() -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("rkube_scheduler=debug")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut sc = ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let kubeconfig = server.kubeconfig.clone();
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let client = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();
        Cluster {
            client,
            kubeconfig,
            server: Some(server),
            _dir: dir,
        }
    }

    /// Creates a node with `cpu` and `memory` allocatable and extra JSON merged into it.
    pub async fn node(&self, name: &str, cpu: &str, memory: &str, extra: Value) -> Node {
        let mut n = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        });
        merge(&mut n, extra);
        let node: Node = serde_json::from_value(n).unwrap();
        Api::<Node>::all(self.client.clone())
            .create(&PostParams::default(), &node)
            .await
            .unwrap()
    }

    /// Creates a pod in `default` from a container spec and extra JSON merged into it.
    pub async fn pod(&self, name: &str, extra: Value) -> Pod {
        let mut p = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        });
        merge(&mut p, extra);
        let pod: Pod = serde_json::from_value(p).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    /// Pods in `default`.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Waits until `name` is bound; its node.
    pub async fn bound(&self, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let p = self.pods().get(name).await.unwrap();
            if let Some(n) = p.spec.and_then(|s| s.node_name).filter(|n| !n.is_empty()) {
                return n;
            }
            assert!(tokio::time::Instant::now() < deadline, "{name} never bound");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a `reason` event about pod `name` exists; its message.
    pub async fn event(&self, name: &str, reason: &str) -> String {
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client.clone(), "default");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let list = events
                .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
                .await
                .unwrap();
            if let Some(e) = list
                .items
                .iter()
                .find(|e| e.reason.as_deref() == Some(reason))
            {
                return e.message.clone().unwrap_or_default();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event for {name}: {:?}",
                list.items
                    .iter()
                    .map(|e| (&e.reason, &e.message))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the apiserver.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Merges `extra` into `base` (objects recursively, everything else replaced).
pub fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// The pod's PodScheduled condition as (status, reason, message).
pub fn scheduled_condition(pod: &Pod) -> Option<(String, String, String)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}
