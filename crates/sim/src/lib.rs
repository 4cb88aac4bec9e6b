//! Simulated nodes, like [kwok](https://kwok.sigs.k8s.io): Nodes that register, heartbeat and
//! run pods without a kubelet or containers, for scheduler scale tests and benchmarks. A
//! kube-rs client of the apiserver like every component; one process holds thousands of nodes.
//!
//! What a simulated node does (see [`SimConfig`] for the knobs):
//! - **registers** as the kubelet would: labels `kubernetes.io/hostname`, `kubernetes.io/os=linux`,
//!   `kubernetes.io/arch=amd64` (and the `beta.` ones), the marker
//!   [`MARKER_LABEL`]`=`[`MARKER_VALUE`] (`type=rkube-sim`, as kwok's `type=kwok`), capacity
//!   and allocatable, the four conditions (Ready=True, the pressure ones False) with the
//!   kubelet's reasons and messages, an InternalIP and Hostname address, node info; and a
//!   Lease named after it in `kube-node-lease`, owned by the Node;
//! - **heartbeats**: renews the Lease every 10 s and re-reports its conditions every 5 min
//!   (the kubelet's defaults), the writes of all nodes spread evenly over each interval;
//! - **runs pods** bound to it (kwok's default stages, see the `pods` module): Pending →
//!   Running and Ready with an IP from the node's podCIDR; a Job's pod → Succeeded after
//!   [`SimConfig::job_pod_run_time`]; a pod marked for deletion → deleted.
//!
//! [`SimNodes::stop`] (or dropping [`SimNodes`]) stops all of it and leaves the Nodes and
//! Leases as they are: to the cluster they are dead nodes whose Leases expire.
//!
//! ```no_run
//! # async fn f(client: kube::Client) -> Result<(), rkube_sim::SimError> {
//! let sim = rkube_sim::SimNodes::start(client, rkube_sim::SimConfig::new(5000)).await?;
//! // … run the benchmark …
//! sim.stop().await;
//! # Ok(()) }
//! ```

mod config;
mod heartbeat;
mod ipam;
mod node;
mod pods;
mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use tokio::task::JoinHandle;

pub use config::{MARKER_LABEL, MARKER_VALUE, SimConfig, parse_taint};
/// The taint type of [`SimConfig::taints`] (k8s-openapi's).
pub use k8s_openapi::api::core::v1::Taint;
pub use node::{
    KUBELET_PORT, KUBELET_VERSION, LEASE_NAMESPACE, RUNTIME_VERSION, RegisteredNode, build_node,
    healthy_conditions, node_labels, node_status,
};

/// Why the simulated nodes could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration cannot describe valid nodes.
    #[error("invalid simulated node configuration: {0}")]
    Config(String),
    /// The apiserver refused or failed to register a node.
    #[error("registering node {node}: {source}")]
    Register {
        /// The node.
        node: String,
        /// The client's error.
        source: kube::Error,
    },
    /// The node's Lease could not be created or renewed at registration.
    #[error("creating the lease of node {node}: {source}")]
    Lease {
        /// The node.
        node: String,
        /// The client's error.
        source: kube::Error,
    },
    /// The pod agent could not list and watch Nodes or Pods.
    #[error("watching nodes and pods: {0}")]
    Watch(#[source] kube::runtime::watcher::Error),
    /// The pod agent stopped before it was ready (its task panicked or was cancelled).
    #[error("the pod agent stopped before it was ready")]
    AgentStopped,
}

/// Counters of the simulator's writes since start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    lease_renewals: AtomicU64,
    lease_failures: AtomicU64,
    status_reports: AtomicU64,
    status_failures: AtomicU64,
    pods_started: AtomicU64,
    pods_completed: AtomicU64,
    pods_deleted: AtomicU64,
    pod_write_failures: AtomicU64,
}

/// What the simulator has written since it started (registration excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Lease renewals that succeeded.
    pub lease_renewals: u64,
    /// Lease renewals that failed (retried in the next round).
    pub lease_failures: u64,
    /// Node status reports that succeeded.
    pub status_reports: u64,
    /// Node status reports that failed.
    pub status_failures: u64,
    /// Pods made Running.
    pub pods_started: u64,
    /// Job pods made Succeeded.
    pub pods_completed: u64,
    /// Pods deleted at the end of their graceful deletion.
    pub pods_deleted: u64,
    /// Pod writes that failed after retries.
    pub pod_write_failures: u64,
}

/// Registers the configured nodes and their Leases, at most `register_concurrency` at a time,
/// calling `progress(done, total)` after each; a node that exists already is adopted (labels
/// and status updated). Nothing keeps running afterwards: without heartbeats the nodes go
/// NotReady once their Leases expire. [`SimNodes::start`] does this and then runs them.
pub async fn register_nodes(
    client: &Client,
    config: &SimConfig,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Vec<RegisteredNode>, SimError> {
    register_all(client, config, progress, &Time(jiff::Timestamp::now())).await
}

/// [`register_nodes`] with the conditions' transition time `now`.
async fn register_all(
    client: &Client,
    config: &SimConfig,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
    now: &Time,
) -> Result<Vec<RegisteredNode>, SimError> {
    config.validate()?;
    let done = AtomicUsize::new(0);
    let total = config.count;
    let mut registered: Vec<(usize, RegisteredNode)> = futures::stream::iter(0..total)
        .map(|i| {
            let done = &done;
            async move {
                let node = node::register(client, config, i, now).await?;
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                Ok::<_, SimError>((i, node))
            }
        })
        .buffer_unordered(config.register_concurrency)
        .try_collect()
        .await?;
    registered.sort_unstable_by_key(|(i, _)| *i);
    Ok(registered.into_iter().map(|(_, n)| n).collect())
}

/// Running simulated nodes: their heartbeats and (unless disabled) the pod agent. Stop them
/// with [`SimNodes::stop`]; dropping does the same without waiting.
pub struct SimNodes {
    nodes: node::Nodes,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimNodes {
    /// Registers the nodes (see [`register_nodes`]), starts their heartbeats, and starts the
    /// pod agent and waits until it has listed nodes and pods (pods bound afterwards are
    /// handled).
    pub async fn start(client: Client, config: SimConfig) -> Result<SimNodes, SimError> {
        SimNodes::start_with_progress(client, config, |done, total| {
            if done == total || done % 1000 == 0 {
                tracing::info!("registered {done}/{total} simulated nodes");
            }
        })
        .await
    }

    /// [`SimNodes::start`], calling `progress(done, total)` after each node registers.
    pub async fn start_with_progress(
        client: Client,
        config: SimConfig,
        progress: impl Fn(usize, usize) + Send + Sync,
    ) -> Result<SimNodes, SimError> {
        let since = Time(jiff::Timestamp::now());
        let nodes: node::Nodes = register_all(&client, &config, &progress, &since)
            .await?
            .into();
        let config = Arc::new(config);
        let counters = Arc::new(Counters::default());
        let mut sim = SimNodes {
            nodes: nodes.clone(),
            counters: counters.clone(),
            tasks: Vec::new(),
        };
        sim.tasks.push(tokio::spawn(heartbeat::leases(
            client.clone(),
            config.clone(),
            nodes.clone(),
            counters.clone(),
        )));
        sim.tasks.push(tokio::spawn(heartbeat::statuses(
            client.clone(),
            config.clone(),
            nodes.clone(),
            since,
            counters.clone(),
        )));
        if config.pod_agent {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            let agent = pods::PodAgent::new(client, config, nodes, counters);
            sim.tasks.push(tokio::spawn(agent.run(ready_tx)));
            // On an error `sim` is dropped, which stops what started.
            ready_rx.await.map_err(|_| SimError::AgentStopped)??;
        }
        Ok(sim)
    }

    /// The simulated nodes, in index order.
    pub fn nodes(&self) -> &[RegisteredNode] {
        &self.nodes
    }

    /// What has been written so far.
    pub fn stats(&self) -> SimStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            lease_renewals: get(&c.lease_renewals),
            lease_failures: get(&c.lease_failures),
            status_reports: get(&c.status_reports),
            status_failures: get(&c.status_failures),
            pods_started: get(&c.pods_started),
            pods_completed: get(&c.pods_completed),
            pods_deleted: get(&c.pods_deleted),
            pod_write_failures: get(&c.pod_write_failures),
        }
    }

    /// Stops the heartbeats and the pod agent (writes in flight are abandoned) and waits until
    /// they have stopped. The Nodes and Leases stay: the nodes now look dead to the cluster.
    pub async fn stop(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn starting_and_stopping_can_be_spawned() {
        // Type-checked, never run: benchmarks spawn these on their runtimes.
        let _ = |client: Client| assert_send(SimNodes::start(client, SimConfig::new(1)));
        let _ = |sim: SimNodes| assert_send(sim.stop());
        let _ = |client: Client, config: SimConfig| {
            assert_send(async move { register_nodes(&client, &config, &|_, _| {}).await })
        };
    }
}
