//! A pod with what the scheduler derives from it computed once: requests, host ports, parsed
//! (anti-)affinity terms. Shared immutably (`Arc`) between the queue, the cache and snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use rkube_api::selector::LabelSelector;

use super::resource::{Resource, pod_requests};

/// One pod (anti-)affinity term, parsed.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces named explicitly, or the pod's own when neither these nor a namespace
    /// selector are given.
    pub namespaces: BTreeSet<String>,
    /// Namespaces selected by label (`nothing` when the term has no namespace selector).
    pub namespace_selector: LabelSelector,
    /// Which pods the term is about.
    pub selector: LabelSelector,
    /// The node label whose value defines a topology domain.
    pub topology_key: String,
}

impl AffinityTerm {
    fn parse(pod_namespace: &str, term: &PodAffinityTerm) -> Result<AffinityTerm, String> {
        let selector = LabelSelector::from_meta_option(term.label_selector.as_ref())
            .map_err(|e| e.to_string())?;
        let namespace_selector = LabelSelector::from_meta_option(term.namespace_selector.as_ref())
            .map_err(|e| e.to_string())?;
        let mut namespaces: BTreeSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(pod_namespace.to_string());
        }
        Ok(AffinityTerm {
            namespaces,
            namespace_selector,
            selector,
            topology_key: term.topology_key.clone(),
        })
    }

    /// Whether the term selects `pod`; `namespace_labels` are the labels of the pod's
    /// namespace, when known.
    pub fn matches(
        &self,
        pod: &PodInfo,
        namespace_labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        let in_namespace = self.namespaces.contains(&pod.namespace)
            || namespace_labels.is_some_and(|l| self.namespace_selector.matches(l));
        in_namespace && self.selector.matches(&pod.labels)
    }
}

/// A preferred term with its weight.
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1–100).
    pub weight: i32,
}

/// A host port a pod's container asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// The host IP (`0.0.0.0` when unset: every address).
    pub ip: String,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

/// A pod and what the scheduler derived from it.
#[derive(Debug)]
pub struct PodInfo {
    /// The pod as last seen.
    pub pod: Arc<Pod>,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// What the pod requests of a node.
    pub requests: Resource,
    /// Requests with CPU/memory defaults for containers that request none (for scoring).
    pub non_zero_requests: Resource,
    /// Host ports its containers bind.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// Why a term could not be parsed (the pod cannot be scheduled until it is fixed).
    pub parse_error: Option<String>,
}

/// The spec of a pod without one.
fn empty_spec() -> &'static k8s_openapi::api::core::v1::PodSpec {
    static EMPTY: std::sync::OnceLock<k8s_openapi::api::core::v1::PodSpec> =
        std::sync::OnceLock::new();
    EMPTY.get_or_init(Default::default)
}

impl PodInfo {
    /// Derives everything from `pod`.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        // Read in place: a copy of the spec was a deep clone per pod event.
        let spec = pod.spec.as_ref().unwrap_or(empty_spec());
        let mut parse_error = None;
        let mut required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    AffinityTerm::parse(&namespace, t)
                        .map_err(|e| parse_error = Some(e))
                        .ok()
                })
                .collect()
        };
        let affinity = spec.affinity.as_ref();
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required_affinity = required(pa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let required_anti_affinity = required(paa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let mut preferred = |terms: Option<&Vec<WeightedPodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    AffinityTerm::parse(&namespace, &t.pod_affinity_term)
                        .map(|term| WeightedAffinityTerm {
                            term,
                            weight: t.weight,
                        })
                        .map_err(|e| parse_error = Some(e))
                        .ok()
                })
                .collect::<Vec<_>>()
        };
        let preferred_affinity = preferred(pa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let preferred_anti_affinity = preferred(paa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        // Only sidecar init containers keep running (and holding their ports).
        let mut host_ports: Vec<HostPort> = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .chain(spec.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .filter(|p| p.host_port.unwrap_or(0) > 0)
            .map(|p| HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: p.host_port.unwrap_or(0),
            })
            .collect();
        host_ports.sort();
        host_ports.dedup();
        let priority = spec.priority.unwrap_or(0);
        let requests = pod_requests(spec, false);
        let non_zero_requests = pod_requests(spec, true);
        PodInfo {
            uid: meta.uid.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            priority,
            requests,
            non_zero_requests,
            host_ports,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            parse_error,
            namespace,
            pod,
        }
    }

    /// The pod's spec (empty if absent).
    pub fn spec(&self) -> &k8s_openapi::api::core::v1::PodSpec {
        self.pod.spec.as_ref().unwrap_or(empty_spec())
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the pod has any pod affinity or anti-affinity term.
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}
