//! The loop behind the pod network: a reflector of every Node; when they change (and on a
//! periodic resync), this node's podCIDR is written into the CNI configuration and the host-gw
//! routes are made to match.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

use super::routes::{HostGwRoutes, desired_routes};
use crate::runtime::cni::{CniNetwork, Ipv4Cidr};

/// What the pod network of one node needs.
#[derive(Clone, Debug)]
pub struct PodNetworkConfig {
    /// This node's name.
    pub node_name: String,
    /// A fixed podCIDR (`--pod-cidr`), written at once instead of waiting for the node IPAM
    /// controller's assignment.
    pub static_pod_cidr: Option<Ipv4Cidr>,
    /// Where the CNI configuration goes (the runtime watches it).
    pub conf_dir: PathBuf,
    /// host-local's lease directory.
    pub ipam_data_dir: PathBuf,
    /// The bridge pods attach to.
    pub bridge: String,
    /// Program host-gw routes to other nodes' pods.
    pub routes: bool,
    /// How often routes are compared with the kernel's even when no Node changed.
    pub resync: Duration,
}

impl PodNetworkConfig {
    /// Waits for the assigned podCIDR, routes on, a 30 s resync.
    pub fn new(node_name: String, conf_dir: PathBuf, ipam_data_dir: PathBuf) -> Self {
        PodNetworkConfig {
            node_name,
            static_pod_cidr: None,
            conf_dir,
            ipam_data_dir,
            bridge: "cni0".into(),
            routes: true,
            resync: Duration::from_secs(30),
        }
    }

    /// The CNI network for `cidr`.
    fn network(&self, cidr: Ipv4Cidr) -> CniNetwork {
        let mut net = CniNetwork::for_cidr(cidr, self.ipam_data_dir.clone());
        net.bridge = self.bridge.clone();
        net
    }

    /// Writes the configuration for the static podCIDR, if there is one (before the runtime
    /// starts, so it is network-ready at once).
    pub async fn write_static(&self) -> Result<(), crate::runtime::cni::CniError> {
        if let Some(cidr) = self.static_pod_cidr {
            self.network(cidr).write(&self.conf_dir).await?;
        }
        Ok(())
    }
}

/// The running pod-network loop.
pub struct PodNetwork {
    task: tokio::task::JoinHandle<()>,
    cidr: watch::Receiver<Option<Ipv4Cidr>>,
}

impl PodNetwork {
    /// Starts following the Nodes.
    pub fn start(config: PodNetworkConfig, client: Client) -> PodNetwork {
        let (tx, cidr) = watch::channel(config.static_pod_cidr);
        let task = tokio::spawn(run(config, client, tx));
        PodNetwork { task, cidr }
    }

    /// The podCIDR the CNI configuration was written for, once there is one (None after
    /// `timeout`).
    pub async fn pod_cidr(&self, timeout: Duration) -> Option<Ipv4Cidr> {
        let mut rx = self.cidr.clone();
        tokio::time::timeout(timeout, rx.wait_for(Option::is_some))
            .await
            .ok()?
            .ok()
            .and_then(|c| *c)
    }

    /// Stops following; the configuration and routes stay (pods keep their network).
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn run(config: PodNetworkConfig, client: Client, cidr_tx: watch::Sender<Option<Ipv4Cidr>>) {
    let (store, writer) = reflector::store::<Node>();
    let mut events = reflector(
        writer,
        watcher(Api::<Node>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .boxed();
    let mut routes = HostGwRoutes::default();
    let mut written: Option<Ipv4Cidr> = config.static_pod_cidr;
    // The reflector's store is complete once the first list has been read.
    let mut listed = false;
    // Node status updates arrive every few seconds per node; the kernel's routes are read
    // only when the wanted set changed or on the periodic resync.
    let mut last_want = None;
    let mut resync = tokio::time::interval(config.resync);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let periodic = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    listed |= matches!(ev, watcher::Event::InitDone);
                    // Coalesce a burst (a relist, many status updates) into one pass.
                    let pause = tokio::time::sleep(Duration::from_millis(100));
                    tokio::pin!(pause);
                    loop {
                        tokio::select! {
                            _ = &mut pause => break,
                            more = events.next() => match more {
                                Some(Ok(ev)) => listed |= matches!(ev, watcher::Event::InitDone),
                                Some(Err(_)) => {}
                                None => break,
                            },
                        }
                    }
                    false
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "node watch interrupted");
                    continue;
                }
                None => return,
            },
            _ = resync.tick() => true,
        };
        if !listed {
            continue;
        }
        let nodes = store.state();
        if config.static_pod_cidr.is_none() {
            let assigned = nodes
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(config.node_name.as_str()))
                .and_then(|n| {
                    n.spec
                        .as_ref()?
                        .pod_cidr
                        .as_deref()?
                        .parse::<Ipv4Cidr>()
                        .ok()
                });
            if let Some(cidr) = assigned
                && written != Some(cidr)
            {
                match config.network(cidr).write(&config.conf_dir).await {
                    Ok(path) => {
                        tracing::info!(pod_cidr = %cidr, file = %path.display(), "pod network configured from the node's podCIDR");
                        written = Some(cidr);
                        cidr_tx.send_replace(written);
                    }
                    Err(e) => {
                        tracing::warn!(pod_cidr = %cidr, error = %e, "pod network configuration not written")
                    }
                }
            }
        }
        if config.routes {
            let want = desired_routes(nodes.iter().map(|n| n.as_ref()), &config.node_name);
            if periodic || last_want.as_ref() != Some(&want) {
                match routes.sync(&want).await {
                    Ok(_) => last_want = Some(want),
                    Err(e) => tracing::warn!(error = %e, "routes to other nodes' pods not synced"),
                }
            }
        }
    }
}
