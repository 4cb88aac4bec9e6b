//! The selector of default (cluster-level) constraints: upstream derives it from the Services,
//! ReplicationControllers, ReplicaSets and StatefulSets selecting the pod
//! (`helper.DefaultSelector`). The scheduler supplies those through a [`SelectorSource`]; with
//! none, no selector can be derived and default constraints do not apply.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ReplicationController, Service};
use rkube_api::selector::LabelSelector;

use crate::framework::PodInfo;

/// Derives the selector default constraints use for a pod.
pub trait SelectorSource: Send + Sync {
    /// The selector for `pod`; an empty selector means "none" (no default constraints).
    fn default_selector(&self, pod: &PodInfo) -> LabelSelector;
}

/// The objects whose selectors upstream's default spreading is built from; a
/// [`SelectorSource`] over plain lists (e.g. copies of informer stores).
#[derive(Clone, Debug, Default)]
pub struct SelectingObjects {
    /// Services (those in the pod's namespace whose selector matches it contribute).
    pub services: Vec<Service>,
    /// ReplicationControllers (the pod's controller, if one).
    pub replication_controllers: Vec<ReplicationController>,
    /// ReplicaSets (the pod's controller, if one).
    pub replica_sets: Vec<ReplicaSet>,
    /// StatefulSets (the pod's controller, if one).
    pub stateful_sets: Vec<StatefulSet>,
}

fn in_namespace(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ns: &str,
    name: Option<&str>,
) -> bool {
    meta.namespace.as_deref().unwrap_or("") == ns
        && name.is_none_or(|n| meta.name.as_deref() == Some(n))
}

impl SelectorSource for SelectingObjects {
    /// Upstream's `DefaultSelector`: the union of the matching Services' selectors, plus the
    /// selector of the pod's controller when it is a ReplicationController, ReplicaSet or
    /// StatefulSet.
    fn default_selector(&self, pod: &PodInfo) -> LabelSelector {
        let ns = pod.namespace.as_str();
        let mut set: BTreeMap<String, String> = BTreeMap::new();
        for svc in &self.services {
            if !in_namespace(&svc.metadata, ns, None) {
                continue;
            }
            // A service without a selector selects nothing (not everything).
            let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            if LabelSelector::from_map(sel).matches(&pod.labels) {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut selector = LabelSelector::from_map(&set);
        let Some(owner) = pod
            .pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
        else {
            return selector;
        };
        let name = Some(owner.name.as_str());
        let add = |selector: &LabelSelector,
                   other: Option<
            &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
        >| {
            match LabelSelector::from_meta_option(other) {
                Ok(other) if !other.is_nothing() => {
                    let mut requirements = selector.requirements().to_vec();
                    requirements.extend(other.requirements().iter().cloned());
                    LabelSelector::from_requirements(requirements)
                }
                _ => selector.clone(),
            }
        };
        match (owner.api_version.as_str(), owner.kind.as_str()) {
            ("v1", "ReplicationController") => {
                if let Some(rc) = self
                    .replication_controllers
                    .iter()
                    .find(|rc| in_namespace(&rc.metadata, ns, name))
                {
                    if let Some(sel) = rc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
                        set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    selector = LabelSelector::from_map(&set);
                }
            }
            ("apps/v1", "ReplicaSet") => {
                if let Some(rs) = self
                    .replica_sets
                    .iter()
                    .find(|rs| in_namespace(&rs.metadata, ns, name))
                {
                    selector = add(&selector, rs.spec.as_ref().map(|s| &s.selector));
                }
            }
            ("apps/v1", "StatefulSet") => {
                if let Some(ss) = self
                    .stateful_sets
                    .iter()
                    .find(|ss| in_namespace(&ss.metadata, ns, name))
                {
                    selector = add(&selector, ss.spec.as_ref().map(|s| &s.selector));
                }
            }
            _ => {}
        }
        selector
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::pod;
    use serde_json::json;

    #[test]
    fn upstream_default_selector() {
        let objects = SelectingObjects {
            services: vec![
                serde_json::from_value(json!({"metadata": {"name": "s1", "namespace": "default"}, "spec": {"selector": {"app": "web"}}})).expect("svc"),
                serde_json::from_value(json!({"metadata": {"name": "s2", "namespace": "other"}, "spec": {"selector": {"app": "web"}}})).expect("svc"),
                serde_json::from_value(json!({"metadata": {"name": "s3", "namespace": "default"}, "spec": {}})).expect("svc"),
                serde_json::from_value(json!({"metadata": {"name": "s4", "namespace": "default"}, "spec": {"selector": {"app": "db"}}})).expect("svc"),
            ],
            replica_sets: vec![serde_json::from_value(json!({
                "metadata": {"name": "rs", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"pod-template-hash": "abc"}}, "template": {}}
            })).expect("rs")],
            replication_controllers: vec![serde_json::from_value(json!({
                "metadata": {"name": "rc", "namespace": "default"}, "spec": {"selector": {"rc": "x"}}
            })).expect("rc")],
            ..Default::default()
        };
        let owned = |kind: &str, api: &str, name: &str| {
            pod(json!({
                "metadata": {"name": "p", "namespace": "default",
                             "labels": {"app": "web", "pod-template-hash": "abc", "rc": "x"},
                             "ownerReferences": [{"apiVersion": api, "kind": kind, "name": name, "uid": "u", "controller": true}]},
                "spec": {"containers": []}
            }))
        };
        let cases = [
            (
                owned("ReplicaSet", "apps/v1", "rs"),
                "app=web,pod-template-hash=abc",
            ),
            (owned("ReplicaSet", "apps/v1", "missing"), "app=web"),
            (owned("ReplicationController", "v1", "rc"), "app=web,rc=x"),
            (owned("Job", "batch/v1", "j"), "app=web"),
            (
                pod(
                    json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}}),
                ),
                "",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(
                objects.default_selector(&p).to_string(),
                want,
                "{:?}",
                p.pod.metadata.owner_references
            );
        }
    }
}
