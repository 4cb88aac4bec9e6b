//! What every controller is given when it starts: the kube client, the shared Event writer
//! (each controller reports under its own component name, as upstream's
//! `replicaset-controller`), the metrics registry, and the manager's identity.
//!
//! Cheap to clone. Controllers build the rest themselves (informers, a [`crate::workqueue`],
//! [`crate::expectations`], a [`crate::pod_control::PodControl`]).

use std::sync::Arc;

use kube::Client;
use rkube_component::events::{EventApi, EventSink};

use crate::cluster_network::ClusterNetwork;
use crate::metrics::Metrics;

/// Shared by every controller of one manager.
#[derive(Clone)]
pub struct Context {
    /// The apiserver client.
    pub client: Client,
    /// The manager's metrics (served on `/metrics`).
    pub metrics: Arc<Metrics>,
    /// This manager's identity (`<host>_<uuid>`, the lease holder and events' reportingInstance).
    pub identity: String,
    /// How many keys each controller reconciles at once (upstream's `--concurrent-*-syncs`,
    /// default 5).
    pub workers: usize,
    /// The cluster CA bundle (PEM) in-cluster clients verify the apiserver with (upstream's
    /// `--root-ca-file`, else the kubeconfig's CA), published as `kube-root-ca.crt`.
    pub root_ca_pem: Option<Arc<str>>,
    /// The address ranges handed out to nodes and load balancers.
    pub network: ClusterNetwork,
    events: EventSink,
}

impl Context {
    /// A context on `client` (starts the background Event writers: call inside a runtime).
    pub fn new(client: Client, identity: String) -> Context {
        let events = EventSink::start(
            client.clone(),
            EventApi::CoreV1,
            "kube-controller-manager",
            identity.clone(),
        );
        Context {
            client,
            metrics: Arc::new(Metrics::new()),
            identity,
            workers: 5,
            root_ca_pem: None,
            network: ClusterNetwork::default(),
            events,
        }
    }

    /// An event recorder reporting as `component` (upstream's per-controller source, e.g.
    /// `replicaset-controller`, `job-controller`).
    pub fn recorder(&self, component: &str) -> EventSink {
        self.events.for_component(component)
    }
}
