//! The node's share of the pod network, as a host-gw overlay-free network needs it: the CNI
//! configuration written from the podCIDR the node IPAM controller assigned to this Node, and
//! a route to every other node's podCIDR through that node's address. Both follow the Node
//! objects (a watch on all Nodes), and a periodic resync repairs routes removed by hand.

mod routes;
mod watch;

pub use routes::{HostGwRoutes, RouteError, desired_routes};
pub use watch::{PodNetwork, PodNetworkConfig};
