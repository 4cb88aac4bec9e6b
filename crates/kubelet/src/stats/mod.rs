//! Resource usage of the node, its pods and their containers, as the kubelet's
//! `/stats/summary` (the Summary API that metrics-server and `kubectl top` read) and
//! `/metrics/resource` report it. Counters come from the cgroup v1 hierarchies the runtime
//! puts pods in and from /proc; rates (usageNanoCores) from two samples.

pub mod cgroup;
pub mod metrics;
pub mod summary;

pub use summary::{Collector, Summary};
