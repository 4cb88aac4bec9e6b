//! The controller manager: level-triggered controllers, each a kube-rs client of the
//! apiserver (never of the store), as upstream's kube-controller-manager.

pub mod namespace;

use kube::Client;
use tokio::task::JoinSet;

/// A controller the manager can run.
pub struct ControllerDescriptor {
    /// Upstream's controller name (as in `--controllers`).
    pub name: &'static str,
    /// Runs the controller until it fails or is aborted.
    pub run: fn(Client) -> futures::future::BoxFuture<'static, ()>,
}

/// Every controller, in start order.
pub fn all() -> Vec<ControllerDescriptor> {
    vec![ControllerDescriptor {
        name: "namespace",
        run: |client| Box::pin(namespace::run(client)),
    }]
}

/// Starts every controller on `client`; dropping the set stops them.
pub fn start(client: Client) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for c in all() {
        let client = client.clone();
        tracing::info!(controller = c.name, "starting controller");
        set.spawn((c.run)(client));
    }
    set
}
