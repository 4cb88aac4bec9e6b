//! The crate's integration tests, one module per file, linked into one test binary: one
//! link of the dependency graph instead of one per file keeps CI's disk use and link time
//! small.

mod common;
mod cronjob;
mod daemonset;
mod deployment;
mod endpoints;
mod events;
mod garbage_collector;
mod job;
mod leader;
mod namespace;
mod node_ipam;
mod node_lifecycle;
mod podgc;
mod replicaset;
mod resourcequota;
mod service_lb;
mod serviceaccount;
mod statefulset;
mod ttl_after_finished;
