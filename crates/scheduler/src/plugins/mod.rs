//! The in-tree plugins, one file each, and the registry that builds them by name.

use std::sync::Arc;

use crate::framework::Plugin;

// Modules: one line per plugin, kept sorted.
pub mod node_name;
pub mod node_unschedulable;
pub mod priority_sort;
#[cfg(test)]
pub mod testing;

/// Builds a plugin from its `pluginConfig` args (`None`: defaults). Errors name the bad field.
pub type Factory = fn(Option<&serde_json::Value>) -> Result<Arc<dyn Plugin>, String>;

/// Every plugin this scheduler knows, by upstream name.
pub fn registry() -> Vec<(&'static str, Factory)> {
    vec![
        (priority_sort::NAME, |_| Ok(Arc::new(priority_sort::PrioritySort))),
        (node_unschedulable::NAME, |_| {
            Ok(Arc::new(node_unschedulable::NodeUnschedulable))
        }),
        (node_name::NAME, |_| Ok(Arc::new(node_name::NodeName))),
        // Taints, node affinity, ports, images:
        // Resources:
        // Pod affinity, topology spread:
        // Preemption:
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
