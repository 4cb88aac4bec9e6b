//! Matching pods' node selectors and node affinity against nodes (upstream's
//! `component-helpers/scheduling/corev1/nodeaffinity`), shared by NodeAffinity,
//! PodTopologySpread (which only counts nodes the pod could land on) and anything else that
//! asks "could this pod run on that node, label-wise?".
//!
//! Semantics, as upstream:
//! - `spec.nodeSelector` and the required node affinity must both hold;
//! - required terms are ORed, the requirements within a term ANDed;
//! - a required affinity with zero terms matches no node, and so does a term with neither
//!   `matchExpressions` nor `matchFields`;
//! - `matchExpressions` test node labels (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`),
//!   `matchFields` test `metadata.name` (`In`/`NotIn` with exactly one value);
//! - a malformed term is kept but never matches (upstream ignores parse errors here for
//!   backwards compatibility; the apiserver rejects such pods anyway). The messages are kept in
//!   [`RequiredNodeAffinity::parse_errors`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm,
};
use rkube_api::selector::{Operator, Requirement};

use super::node_info::NodeInfo;
use super::pod_info::PodInfo;

/// The only field `matchFields` may name.
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

/// One `matchFields` requirement: `field == value` (`In`) or `field != value` (`NotIn`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldRequirement {
    key: String,
    equal: bool,
    value: String,
}

/// A [`NodeSelectorTerm`] parsed once, to be matched against many nodes.
#[derive(Clone, Debug, Default)]
pub struct ParsedNodeSelectorTerm {
    /// `matchExpressions` (`None` when the term has none).
    labels: Option<Vec<Requirement>>,
    /// `matchFields` (`None` when the term has none).
    fields: Option<Vec<FieldRequirement>>,
    /// Why parts of the term could not be parsed (the term then matches nothing).
    errors: Vec<String>,
}

impl ParsedNodeSelectorTerm {
    /// Parses `term`; `path` prefixes error messages (e.g. `nodeSelectorTerms[0]`). Never
    /// fails: errors are kept in the term, which then matches nothing.
    pub fn parse(term: &NodeSelectorTerm, path: &str) -> ParsedNodeSelectorTerm {
        let mut parsed = ParsedNodeSelectorTerm::default();
        let expressions = term.match_expressions.as_deref().unwrap_or_default();
        if !expressions.is_empty() {
            let mut reqs = Vec::with_capacity(expressions.len());
            for (i, expr) in expressions.iter().enumerate() {
                match label_requirement(expr) {
                    Ok(r) => reqs.push(r),
                    Err(e) => parsed
                        .errors
                        .push(format!("{path}.matchExpressions[{i}]{e}")),
                }
            }
            parsed.labels = Some(reqs);
        }
        let fields = term.match_fields.as_deref().unwrap_or_default();
        if !fields.is_empty() {
            let mut reqs = Vec::with_capacity(fields.len());
            for (i, expr) in fields.iter().enumerate() {
                match field_requirement(expr) {
                    Ok(r) => reqs.push(r),
                    Err(e) => parsed.errors.push(format!("{path}.matchFields[{i}]{e}")),
                }
            }
            parsed.fields = Some(reqs);
        }
        parsed
    }

    /// Whether the term has neither `matchExpressions` nor `matchFields` (it matches nothing).
    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// Why the term could not be parsed (empty when it could).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Whether `node` satisfies every requirement of the term. Empty or malformed terms match
    /// nothing.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        if self.is_empty() || !self.errors.is_empty() {
            return false;
        }
        if let Some(reqs) = &self.labels {
            let labels = &node.label_index;
            if !reqs.iter().all(|r| r.matches(labels)) {
                return false;
            }
        }
        // Upstream skips the fields when the node has none (an unnamed node).
        if let Some(reqs) = &self.fields
            && !node.name.is_empty()
        {
            let fields_match = reqs.iter().all(|r| {
                let actual = if r.key == OBJECT_NAME_FIELD {
                    node.name.as_str()
                } else {
                    ""
                };
                (actual == r.value) == r.equal
            });
            if !fields_match {
                return false;
            }
        }
        true
    }
}

/// One `matchExpressions` entry as a label requirement; errors start with the path suffix.
fn label_requirement(expr: &NodeSelectorRequirement) -> Result<Requirement, String> {
    let op = match expr.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        other => {
            return Err(format!(
                ".operator: Unsupported value: {other:?}: supported values: \"DoesNotExist\", \"Exists\", \"Gt\", \"In\", \"Lt\", \"NotIn\""
            ));
        }
    };
    Requirement::new(
        expr.key.clone(),
        op,
        expr.values.clone().unwrap_or_default(),
    )
    .map_err(|e| format!(": {e}"))
}

/// One `matchFields` entry; errors start with the field path suffix (`.values: …`).
fn field_requirement(expr: &NodeSelectorRequirement) -> Result<FieldRequirement, String> {
    let equal = match expr.operator.as_str() {
        "In" => true,
        "NotIn" => false,
        other => {
            return Err(format!(
                ".operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\""
            ));
        }
    };
    match expr.values.as_deref().unwrap_or_default() {
        [value] => Ok(FieldRequirement {
            key: expr.key.clone(),
            equal,
            value: value.clone(),
        }),
        values => Err(format!(
            ".values: Invalid value: {values:?}: must have one element"
        )),
    }
}

/// Whether `node` matches `term` (parsed on the fly; for one-off checks such as a preferred
/// term). Empty or malformed terms match nothing.
pub fn node_selector_term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    ParsedNodeSelectorTerm::parse(term, "term").matches(node)
}

/// A parsed `NodeSelector` (`requiredDuringScheduling…`): its terms are ORed.
#[derive(Clone, Debug, Default)]
pub struct ParsedNodeSelector {
    terms: Vec<ParsedNodeSelectorTerm>,
}

impl ParsedNodeSelector {
    /// Parses every term of `selector`; `path` prefixes error messages.
    pub fn parse(selector: &NodeSelector, path: &str) -> ParsedNodeSelector {
        ParsedNodeSelector {
            terms: selector
                .node_selector_terms
                .iter()
                .enumerate()
                .map(|(i, t)| ParsedNodeSelectorTerm::parse(t, &format!("{path}[{i}]")))
                .collect(),
        }
    }

    /// Whether any term matches `node` (none do when there are no terms).
    pub fn matches(&self, node: &NodeInfo) -> bool {
        self.terms.iter().any(|t| t.matches(node))
    }

    /// Every term's parse errors.
    pub fn errors(&self) -> impl Iterator<Item = &String> {
        self.terms.iter().flat_map(|t| t.errors.iter())
    }
}

/// What a pod requires of a node's labels and name: `spec.nodeSelector` AND
/// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` (upstream's
/// `RequiredNodeAffinity`).
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    /// `spec.nodeSelector` (`None` when empty): every label must be present with that value.
    node_selector: Option<BTreeMap<String, String>>,
    /// The required node affinity (`None` when the pod has none).
    affinity: Option<ParsedNodeSelector>,
}

impl RequiredNodeAffinity {
    /// Parses the pod's node selector and required node affinity. Malformed terms do not fail
    /// the parse (they match no node, as upstream, and are listed in
    /// [`RequiredNodeAffinity::parse_errors`]); the `Err` case is reserved for input that
    /// cannot be interpreted at all.
    pub fn from_pod(pod: &PodInfo) -> Result<RequiredNodeAffinity, String> {
        let spec = pod.spec();
        let node_selector = spec.node_selector.clone().filter(|s| !s.is_empty());
        let affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref())
            .map(|sel| {
                ParsedNodeSelector::parse(
                    sel,
                    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
                )
            });
        Ok(RequiredNodeAffinity {
            node_selector,
            affinity,
        })
    }

    /// Whether the pod may run on `node` as far as labels and name go.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        if let Some(selector) = &self.node_selector {
            let labels = &node.label_index;
            if !selector
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
            {
                return false;
            }
        }
        self.affinity.as_ref().is_none_or(|a| a.matches(node))
    }

    /// Whether the pod constrains nodes at all (a node selector or required affinity).
    pub fn is_constrained(&self) -> bool {
        self.node_selector.is_some() || self.affinity.is_some()
    }

    /// Why some required terms could not be parsed (those terms match no node).
    pub fn parse_errors(&self) -> Vec<String> {
        self.affinity
            .iter()
            .flat_map(|a| a.errors())
            .cloned()
            .collect()
    }
}

/// Parsed preferred terms with their weights (upstream's `PreferredSchedulingTerms`).
#[derive(Clone, Debug, Default)]
pub struct PreferredSchedulingTerms {
    terms: Vec<(ParsedNodeSelectorTerm, i64)>,
}

impl PreferredSchedulingTerms {
    /// Parses `terms`, dropping those with weight 0 or no requirements. Any malformed term
    /// fails the whole set, with every message (scoring cannot ignore a preference silently).
    pub fn parse(terms: &[PreferredSchedulingTerm], path: &str) -> Result<Self, String> {
        let mut parsed = Vec::with_capacity(terms.len());
        let mut errors = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let empty = t
                .preference
                .match_expressions
                .as_deref()
                .unwrap_or_default()
                .is_empty()
                && t.preference
                    .match_fields
                    .as_deref()
                    .unwrap_or_default()
                    .is_empty();
            if t.weight == 0 || empty {
                continue;
            }
            let term =
                ParsedNodeSelectorTerm::parse(&t.preference, &format!("{path}[{i}].preference"));
            if term.errors.is_empty() {
                parsed.push((term, i64::from(t.weight)));
            } else {
                errors.extend(term.errors);
            }
        }
        if errors.is_empty() {
            Ok(PreferredSchedulingTerms { terms: parsed })
        } else {
            Err(errors.join(", "))
        }
    }

    /// The sum of the weights of the terms `node` matches.
    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.terms
            .iter()
            .filter(|(t, _)| t.matches(node))
            .map(|(_, w)| *w)
            .sum()
    }

    /// Whether there are no (non-trivial) terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::{Value, json};

    fn test_node() -> NodeInfo {
        node(json!({"metadata": {"name": "n1", "labels": {
            "zone": "a", "disk": "ssd", "cpus": "8"
        }}}))
    }

    fn pod_with(node_selector: Value, required: Value) -> PodInfo {
        let mut spec = json!({"containers": []});
        if !node_selector.is_null() {
            spec["nodeSelector"] = node_selector;
        }
        if !required.is_null() {
            spec["affinity"] = json!({"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": required}
            }});
        }
        pod(json!({"metadata": {"name": "p"}, "spec": spec}))
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": op, "values": values})
    }

    #[test]
    fn required_affinity_matches_as_upstream() {
        let n = test_node();
        let cases: Vec<(&str, Value, Value, bool)> = vec![
            ("nothing required", Value::Null, Value::Null, true),
            ("selector matches", json!({"zone": "a"}), Value::Null, true),
            (
                "selector value differs",
                json!({"zone": "b"}),
                Value::Null,
                false,
            ),
            (
                "selector label missing",
                json!({"rack": "1"}),
                Value::Null,
                false,
            ),
            ("empty selector", json!({}), Value::Null, true),
            ("zero terms match nothing", Value::Null, json!([]), false),
            (
                "empty term matches nothing",
                Value::Null,
                json!([{}]),
                false,
            ),
            (
                "empty lists match nothing",
                Value::Null,
                json!([{"matchExpressions": [], "matchFields": []}]),
                false,
            ),
            (
                "In",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "In", &["a", "b"])]}]),
                true,
            ),
            (
                "In misses",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "In", &["b"])]}]),
                false,
            ),
            (
                "NotIn",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "NotIn", &["b"])]}]),
                true,
            ),
            (
                "NotIn absent",
                Value::Null,
                json!([{"matchExpressions": [expr("rack", "NotIn", &["1"])]}]),
                true,
            ),
            (
                "NotIn hit",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "NotIn", &["a"])]}]),
                false,
            ),
            (
                "Exists",
                Value::Null,
                json!([{"matchExpressions": [expr("disk", "Exists", &[])]}]),
                true,
            ),
            (
                "Exists absent",
                Value::Null,
                json!([{"matchExpressions": [expr("gpu", "Exists", &[])]}]),
                false,
            ),
            (
                "DoesNotExist",
                Value::Null,
                json!([{"matchExpressions": [expr("gpu", "DoesNotExist", &[])]}]),
                true,
            ),
            (
                "Gt",
                Value::Null,
                json!([{"matchExpressions": [expr("cpus", "Gt", &["4"])]}]),
                true,
            ),
            (
                "Gt equal",
                Value::Null,
                json!([{"matchExpressions": [expr("cpus", "Gt", &["8"])]}]),
                false,
            ),
            (
                "Lt",
                Value::Null,
                json!([{"matchExpressions": [expr("cpus", "Lt", &["16"])]}]),
                true,
            ),
            (
                "Lt non-integer label",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "Lt", &["16"])]}]),
                false,
            ),
            (
                "requirements ANDed",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "In", &["a"]), expr("disk", "In", &["hdd"])]}]),
                false,
            ),
            (
                "terms ORed",
                Value::Null,
                json!([
                    {"matchExpressions": [expr("zone", "In", &["b"])]},
                    {"matchExpressions": [expr("disk", "In", &["ssd"])]}
                ]),
                true,
            ),
            (
                "matchFields name In",
                Value::Null,
                json!([{"matchFields": [expr("metadata.name", "In", &["n1"])]}]),
                true,
            ),
            (
                "matchFields name In other",
                Value::Null,
                json!([{"matchFields": [expr("metadata.name", "In", &["n2"])]}]),
                false,
            ),
            (
                "matchFields name NotIn",
                Value::Null,
                json!([{"matchFields": [expr("metadata.name", "NotIn", &["n2"])]}]),
                true,
            ),
            (
                "fields and labels ANDed",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "In", &["b"])],
                        "matchFields": [expr("metadata.name", "In", &["n1"])]}]),
                false,
            ),
            (
                "selector AND affinity",
                json!({"zone": "b"}),
                json!([{"matchExpressions": [expr("zone", "Exists", &[])]}]),
                false,
            ),
            (
                "bad operator never matches",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "Foo", &["a"])]}]),
                false,
            ),
            (
                "Gt needs an integer",
                Value::Null,
                json!([{"matchExpressions": [expr("cpus", "Gt", &["x"])]}]),
                false,
            ),
            (
                "In needs values",
                Value::Null,
                json!([{"matchExpressions": [expr("zone", "In", &[])]}]),
                false,
            ),
            (
                "matchFields needs one value",
                Value::Null,
                json!([{"matchFields": [expr("metadata.name", "In", &["n1", "n2"])]}]),
                false,
            ),
            (
                "a malformed term does not spoil a good one",
                Value::Null,
                json!([
                    {"matchExpressions": [expr("zone", "Foo", &["a"])]},
                    {"matchExpressions": [expr("zone", "In", &["a"])]}
                ]),
                true,
            ),
        ];
        for (name, selector, required, want) in cases {
            let p = pod_with(selector, required);
            let affinity = RequiredNodeAffinity::from_pod(&p).expect("parses");
            assert_eq!(affinity.matches(&n), want, "{name}");
        }
    }

    #[test]
    fn parse_errors_are_reported() {
        let p = pod_with(
            Value::Null,
            json!([
                {"matchExpressions": [expr("zone", "Foo", &["a"])]},
                {"matchFields": [expr("metadata.name", "Exists", &[])]}
            ]),
        );
        let affinity = RequiredNodeAffinity::from_pod(&p).expect("parses");
        let errors = affinity.parse_errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("nodeSelectorTerms[0].matchExpressions[0]"),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("Unsupported value: \"Foo\""),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("nodeSelectorTerms[1].matchFields[0].operator"),
            "{errors:?}"
        );
        assert!(affinity.is_constrained());
        assert!(
            !RequiredNodeAffinity::from_pod(&pod_with(Value::Null, Value::Null))
                .expect("parses")
                .is_constrained()
        );
    }

    #[test]
    fn preferred_terms_sum_matching_weights() {
        let n = test_node();
        let terms: Vec<PreferredSchedulingTerm> = serde_json::from_value(json!([
            {"weight": 5, "preference": {"matchExpressions": [expr("zone", "In", &["a"])]}},
            {"weight": 3, "preference": {"matchExpressions": [expr("disk", "In", &["ssd"])]}},
            {"weight": 7, "preference": {"matchExpressions": [expr("zone", "In", &["b"])]}},
            {"weight": 0, "preference": {"matchExpressions": [expr("zone", "In", &["a"])]}},
            {"weight": 9, "preference": {}}
        ]))
        .expect("terms");
        let parsed = PreferredSchedulingTerms::parse(&terms, "preferred").expect("parses");
        assert_eq!(parsed.score(&n), 8);
        assert!(node_selector_term_matches(&terms[0].preference, &n));
        assert!(!node_selector_term_matches(&terms[2].preference, &n));
        assert!(!node_selector_term_matches(&terms[4].preference, &n));

        let bad: Vec<PreferredSchedulingTerm> = serde_json::from_value(json!([
            {"weight": 5, "preference": {"matchExpressions": [expr("zone", "Gt", &["a"])]}}
        ]))
        .expect("terms");
        assert!(PreferredSchedulingTerms::parse(&bad, "preferred").is_err());
    }
}
