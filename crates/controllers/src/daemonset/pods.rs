//! A DaemonSet's pods: the template they are created from (upstream's `CreatePodTemplate`:
//! revision hash and template generation labels, daemon tolerations, and — per node — required
//! node affinity `metadata.name In [node]` so the scheduler places it there), the node a pod
//! targets, whether it is up to date, and upstream's oldest-first order.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec,
};
use kube::ResourceExt;

use super::eligibility::add_daemon_tolerations;
use crate::history::REVISION_LABEL;

/// Upstream's `DaemonSetTemplateGenerationKey` pod label.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation the apiserver keeps the template generation in (apps/v1).
pub const GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The set's template generation, if the apiserver recorded one.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.annotations().get(GENERATION_ANNOTATION)?.parse().ok()
}

/// The template pods are created from: labelled with `hash` (and the template generation),
/// with the daemon tolerations.
pub fn create_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut t = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let labels = t
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    if let Some(g) = template_generation(ds) {
        labels.insert(GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(REVISION_LABEL.into(), hash.into());
    }
    add_daemon_tolerations(t.spec.get_or_insert_with(Default::default));
    t
}

/// `template` pinned to `node` through required node affinity (upstream's
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required terms become the one name term; the
/// controller checked the original terms already).
pub fn for_node(template: &PodTemplateSpec, node: &str) -> PodTemplateSpec {
    let mut t = template.clone();
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.into()]),
        }]),
        match_expressions: None,
    };
    let spec = t.spec.get_or_insert_with(Default::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![term],
    });
    t
}

/// The node `pod` runs on or is pinned to (upstream's `GetTargetNodeName`).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.as_ref()?.iter().find_map(|r| {
            let values = r.values.as_deref().unwrap_or_default();
            (r.key == "metadata.name" && r.operator == "In" && values.len() == 1)
                .then(|| values[0].clone())
        })
    })
}

/// Whether `pod` is at the set's current template (hash label or template generation).
pub fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = pod.labels();
    let by_generation =
        generation.is_some_and(|g| labels.get(GENERATION_LABEL) == Some(&g.to_string()));
    let by_hash = !hash.is_empty() && labels.get(REVISION_LABEL).map(String::as_str) == Some(hash);
    by_hash || by_generation
}

/// Scheduled pods first, then oldest first, then by name (upstream's
/// `podByCreationTimestampAndPhase`).
pub fn oldest_first(a: &Pod, b: &Pod) -> Ordering {
    let scheduled = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some_and(|n| !n.is_empty())
    };
    scheduled(b)
        .cmp(&scheduled(a))
        .then_with(|| {
            let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
        })
        .then_with(|| a.name_any().cmp(&b.name_any()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_pinned_to_their_node_by_affinity() {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "d", "annotations": {GENERATION_ANNOTATION: "3"}},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                    "containers": [{"name": "c", "image": "i"}],
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": "x", "operator": "Exists"}]}]}}}}}}
        }))
        .unwrap();
        let t = for_node(&create_template(&ds, "h1"), "node-7");
        let labels = t.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        assert_eq!(labels[REVISION_LABEL], "h1");
        assert_eq!(labels[GENERATION_LABEL], "3");
        let pod = Pod {
            metadata: t.metadata.clone().unwrap(),
            spec: t.spec.clone(),
            status: None,
        };
        assert_eq!(target_node(&pod).as_deref(), Some("node-7"));
        let terms = &pod
            .spec
            .as_ref()
            .unwrap()
            .affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms;
        assert_eq!(terms.len(), 1);
        assert!(terms[0].match_expressions.is_none());
        assert!(
            pod.spec
                .as_ref()
                .unwrap()
                .tolerations
                .as_ref()
                .unwrap()
                .len()
                >= 6
        );
        assert!(is_updated(&pod, "h1", None));
        assert!(is_updated(&pod, "other", Some(3)));
        assert!(!is_updated(&pod, "other", Some(4)));
    }
}
