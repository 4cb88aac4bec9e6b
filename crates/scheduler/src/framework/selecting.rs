//! What selects pods at the cluster level: Services, ReplicationControllers, ReplicaSets and
//! StatefulSets. Upstream's default topology-spread constraints take their selector from
//! these (`helper.DefaultSelector`). Only selectors are kept, so status churn of the
//! controllers (every replica count change) leaves the snapshot alone.

use std::collections::{BTreeMap, HashMap};

use rkube_api::selector::LabelSelector;

use super::PodInfo;

/// The kinds of controllers whose selector counts, as in a pod's controller ownerReference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// `v1` ReplicationController (a map selector).
    ReplicationController,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl OwnerKind {
    fn of(api_version: &str, kind: &str) -> Option<OwnerKind> {
        match (api_version, kind) {
            ("v1", "ReplicationController") => Some(OwnerKind::ReplicationController),
            ("apps/v1", "ReplicaSet") => Some(OwnerKind::ReplicaSet),
            ("apps/v1", "StatefulSet") => Some(OwnerKind::StatefulSet),
            _ => None,
        }
    }
}

/// A controller's selector: ReplicationControllers have a plain map, the others a
/// `LabelSelector` (unparsable ones are not kept: they select nothing).
#[derive(Clone, Debug, PartialEq)]
pub enum OwnerSelector {
    /// A ReplicationController's `spec.selector`.
    Map(BTreeMap<String, String>),
    /// A ReplicaSet's or StatefulSet's `spec.selector`.
    Label(LabelSelector),
}

type OwnerKey = (OwnerKind, String, String);

/// Services' and controllers' selectors, by namespace and name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectingObjects {
    /// namespace → service name → selector (services without a selector are not kept: they
    /// select nothing, not everything).
    services: HashMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    owners: HashMap<OwnerKey, OwnerSelector>,
}

impl SelectingObjects {
    /// Sets (`Some`) or removes (`None`) a Service's selector; whether anything changed.
    pub fn set_service(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<BTreeMap<String, String>>,
    ) -> bool {
        match selector.filter(|s| !s.is_empty()) {
            Some(sel) => {
                let in_ns = self.services.entry(namespace.to_string()).or_default();
                in_ns.insert(name.to_string(), sel.clone()) != Some(sel)
            }
            None => {
                let Some(in_ns) = self.services.get_mut(namespace) else {
                    return false;
                };
                let removed = in_ns.remove(name).is_some();
                if in_ns.is_empty() {
                    self.services.remove(namespace);
                }
                removed
            }
        }
    }

    /// Sets (`Some`) or removes (`None`) a controller's selector; whether anything changed.
    pub fn set_owner(
        &mut self,
        kind: OwnerKind,
        namespace: &str,
        name: &str,
        selector: Option<OwnerSelector>,
    ) -> bool {
        let key = (kind, namespace.to_string(), name.to_string());
        match selector {
            Some(sel) => self.owners.insert(key, sel.clone()) != Some(sel),
            None => self.owners.remove(&key).is_some(),
        }
    }

    /// Upstream's `DefaultSelector` for `pod`: the union of the selectors of the Services in
    /// its namespace that select it, plus its controller's selector when that is a
    /// ReplicationController, ReplicaSet or StatefulSet. Empty when nothing selects it.
    pub fn default_selector(&self, pod: &PodInfo) -> LabelSelector {
        let ns = pod.namespace.as_str();
        let mut set: BTreeMap<String, String> = BTreeMap::new();
        for sel in self.services.get(ns).into_iter().flat_map(|m| m.values()) {
            if LabelSelector::from_map(sel).matches(&pod.labels) {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let owner = pod
            .pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .and_then(|o| {
                let kind = OwnerKind::of(&o.api_version, &o.kind)?;
                self.owners.get(&(kind, ns.to_string(), o.name.clone()))
            });
        match owner {
            Some(OwnerSelector::Map(sel)) => {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
                LabelSelector::from_map(&set)
            }
            Some(OwnerSelector::Label(sel)) if !sel.is_nothing() => {
                let mut requirements = LabelSelector::from_map(&set).requirements().to_vec();
                requirements.extend(sel.requirements().iter().cloned());
                LabelSelector::from_requirements(requirements)
            }
            _ => LabelSelector::from_map(&set),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn pod(v: serde_json::Value) -> PodInfo {
        PodInfo::new(Arc::new(serde_json::from_value(v).expect("pod")))
    }

    #[test]
    fn upstream_default_selector() {
        let mut objects = SelectingObjects::default();
        assert!(objects.set_service("default", "s1", Some(map(&[("app", "web")]))));
        assert!(!objects.set_service("default", "s1", Some(map(&[("app", "web")]))));
        objects.set_service("other", "s2", Some(map(&[("app", "web")])));
        objects.set_service("default", "s3", None);
        objects.set_service("default", "s4", Some(map(&[("app", "db")])));
        let rs = LabelSelector::from_map(&map(&[("pod-template-hash", "abc")]));
        objects.set_owner(
            OwnerKind::ReplicaSet,
            "default",
            "rs",
            Some(OwnerSelector::Label(rs)),
        );
        objects.set_owner(
            OwnerKind::ReplicationController,
            "default",
            "rc",
            Some(OwnerSelector::Map(map(&[("rc", "x")]))),
        );
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
        // Removing the service leaves only the controller's part.
        assert!(objects.set_service("default", "s1", None));
        assert_eq!(
            objects
                .default_selector(&owned("ReplicationController", "v1", "rc"))
                .to_string(),
            "rc=x"
        );
    }
}
