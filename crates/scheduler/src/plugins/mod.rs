//! The in-tree plugins, one file each, and the registry that builds them by name.

use std::sync::Arc;

use crate::framework::Plugin;

// Modules: one line per plugin, kept sorted.
pub mod balanced_allocation;
pub mod default_preemption;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod resource_scoring;
pub mod taint_toleration;
#[cfg(test)]
pub mod testing;

/// Builds a plugin from its `pluginConfig` args (`None`: defaults). Errors name the bad field.
pub type Factory = fn(Option<&serde_json::Value>) -> Result<Arc<dyn Plugin>, String>;

/// Every plugin this scheduler knows, by upstream name.
pub fn registry() -> Vec<(&'static str, Factory)> {
    vec![
        (priority_sort::NAME, |_| {
            Ok(Arc::new(priority_sort::PrioritySort))
        }),
        (node_unschedulable::NAME, |_| {
            Ok(Arc::new(node_unschedulable::NodeUnschedulable))
        }),
        (node_name::NAME, |_| Ok(Arc::new(node_name::NodeName))),
        // Taints, node affinity, ports, images:
        (taint_toleration::NAME, |_| {
            Ok(Arc::new(taint_toleration::TaintToleration))
        }),
        (node_affinity::NAME, |args| {
            Ok(Arc::new(node_affinity::NodeAffinity::new(args)?))
        }),
        (node_ports::NAME, |_| Ok(Arc::new(node_ports::NodePorts))),
        (image_locality::NAME, |_| {
            Ok(Arc::new(image_locality::ImageLocality))
        }),
        // Resources:
        (node_resources_fit::NAME, |args| {
            Ok(Arc::new(node_resources_fit::NodeResourcesFit::new(args)?))
        }),
        (balanced_allocation::NAME, |args| {
            Ok(Arc::new(balanced_allocation::BalancedAllocation::new(
                args,
            )?))
        }),
        // Pod affinity, topology spread:
        (inter_pod_affinity::NAME, |args| {
            Ok(Arc::new(inter_pod_affinity::InterPodAffinity::from_json(
                args,
            )?))
        }),
        (pod_topology_spread::NAME, |args| {
            Ok(Arc::new(pod_topology_spread::PodTopologySpread::from_json(
                args,
            )?))
        }),
        // Preemption:
        (
            default_preemption::NAME,
            default_preemption::DefaultPreemption::factory,
        ),
    ]
}

/// The factory for plugin `name`.
pub fn factory(name: &str) -> Option<Factory> {
    registry()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f)
}

/// Upstream's default profile (every extension point a plugin implements), with the default
/// score weights, in upstream's order.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
];
