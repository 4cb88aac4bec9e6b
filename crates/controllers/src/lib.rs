//! The controller manager: level-triggered controllers, each a kube-rs client of the
//! apiserver (never of the store), as upstream's kube-controller-manager.
//!
//! Shared infrastructure every controller builds on:
//! - [`context::Context`]: client, per-controller event recorders, metrics, identity;
//! - [`informer`]: list-watch into a reflector store with add/update/delete handlers;
//! - [`workqueue`]: client-go's rate-limited work queue and the worker loop
//!   ([`workqueue::run_workers`]);
//! - [`expectations`]: pending creates/deletes per controller key;
//! - [`pod_control`]: pods from templates with controller references, upstream's events, and
//!   slow-start batches;
//! - [`manager`]: the registry below, `--controllers` selection, leader election, `/metrics`.
//!
//! A controller is a module with a `run(Context)` future and an entry in [`all`].

pub mod clock;
pub mod cluster_network;
pub mod context;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod expectations;
pub mod garbage_collector;
pub mod history;
pub mod informer;
pub mod job;
pub mod manager;
pub mod metrics;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod pod_control;
pub mod podgc;
pub mod replicaset;
pub mod resourcequota;
pub mod service_lb;
pub mod serviceaccount;
pub mod statefulset;
pub mod ttl_after_finished;
pub mod workqueue;

use kube::Client;

pub use context::Context;
pub use manager::{ControllerDescriptor, Manager, ManagerConfig, SelectionError};

/// Every controller, in start order (upstream's names and aliases).
pub fn all() -> Vec<ControllerDescriptor> {
    vec![
        ControllerDescriptor {
            name: "namespace-controller",
            aliases: &["namespace"],
            enabled_by_default: true,
            run: |ctx| Box::pin(namespace::run(ctx.client)),
        },
        ControllerDescriptor {
            name: "replicationcontroller-controller",
            aliases: &["replicationcontroller"],
            enabled_by_default: true,
            run: |ctx| Box::pin(replicaset::run_replication_controllers(ctx)),
        },
        ControllerDescriptor {
            name: "replicaset-controller",
            aliases: &["replicaset"],
            enabled_by_default: true,
            run: |ctx| Box::pin(replicaset::run_replicasets(ctx)),
        },
        ControllerDescriptor {
            name: "deployment-controller",
            aliases: &["deployment"],
            enabled_by_default: true,
            run: |ctx| Box::pin(deployment::run(ctx)),
        },
        ControllerDescriptor {
            name: "statefulset-controller",
            aliases: &["statefulset"],
            enabled_by_default: true,
            run: |ctx| Box::pin(statefulset::run(ctx)),
        },
        ControllerDescriptor {
            name: "daemonset-controller",
            aliases: &["daemonset"],
            enabled_by_default: true,
            run: |ctx| Box::pin(daemonset::run(ctx)),
        },
        ControllerDescriptor {
            name: "garbage-collector-controller",
            aliases: &["garbagecollector"],
            enabled_by_default: true,
            run: |ctx| Box::pin(garbage_collector::run(ctx)),
        },
        ControllerDescriptor {
            name: "pod-garbage-collector-controller",
            aliases: &["podgc"],
            enabled_by_default: true,
            run: |ctx| Box::pin(podgc::run(ctx)),
        },
        ControllerDescriptor {
            name: "job-controller",
            aliases: &["job"],
            enabled_by_default: true,
            run: |ctx| Box::pin(job::run(ctx)),
        },
        ControllerDescriptor {
            name: "cronjob-controller",
            aliases: &["cronjob"],
            enabled_by_default: true,
            run: |ctx| Box::pin(cronjob::run(ctx)),
        },
        ControllerDescriptor {
            name: "ttl-after-finished-controller",
            aliases: &["ttl-after-finished"],
            enabled_by_default: true,
            run: |ctx| Box::pin(ttl_after_finished::run(ctx)),
        },
        ControllerDescriptor {
            name: "serviceaccount-controller",
            aliases: &["serviceaccount"],
            enabled_by_default: true,
            run: |ctx| Box::pin(serviceaccount::accounts::run(ctx)),
        },
        ControllerDescriptor {
            name: "root-ca-certificate-publisher-controller",
            aliases: &["root-ca-cert-publisher"],
            enabled_by_default: true,
            run: |ctx| Box::pin(serviceaccount::root_ca::run(ctx)),
        },
        ControllerDescriptor {
            name: "service-lb-controller",
            aliases: &["servicelb"],
            enabled_by_default: true,
            run: |ctx| Box::pin(service_lb::run(ctx)),
        },
        ControllerDescriptor {
            name: "node-ipam-controller",
            aliases: &["nodeipam"],
            enabled_by_default: true,
            run: |ctx| Box::pin(node_ipam::run(ctx)),
        },
        ControllerDescriptor {
            name: "node-lifecycle-controller",
            aliases: &["nodelifecycle"],
            enabled_by_default: true,
            run: |ctx| Box::pin(node_lifecycle::run(ctx)),
        },
        ControllerDescriptor {
            name: "taint-eviction-controller",
            aliases: &[],
            enabled_by_default: true,
            run: |ctx| Box::pin(node_lifecycle::taint_eviction::run(ctx)),
        },
        ControllerDescriptor {
            name: "endpoints-controller",
            aliases: &["endpoint"],
            enabled_by_default: true,
            run: |ctx| Box::pin(endpoints::run(ctx)),
        },
        ControllerDescriptor {
            name: "endpointslice-controller",
            aliases: &["endpointslice"],
            enabled_by_default: true,
            run: |ctx| Box::pin(endpointslice::run(ctx)),
        },
        ControllerDescriptor {
            name: "endpointslice-mirroring-controller",
            aliases: &["endpointslicemirroring"],
            enabled_by_default: true,
            run: |ctx| Box::pin(endpointslice::mirroring::run(ctx)),
        },
        ControllerDescriptor {
            name: "resourcequota-controller",
            aliases: &["resourcequota"],
            enabled_by_default: true,
            run: |ctx| Box::pin(resourcequota::run(ctx)),
        },
    ]
}

/// Controllers running in the background without leader election (tests, embedding); they
/// stop when this is dropped.
pub struct Running {
    /// The controllers' shared context (metrics, client).
    pub ctx: Context,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the controllers `controllers` selects (`--controllers` syntax, e.g. `["*"]` or
/// `["replicaset-controller"]`) on `client`, without leader election.
pub fn start(client: Client, controllers: &[&str]) -> Result<Running, SelectionError> {
    let mut config = ManagerConfig::new("rkube-controller-manager".into());
    config.controllers = controllers.iter().map(|s| s.to_string()).collect();
    config.leader_election = None;
    let manager = Manager::new(client, config)?;
    let ctx = manager.context().clone();
    let task = tokio::spawn(async move {
        let _ = manager.run().await;
    });
    Ok(Running { ctx, task })
}
