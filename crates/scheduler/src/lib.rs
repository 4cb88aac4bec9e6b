//! The scheduler: watches pods without a node, picks a node for each through a plugin
//! framework (PreFilter → Filter → PostFilter/preemption → PreScore → Score → Reserve) and binds
//! them with `pods/binding`. A kube-rs client of the apiserver, as upstream's kube-scheduler.

pub mod algorithm;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod queue;
