//! `PodTopologySpreadArgs`: cluster-level default constraints for pods that define none.

use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use serde::Deserialize;

use super::{LABEL_HOSTNAME, LABEL_TOPOLOGY_ZONE};

/// Where default constraints come from (upstream's `PodTopologySpreadConstraintsDefaulting`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefaultingType {
    /// Kubernetes' built-in defaults: spread over hosts (maxSkew 3) and zones (maxSkew 5),
    /// `ScheduleAnyway` (the default).
    #[default]
    System,
    /// The constraints listed in `defaultConstraints`.
    List,
}

/// The plugin's args (upstream's `PodTopologySpreadArgs`, v1 defaults).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods without `topologySpreadConstraints` (only with
    /// [`DefaultingType::List`]); they carry no selector: it is derived per pod.
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// Where default constraints come from.
    pub defaulting_type: DefaultingType,
}

/// Upstream's `systemDefaultConstraints`.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    vec![
        TopologySpreadConstraint {
            topology_key: LABEL_HOSTNAME.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 3,
            ..Default::default()
        },
        TopologySpreadConstraint {
            topology_key: LABEL_TOPOLOGY_ZONE.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 5,
            ..Default::default()
        },
    ]
}

/// The args as written in `pluginConfig` (absent fields take the defaults).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawArgs {
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
    #[serde(default)]
    default_constraints: Option<Vec<RawConstraint>>,
    #[serde(default)]
    defaulting_type: Option<String>,
}

/// One default constraint as written (fields optional so missing ones get upstream's errors).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConstraint {
    #[serde(default)]
    max_skew: Option<i64>,
    #[serde(default)]
    topology_key: Option<String>,
    #[serde(default)]
    when_unsatisfiable: Option<String>,
    #[serde(default)]
    label_selector: Option<serde_json::Value>,
    #[serde(default)]
    min_domains: Option<i32>,
    #[serde(default)]
    node_affinity_policy: Option<String>,
    #[serde(default)]
    node_taints_policy: Option<String>,
    #[serde(default)]
    match_label_keys: Option<Vec<String>>,
}

const DEFAULTING_TYPE: &str = "defaultingType";
const DEFAULT_CONSTRAINTS: &str = "defaultConstraints";

impl PodTopologySpreadArgs {
    /// Decodes and validates `pluginConfig` args (`None`: defaults), as upstream's
    /// `ValidatePodTopologySpreadArgs`, e.g.
    /// `defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)` or
    /// `defaultingType: Invalid value: "System": when .defaultConstraints are not empty`.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<PodTopologySpreadArgs, String> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(PodTopologySpreadArgs::default());
        };
        let raw = RawArgs::deserialize(value)
            .map_err(|e| format!("decoding PodTopologySpreadArgs: {e}"))?;
        let raw_constraints = raw.default_constraints.unwrap_or_default();
        let mut errors = Vec::new();
        let defaulting_type = match raw.defaulting_type.as_deref().unwrap_or("System") {
            "System" => DefaultingType::System,
            "List" => DefaultingType::List,
            other => {
                errors.push(format!(
                    "{DEFAULTING_TYPE}: Unsupported value: {other:?}: supported values: \"System\", \"List\""
                ));
                DefaultingType::List
            }
        };
        if defaulting_type == DefaultingType::System && !raw_constraints.is_empty() {
            errors.push(format!(
                "{DEFAULTING_TYPE}: Invalid value: \"System\": when .defaultConstraints are not empty"
            ));
        }
        let mut constraints: Vec<TopologySpreadConstraint> = Vec::new();
        for (i, c) in raw_constraints.iter().enumerate() {
            let path = format!("{DEFAULT_CONSTRAINTS}[{i}]");
            let max_skew = c.max_skew.unwrap_or(0);
            if max_skew <= 0 || max_skew > i64::from(i32::MAX) {
                errors.push(format!(
                    "{path}.maxSkew: Invalid value: {max_skew}: not in valid range (0, inf)"
                ));
            }
            let key = c.topology_key.clone().unwrap_or_default();
            if key.is_empty() {
                errors.push(format!(
                    "{path}.topologyKey: Required value: can not be empty"
                ));
            } else {
                for e in rkube_api::selector::label_key_errors(&key) {
                    errors.push(format!("{path}.topologyKey: Invalid value: {key:?}: {e}"));
                }
            }
            let action = c.when_unsatisfiable.clone().unwrap_or_default();
            match action.as_str() {
                "" => errors.push(format!(
                    "{path}.whenUnsatisfiable: Required value: can not be empty"
                )),
                "DoNotSchedule" | "ScheduleAnyway" => {}
                other => errors.push(format!(
                    "{path}.whenUnsatisfiable: Unsupported value: {other:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\""
                )),
            }
            if c.label_selector.as_ref().is_some_and(|s| !s.is_null()) {
                errors.push(format!(
                    "{path}.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
                ));
            }
            if constraints
                .iter()
                .any(|o| o.topology_key == key && o.when_unsatisfiable == action)
            {
                errors.push(format!(
                    "{DEFAULT_CONSTRAINTS}[{i}]: Duplicate value: \"{{{key}, {action}}}\""
                ));
            }
            constraints.push(TopologySpreadConstraint {
                max_skew: i32::try_from(max_skew).unwrap_or(0),
                topology_key: key,
                when_unsatisfiable: action,
                label_selector: None,
                min_domains: c.min_domains,
                node_affinity_policy: c.node_affinity_policy.clone(),
                node_taints_policy: c.node_taints_policy.clone(),
                match_label_keys: c.match_label_keys.clone(),
            });
        }
        if !errors.is_empty() {
            return Err(aggregate(&errors));
        }
        Ok(PodTopologySpreadArgs {
            default_constraints: constraints,
            defaulting_type,
        })
    }
}

/// Joins error messages as upstream's `utilerrors.Aggregate`: one as is, several deduplicated
/// in brackets.
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_lists() {
        assert_eq!(
            PodTopologySpreadArgs::from_json(None),
            Ok(PodTopologySpreadArgs::default())
        );
        let args = PodTopologySpreadArgs::from_json(Some(&json!({
            "defaultingType": "List",
            "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
            ]
        })))
        .expect("valid");
        assert_eq!(args.defaulting_type, DefaultingType::List);
        assert_eq!(args.default_constraints.len(), 2);
        assert_eq!(args.default_constraints[1].max_skew, 2);
        let empty_list =
            PodTopologySpreadArgs::from_json(Some(&json!({"defaultingType": "List"}))).expect("ok");
        assert!(empty_list.default_constraints.is_empty());
    }

    #[test]
    fn validation_errors() {
        let zone = "topology.kubernetes.io/zone";
        let cases = [
            (
                json!({"defaultingType": "Foo"}),
                r#"defaultingType: Unsupported value: "Foo": supported values: "System", "List""#.to_string(),
            ),
            (
                json!({"defaultConstraints": [{"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "DoNotSchedule"}]}),
                r#"defaultingType: Invalid value: "System": when .defaultConstraints are not empty"#.to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 0, "topologyKey": zone, "whenUnsatisfiable": "DoNotSchedule"}]}),
                "defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)".to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}]}),
                "defaultConstraints[0].topologyKey: Required value: can not be empty".to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1, "topologyKey": zone}]}),
                "defaultConstraints[0].whenUnsatisfiable: Required value: can not be empty".to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "Maybe"}]}),
                r#"defaultConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe": supported values: "DoNotSchedule", "ScheduleAnyway""#.to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {}}]}),
                "defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod".to_string(),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "DoNotSchedule"},
                    {"maxSkew": 2, "topologyKey": zone, "whenUnsatisfiable": "DoNotSchedule"}
                ]}),
                format!(r#"defaultConstraints[1]: Duplicate value: "{{{zone}, DoNotSchedule}}""#),
            ),
            (
                json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": -1, "topologyKey": zone}]}),
                "[defaultConstraints[0].maxSkew: Invalid value: -1: not in valid range (0, inf), defaultConstraints[0].whenUnsatisfiable: Required value: can not be empty]".to_string(),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(
                PodTopologySpreadArgs::from_json(Some(&value)),
                Err(want),
                "{value}"
            );
        }
        let err = PodTopologySpreadArgs::from_json(Some(&json!({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1, "topologyKey": "a b", "whenUnsatisfiable": "DoNotSchedule"}]}))).unwrap_err();
        assert!(
            err.starts_with(r#"defaultConstraints[0].topologyKey: Invalid value: "a b": "#),
            "{err}"
        );
        let err = PodTopologySpreadArgs::from_json(Some(&json!({"bogus": true}))).unwrap_err();
        assert!(
            err.starts_with("decoding PodTopologySpreadArgs: unknown field"),
            "{err}"
        );
    }
}
