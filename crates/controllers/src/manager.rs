//! The controller manager: the registry of controllers (upstream's names and aliases, enabled
//! by default or not), `--controllers` selection with upstream's syntax, leader election on the
//! Lease `kube-system/kube-controller-manager`, and the `/metrics` + `/healthz` endpoint.
//!
//! Selection follows upstream's `IsControllerEnabled`: entries are read in order and the first
//! one naming a controller decides (`name` enables it, `-name` disables it); `*` enables every
//! controller that is on by default; a controller not named and not covered by `*` is off.
//! Aliases (upstream's pre-1.28 short names such as `replicaset`) are accepted.

use std::net::SocketAddr;

use crate::cluster_network::ClusterNetwork;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use kube::Client;
use rkube_component::leader;
pub use rkube_component::leader::{LeaderElectionConfig, LeaderError};

use crate::context::Context;
use crate::metrics::QueueLabels;

/// The Lease upstream's controller manager elects its leader on (in `kube-system`).
pub const LEASE_NAME: &str = "kube-controller-manager";
/// Upstream's default secure port (rkube serves plain HTTP there, on loopback by default).
pub const DEFAULT_PORT: u16 = 10257;

/// A controller the manager can run.
pub struct ControllerDescriptor {
    /// Upstream's canonical name (as in `--controllers`), e.g. `replicaset-controller`.
    pub name: &'static str,
    /// Older names upstream still accepts, e.g. `replicaset`.
    pub aliases: &'static [&'static str],
    /// Whether `*` enables it.
    pub enabled_by_default: bool,
    /// Runs the controller until the future is dropped (which must stop everything it
    /// started).
    pub run: fn(Context) -> BoxFuture<'static, ()>,
}

/// A `--controllers` list that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectionError {
    /// An entry names no known controller.
    #[error("{0:?} is not in the list of known controllers")]
    Unknown(String),
}

/// The descriptors of `all` that `flags` (the `--controllers` entries) enable, in `all`'s
/// order.
pub fn select(
    all: Vec<ControllerDescriptor>,
    flags: &[String],
) -> Result<Vec<ControllerDescriptor>, SelectionError> {
    let canonical = |name: &str| {
        all.iter()
            .find(|d| d.name == name || d.aliases.contains(&name))
            .map(|d| d.name)
    };
    // Each entry as (canonical name or "*", enable?).
    let mut entries = Vec::new();
    for flag in flags {
        let flag = flag.trim();
        if flag == "*" {
            entries.push(("*", true));
            continue;
        }
        let (name, enable) = match flag.strip_prefix('-') {
            Some(n) => (n, false),
            None => (flag, true),
        };
        let name = canonical(name).ok_or_else(|| SelectionError::Unknown(name.to_string()))?;
        entries.push((name, enable));
    }
    Ok(all
        .into_iter()
        .filter(|d| {
            let mut star = false;
            for (name, enable) in &entries {
                if *name == d.name {
                    return *enable;
                }
                star |= *name == "*";
            }
            star && d.enabled_by_default
        })
        .collect())
}

/// How a manager runs.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// The `--controllers` entries (default `*`).
    pub controllers: Vec<String>,
    /// Leader election, or `None` to act at once (`--leader-elect=false`).
    pub leader_election: Option<LeaderElectionConfig>,
    /// This manager's identity (lease holder, events' reportingInstance).
    pub identity: String,
    /// The cluster CA (PEM) published in every namespace as `kube-root-ca.crt`.
    pub root_ca_pem: Option<String>,
    /// The cluster's address ranges.
    pub network: ClusterNetwork,
}

impl ManagerConfig {
    /// Every default controller, leader-elected on upstream's Lease as `identity`.
    pub fn new(identity: String) -> ManagerConfig {
        ManagerConfig {
            controllers: vec!["*".into()],
            leader_election: Some(LeaderElectionConfig::new(LEASE_NAME, identity.clone())),
            identity,
            root_ca_pem: None,
            network: ClusterNetwork::default(),
        }
    }
}

/// A controller manager ready to run.
pub struct Manager {
    ctx: Context,
    controllers: Vec<ControllerDescriptor>,
    leader: Option<LeaderElectionConfig>,
}

impl Manager {
    /// A manager on `client` running what `config` selects from [`crate::all`]. Call inside a
    /// tokio runtime (the event writers start).
    pub fn new(client: Client, config: ManagerConfig) -> Result<Manager, SelectionError> {
        let controllers = select(crate::all(), &config.controllers)?;
        let mut ctx = Context::new(client, config.identity);
        ctx.root_ca_pem = config.root_ca_pem.map(Into::into);
        ctx.network = config.network;
        Ok(Manager {
            ctx,
            controllers,
            leader: config.leader_election,
        })
    }

    /// The context every controller gets (for its metrics and client).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The names of the controllers this manager runs.
    pub fn controller_names(&self) -> Vec<&'static str> {
        self.controllers.iter().map(|c| c.name).collect()
    }

    /// Runs the controllers until the future is dropped — first winning the election when
    /// leader election is on. Losing the lease stops the controllers and returns the error (as
    /// upstream, whose process exits then).
    pub async fn run(&self) -> Result<(), LeaderError> {
        match &self.leader {
            None => {
                self.run_controllers().await;
                Ok(())
            }
            Some(config) => {
                let labels = QueueLabels {
                    name: config.name.clone(),
                };
                self.ctx.metrics.leader.get_or_create(&labels).set(0);
                let result =
                    leader::run_while_leading(self.ctx.client.clone(), config.clone(), async {
                        self.ctx.metrics.leader.get_or_create(&labels).set(1);
                        self.run_controllers().await;
                    })
                    .await;
                self.ctx.metrics.leader.get_or_create(&labels).set(0);
                result
            }
        }
    }

    /// Runs every selected controller until all end (they normally do not); dropping the
    /// future stops them all.
    async fn run_controllers(&self) {
        let mut set = tokio::task::JoinSet::new();
        for c in &self.controllers {
            tracing::info!(controller = c.name, "starting controller");
            set.spawn((c.run)(self.ctx.clone()));
        }
        while let Some(r) = set.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a controller stopped");
            }
        }
    }
}

/// Serves `/metrics` (the manager's metrics) and `/healthz` on `listener` until dropped.
pub async fn serve(listener: tokio::net::TcpListener, ctx: Context) -> std::io::Result<()> {
    let metrics = ctx.metrics.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = metrics.encode();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app).await
}

/// Binds `addr` (port 0 picks one); the listener and the address it got.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: Context) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn registry() -> Vec<ControllerDescriptor> {
        let d = |name, aliases, on| ControllerDescriptor {
            name,
            aliases,
            enabled_by_default: on,
            run: noop,
        };
        vec![
            d("replicaset-controller", &["replicaset"], true),
            d("namespace-controller", &["namespace"], true),
            d("bootstrap-signer-controller", &["bootstrapsigner"], false),
        ]
    }

    fn names(flags: &[&str]) -> Result<Vec<&'static str>, SelectionError> {
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        select(registry(), &flags).map(|v| v.into_iter().map(|d| d.name).collect())
    }

    #[test]
    fn star_enables_the_default_controllers() {
        assert_eq!(
            names(&["*"]).unwrap(),
            ["replicaset-controller", "namespace-controller"]
        );
    }

    #[test]
    fn a_name_enables_even_an_off_by_default_controller() {
        assert_eq!(
            names(&["*", "bootstrap-signer-controller"]).unwrap(),
            [
                "replicaset-controller",
                "namespace-controller",
                "bootstrap-signer-controller"
            ]
        );
    }

    #[test]
    fn minus_disables_and_aliases_count() {
        assert_eq!(
            names(&["*", "-replicaset"]).unwrap(),
            ["namespace-controller"]
        );
        assert_eq!(
            names(&["-namespace-controller", "*"]).unwrap(),
            ["replicaset-controller"]
        );
    }

    #[test]
    fn without_star_only_named_controllers_run() {
        assert_eq!(names(&["namespace"]).unwrap(), ["namespace-controller"]);
        assert!(names(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_first_entry_naming_a_controller_wins() {
        assert_eq!(
            names(&["replicaset", "-replicaset"]).unwrap(),
            ["replicaset-controller"]
        );
    }

    #[test]
    fn unknown_names_are_rejected() {
        assert_eq!(
            names(&["*", "-frobnicator"]),
            Err(SelectionError::Unknown("frobnicator".into()))
        );
    }
}
