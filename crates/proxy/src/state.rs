//! The per-service part of the nftables table as data: chains with their rules, affinity sets,
//! and the elements of the shared dispatch sets and maps. Both what the proxier wants and what
//! it last applied are values of [`DesiredState`]; the script is rendered from their
//! difference (see [`crate::script`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::chains::ServiceOut;
use crate::model::ServicePortName;

/// The value and comment of one set or map element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementValue {
    /// The map value (a verdict such as `goto service-…`); `None` in a set.
    pub value: Option<String>,
    /// A comment (upstream labels no-endpoint elements with the service port name).
    pub comment: Option<String>,
}

/// Per-service chains, sets and elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Chain name → its rules, in order.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Affinity set name → its declaration body (`type …; flags …; timeout …;`).
    pub sets: BTreeMap<String, String>,
    /// (set or map name, key) → value.
    pub elements: ElementMap,
}

/// Elements of the shared sets and maps: (set or map name, key) → value.
pub type ElementMap = BTreeMap<(String, String), ElementValue>;

/// Adds an element to `map` unless the key is taken by a different value; whether the map
/// now holds this value for the key.
pub fn add_element(
    map: &mut ElementMap,
    container: &str,
    key: String,
    value: Option<String>,
    comment: Option<String>,
) -> bool {
    let v = ElementValue { value, comment };
    match map.get(&(container.to_string(), key.clone())) {
        Some(existing) => existing.value == v.value,
        None => {
            map.insert((container.to_string(), key), v);
            true
        }
    }
}

/// The whole per-service part of the table: each service port's objects (shared with the
/// generator's memo, so unchanged services compare by pointer) and the merged elements.
#[derive(Clone, Debug, Default)]
pub struct TableState {
    /// Per service port: its chains and sets (`objects.elements` are the requests; the
    /// merged, conflict-free result is `elements`).
    pub services: BTreeMap<ServicePortName, Arc<ServiceOut>>,
    /// The dispatch elements.
    pub elements: ElementMap,
}

impl TableState {
    /// All chains, sets and elements in one [`DesiredState`] (for inspection and tests).
    pub fn merged(&self) -> DesiredState {
        let mut d = DesiredState::default();
        for svc in self.services.values() {
            d.chains.extend(
                svc.objects
                    .chains
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            d.sets
                .extend(svc.objects.sets.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        d.elements = self.elements.clone();
        d
    }

    /// Whether `chain` is one of the per-service chains.
    pub fn has_chain(&self, chain: &str) -> bool {
        self.services
            .values()
            .any(|s| s.objects.chains.contains_key(chain))
    }

    /// Every per-service chain name.
    pub fn chain_names(&self) -> impl Iterator<Item = &String> {
        self.services.values().flat_map(|s| s.objects.chains.keys())
    }
}

impl DesiredState {
    /// Adds an element unless the key is already taken by a different value; returns whether
    /// it was added or already present with the same value (a conflict returns false).
    pub fn add_element(
        &mut self,
        container: &str,
        key: String,
        value: Option<String>,
        comment: Option<String>,
    ) -> bool {
        add_element(&mut self.elements, container, key, value, comment)
    }

    /// Appends a rule to `chain`, creating the chain.
    pub fn rule(&mut self, chain: &str, rule: String) {
        self.chains.entry(chain.to_string()).or_default().push(rule);
    }

    /// Declares `chain` (empty if new).
    pub fn ensure_chain(&mut self, chain: &str) {
        self.chains.entry(chain.to_string()).or_default();
    }

    /// Total rules across chains (for logs and benchmarks).
    pub fn rule_count(&self) -> usize {
        self.chains.values().map(Vec::len).sum()
    }
}
