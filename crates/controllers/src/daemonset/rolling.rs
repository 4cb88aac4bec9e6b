//! A DaemonSet's rolling update (upstream's `rollingUpdate`): per node at most one old and one
//! new pod. Without surge, old pods are deleted (their replacements come from the manage
//! step) while fewer than maxUnavailable nodes are unavailable — old pods that are unavailable
//! anyway are always replaced. With maxSurge, a new pod is created beside the old one on up
//! to maxSurge nodes at once, and the old pod deleted once the new one is available.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;

use super::eligibility::should_run;
use super::pods::{is_updated, template_generation};
use super::strategy::surge_and_unavailable;
use crate::replicaset::pods::availability;

/// What the rolling update wants done.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Pods to delete (names).
    pub delete: Vec<String>,
    /// Nodes to create a new pod on.
    pub create: Vec<String>,
}

/// The (new, old) pod on a node, or `None` if there are several of either (the manage step
/// cleans those up first).
fn new_and_old<'a>(
    pods: &'a [Arc<Pod>],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if is_updated(p, hash, generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(&**p);
    }
    Some((new, old))
}

/// The plan for `ds` on `nodes`, its pods by node, at revision `hash`.
pub fn plan(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &HashMap<String, Vec<Arc<Pod>>>,
    hash: &str,
    now: Timestamp,
) -> Plan {
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let generation = template_generation(ds);
    let available = |p: &Pod| availability(p, min_ready, now).is_ok();
    // Every node that wants a pod takes part, with or without one.
    let mut by_node: Vec<(String, Vec<Arc<Pod>>)> = by_node
        .iter()
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    let mut desired = 0;
    for node in nodes {
        if should_run(ds, node).0 {
            desired += 1;
            let name = node.name_any();
            if !by_node.iter().any(|(n, _)| *n == name) {
                by_node.push((name, Vec::new()));
            }
        }
    }
    by_node.sort_by(|a, b| a.0.cmp(&b.0));
    let (max_surge, max_unavailable) = surge_and_unavailable(ds, desired);
    let mut plan = Plan::default();
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut candidates = Vec::new();
        for (_, pods) in &by_node {
            match new_and_old(pods, hash, generation) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !available(old) {
                        plan.delete.push(old.name_any());
                    } else if unavailable < max_unavailable {
                        candidates.push(old.name_any());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).max(0) as usize;
        plan.delete.extend(candidates.into_iter().take(room));
        return plan;
    }
    let mut surging = 0;
    let mut candidates = Vec::new();
    for (node_name, pods) in &by_node {
        let Some((new, old)) = new_and_old(pods, hash, generation) else {
            surging += 1;
            continue;
        };
        let eligible = nodes
            .iter()
            .find(|n| n.name_any() == *node_name)
            .is_some_and(|n| should_run(ds, n).0);
        if !eligible {
            if let Some(old) = old {
                plan.delete.push(old.name_any());
            }
            continue;
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    plan.create.push(node_name.clone());
                } else if surging < max_surge {
                    candidates.push(node_name.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    plan.delete.push(old.name_any());
                } else {
                    surging += 1;
                }
            }
        }
    }
    let room = (max_surge - surging).max(0) as usize;
    plan.create.extend(candidates.into_iter().take(room));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(strategy: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}},
            "updateStrategy": strategy}}))
        .unwrap()
    }

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}})).unwrap())
    }

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"controller-revision-hash": hash}},
                "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn without_surge_deletes_up_to_max_unavailable() {
        let nodes = vec![node("a"), node("b"), node("c")];
        let by_node: HashMap<String, Vec<Arc<Pod>>> = [
            ("a".to_string(), vec![pod("pa", "old", true)]),
            ("b".to_string(), vec![pod("pb", "old", true)]),
            ("c".to_string(), vec![pod("pc", "old", false)]),
        ]
        .into();
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let p = plan(&d, &nodes, &by_node, "new", Timestamp::now());
        assert_eq!(
            p.delete,
            ["pc", "pa"],
            "the unavailable old pod, and one more"
        );
        assert!(p.create.is_empty());
        let mut waiting = by_node.clone();
        waiting.insert("c".into(), vec![pod("pc2", "new", false)]);
        let p = plan(&d, &nodes, &waiting, "new", Timestamp::now());
        assert!(p.delete.is_empty(), "one node is already unavailable");
    }

    #[test]
    fn surge_creates_first_and_deletes_once_available() {
        let nodes = vec![node("a"), node("b")];
        let d = ds(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
        );
        let by_node: HashMap<String, Vec<Arc<Pod>>> = [
            ("a".to_string(), vec![pod("pa", "old", true)]),
            ("b".to_string(), vec![pod("pb", "old", true)]),
        ]
        .into();
        let p = plan(&d, &nodes, &by_node, "new", Timestamp::now());
        assert_eq!(
            p,
            Plan {
                delete: vec![],
                create: vec!["a".into()]
            }
        );
        let surged: HashMap<String, Vec<Arc<Pod>>> = [
            (
                "a".to_string(),
                vec![pod("pa", "old", true), pod("pa2", "new", true)],
            ),
            ("b".to_string(), vec![pod("pb", "old", true)]),
        ]
        .into();
        let p = plan(&d, &nodes, &surged, "new", Timestamp::now());
        assert_eq!(
            p,
            Plan {
                delete: vec!["pa".into()],
                create: vec!["b".into()]
            }
        );
    }
}
