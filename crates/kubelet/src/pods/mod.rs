//! Pod workers: the kubelet's level-triggered loop over the pods bound to its node. Each sync
//! takes the pod and the runtime's state (from the [`pod_cache`] the PLEG shares, or read once),
//! then acts (sandbox, init containers in order, containers, restarts with back-off, graceful
//! termination) and reports status. Only changes to what the kubelet acts on wake a pod's
//! worker ([`changes`]): its own status writes coming back through the watch do not.

pub mod backoff;
pub mod cgroups;
pub mod changes;
pub mod container;
pub mod dns;
pub mod env;
pub mod expand;
pub mod hosts;
pub mod images;
pub mod keyring;
pub mod kill;
pub mod labels;
pub mod lookups;
pub mod pleg;
pub mod pod_cache;
pub mod probes;
pub mod resources;
pub mod runtime_state;
pub mod sandbox;
pub mod status;
pub mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::{self, ObjectRef, Store};

use crate::config::KubeletConfig;
use crate::cri::Cri;
use crate::events::Recorder;
use crate::node::machine::Machine;

use backoff::Backoff;
use status::Waiting;

/// Why a pod sync failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// The runtime refused or was unreachable.
    #[error("container runtime: {0}")]
    Runtime(#[from] tonic::Status),
    /// The apiserver refused or was unreachable.
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
}

/// What the pod workers share.
pub struct PodManager {
    /// The kubelet's configuration.
    pub config: KubeletConfig,
    /// The apiserver.
    pub client: kube::Client,
    /// The runtime.
    pub cri: Cri,
    /// Event recorder.
    pub events: Recorder,
    /// The machine's capacity.
    pub machine: Machine,
    /// Probe workers and their results.
    pub probes: probes::Probes,
    /// The runtime's latest state per pod, shared by the PLEG and the workers.
    pub runtime: pod_cache::PodCache,
    /// Every Service in the cluster (for containers' service environment variables), kept by
    /// a reflector while the workers run.
    pub services: Store<Service>,
    services_writer: Mutex<Option<reflector::store::Writer<Service>>>,
    /// Wakes a pod's sync (PLEG, probes).
    pub(crate) trigger: tokio::sync::mpsc::Sender<ObjectRef<Pod>>,
    triggered: Mutex<Option<tokio::sync::mpsc::Receiver<ObjectRef<Pod>>>>,
    pub(crate) state: Mutex<WorkerState>,
}

/// Memory of the workers between syncs (lost on restart, as upstream's).
pub(crate) struct WorkerState {
    /// Container restart back-off, keyed `<uid>/<container>`.
    pub restarts: Backoff,
    /// Image pull back-off, keyed `<uid>/<container>`.
    pub pulls: Backoff,
    /// Why containers wait, by pod UID then container name.
    pub waiting: HashMap<String, HashMap<String, Waiting>>,
    /// Pods a worker is removing from the node after deleting their API object.
    pub removing: HashSet<String>,
}

impl PodManager {
    /// Workers for `config`'s node.
    pub fn new(
        config: KubeletConfig,
        client: kube::Client,
        cri: Cri,
        machine: Machine,
    ) -> Arc<Self> {
        let events = Recorder::new(client.clone(), &config.node_name);
        let (trigger, triggered) = tokio::sync::mpsc::channel(1024);
        let (services, services_writer) = reflector::store();
        Arc::new(Self {
            config,
            client,
            cri,
            events,
            machine,
            probes: probes::Probes::default(),
            runtime: pod_cache::PodCache::default(),
            services,
            services_writer: Mutex::new(Some(services_writer)),
            trigger,
            triggered: Mutex::new(Some(triggered)),
            state: Mutex::new(WorkerState {
                restarts: Backoff::new(backoff::INITIAL, backoff::MAX),
                pulls: Backoff::new(backoff::INITIAL, backoff::MAX),
                waiting: HashMap::new(),
                removing: HashSet::new(),
            }),
        })
    }

    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut WorkerState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// Runs the pod workers for the node until the task is dropped: a kube-runtime controller over
/// the pods bound to this node (field selector `spec.nodeName`), woken by changes to what the
/// kubelet acts on, by the PLEG and by probes.
pub async fn run(mgr: Arc<PodManager>) {
    use futures::StreamExt;
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};

    let pods: kube::Api<Pod> = kube::Api::all(mgr.client.clone());
    let selector = format!("spec.nodeName={}", mgr.config.node_name);
    let (store, writer) = reflector::store();
    // The store sees every update (status included); only the worker's wake-ups are filtered.
    let changed = reflector::reflector(
        writer,
        watcher(pods, watcher::Config::default().fields(&selector)),
    )
    .applied_objects()
    .predicate_filter(changes::acted_on, PredicateConfig::default());
    let controller = Controller::for_stream(changed, store);
    let Some(rx) = mgr
        .triggered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        tracing::error!("pod workers started twice");
        return;
    };
    // Aborted with this task: a kubelet that is shut down must stop relisting too.
    let relister = AbortOnDrop(tokio::spawn(pleg::run(
        mgr.clone(),
        controller.store(),
        mgr.trigger.clone(),
    )));
    let services = mgr
        .services_writer
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .map(|writer| {
            let api: kube::Api<Service> = kube::Api::all(mgr.client.clone());
            let stream = reflector::reflector(
                writer,
                watcher(api, watcher::Config::default()).default_backoff(),
            );
            AbortOnDrop(tokio::spawn(
                stream.for_each(|_| futures::future::ready(())),
            ))
        });
    let housekeeping = AbortOnDrop(tokio::spawn(crate::housekeeping::run(
        mgr.cri.clone(),
        mgr.config.root_dir.clone(),
        vec![crate::runtime::images::PAUSE_IMAGE.to_string()],
    )));
    let error_policy = |_pod: Arc<Pod>, err: &PodError, _mgr: Arc<PodManager>| {
        tracing::warn!(error = %err, "pod sync failed; retrying");
        Action::requeue(std::time::Duration::from_secs(2))
    };
    controller
        .reconcile_on(tokio_stream::wrappers::ReceiverStream::new(rx))
        .run(sync::sync_pod, error_policy, mgr)
        .for_each(|_| futures::future::ready(()))
        .await;
    drop((relister, services, housekeeping));
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
