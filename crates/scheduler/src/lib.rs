//! The scheduler: watches pods without a node, picks a node for each through a plugin
//! framework (PreFilter → Filter → PostFilter/preemption → PreScore → Score → Reserve) and binds
//! them with `pods/binding`. A kube-rs client of the apiserver, as upstream's kube-scheduler.

pub mod actions;
pub mod algorithm;
pub mod cache;
pub mod config;
pub mod events;
pub mod framework;
pub mod informers;
pub mod metrics;
pub mod plugins;
pub mod queue;
pub mod scheduler;
pub mod serve;
pub mod trimmed_pod;

pub use rkube_component::leader;
pub use scheduler::{Scheduler, SchedulerOptions};

use std::sync::Arc;

/// Runs `scheduler` until the future is dropped — first winning the leader election when
/// `leader` is set, and stopping if leadership is lost (as upstream, which exits).
pub async fn run(
    scheduler: Arc<Scheduler>,
    leader: Option<leader::LeaderElectionConfig>,
) -> Result<(), leader::LeaderError> {
    match leader {
        None => {
            scheduler.run().await;
            Ok(())
        }
        Some(config) => {
            let client = scheduler.client.clone();
            leader::run_while_leading(client, config, scheduler.run()).await
        }
    }
}
