//! `scheduling.k8s.io/v1` PriorityClass, and the facts about priorities other parts share: the
//! highest value a user may give a class and the built-in `system-` classes the apiserver
//! creates at start.

use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::NameRule;
use super::{Errors, Path, decode_pair, jstr};
use crate::status::FieldCause;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::Value;

/// The largest value a class not reserved for the system may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The value of `system-cluster-critical`; `system-node-critical` is 1000 above it.
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;

/// Class names starting with this are reserved for the built-in classes.
pub const SYSTEM_PRIORITY_CLASS_PREFIX: &str = "system-";

/// The priority of a pod when it names no class and no class is the global default.
pub const DEFAULT_PRIORITY: i32 = 0;

/// The preemption policy a class gets when it sets none.
pub const DEFAULT_PREEMPTION_POLICY: &str = "PreemptLowerPriority";

/// The preemption policies a class or pod may have.
pub const PREEMPTION_POLICIES: &[&str] = &["PreemptLowerPriority", "Never"];

/// One of the classes every cluster has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemPriorityClass {
    /// The class name.
    pub name: &'static str,
    /// Its fixed value.
    pub value: i32,
    /// Its description.
    pub description: &'static str,
}

/// The built-in classes, highest first (their `globalDefault` is always false).
pub const SYSTEM_PRIORITY_CLASSES: &[SystemPriorityClass] = &[
    SystemPriorityClass {
        name: "system-node-critical",
        value: SYSTEM_CRITICAL_PRIORITY + 1000,
        description: "Used for system critical pods that must not be moved from their current node.",
    },
    SystemPriorityClass {
        name: "system-cluster-critical",
        value: SYSTEM_CRITICAL_PRIORITY,
        description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    },
];

/// The built-in class called `name`, if there is one.
pub fn system_priority_class(name: &str) -> Option<&'static SystemPriorityClass> {
    SYSTEM_PRIORITY_CLASSES.iter().find(|c| c.name == name)
}

/// Whether a class with this name, value and `globalDefault` is exactly one of the built-in
/// ones; if not, why (in upstream's words).
fn check_system_class(name: &str, value: i32, global_default: bool) -> Result<(), String> {
    let Some(class) = system_priority_class(name) else {
        return Err(format!("{name} is not a known system priority class"));
    };
    if class.value != value {
        return Err(format!(
            "value of {name} PriorityClass must be {}",
            class.value
        ));
    }
    if global_default {
        return Err(format!(
            "globalDefault of {name} PriorityClass must be false"
        ));
    }
    Ok(())
}

/// PriorityClass. On create: metadata (not namespaced, a DNS subdomain name), the `system-`
/// prefix only for the built-in classes with their fixed value, user values at most
/// [`HIGHEST_USER_DEFINABLE_PRIORITY`], a known preemption policy. On update: metadata
/// immutability, and neither `value` nor `preemptionPolicy` may change (upstream checks
/// nothing else on update).
///
/// Only one class may be the global default, but that needs the other classes: the
/// apiserver's Priority admission checks it.
pub fn validate_priority_class(new: &Value, old: Option<&Value>) -> Errors {
    let (pc, o) = match decode_pair::<PriorityClass>("PriorityClass", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    if let Some(o) = &o {
        let mut errs = validate_object_meta_update(&pc.metadata, &o.metadata, &mp);
        if pc.value != o.value {
            errs.push(FieldCause::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        if pc.preemption_policy != o.preemption_policy {
            let shown = pc.preemption_policy.as_deref().map_or(Value::Null, jstr);
            errs.push(FieldCause::invalid(
                "preemptionPolicy",
                &shown,
                "field is immutable",
            ));
        }
        return errs;
    }
    let mut errs = validate_object_meta(&pc.metadata, false, NameRule::Subdomain, &mp);
    let name = pc.metadata.name.as_deref().unwrap_or("");
    if name.starts_with(SYSTEM_PRIORITY_CLASS_PREFIX) {
        if let Err(why) = check_system_class(name, pc.value, pc.global_default == Some(true)) {
            errs.push(FieldCause::forbidden(
                mp.child("name"),
                format!(
                    "priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: {why}"
                ),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldCause::forbidden(
            "value",
            format!(
                "maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            ),
        ));
    }
    if let Some(policy) = &pc.preemption_policy {
        errs.extend(validate_preemption_policy(
            policy,
            &Path::new("preemptionPolicy"),
        ));
    }
    errs
}

/// A preemption policy: required when present, one of [`PREEMPTION_POLICIES`].
pub fn validate_preemption_policy(policy: &str, path: &Path) -> Errors {
    if policy.is_empty() {
        vec![FieldCause::required(path)]
    } else if !PREEMPTION_POLICIES.contains(&policy) {
        vec![FieldCause::not_supported(
            path,
            &jstr(policy),
            PREEMPTION_POLICIES,
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults::apply;
    use serde_json::json;

    fn class(name: &str, value: i64) -> Value {
        let mut pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value});
        apply("scheduling.k8s.io", "PriorityClass", &mut pc);
        pc
    }

    #[test]
    fn priority_class_create() {
        let max = i64::from(HIGHEST_USER_DEFINABLE_PRIORITY);
        let prefix = "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ";
        // (name, value, extra fields, expected `field: message` lines)
        let cases: Vec<(&str, i64, Value, Vec<String>)> = vec![
            ("high", 1000, json!({}), vec![]),
            ("negative", -5, json!({}), vec![]),
            ("at-the-limit", max, json!({}), vec![]),
            ("default", 0, json!({"globalDefault": true}), vec![]),
            (
                "never",
                7,
                json!({"preemptionPolicy": "Never", "description": "d"}),
                vec![],
            ),
            ("system-node-critical", 2_000_001_000, json!({}), vec![]),
            ("system-cluster-critical", 2_000_000_000, json!({}), vec![]),
            (
                "too-high",
                max + 1,
                json!({}),
                vec![
                    "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
                        .into(),
                ],
            ),
            (
                "system-mine",
                5,
                json!({}),
                vec![format!("{prefix}system-mine is not a known system priority class")],
            ),
            (
                "system-node-critical",
                5,
                json!({}),
                vec![format!(
                    "{prefix}value of system-node-critical PriorityClass must be 2000001000"
                )],
            ),
            (
                "system-cluster-critical",
                2_000_000_000,
                json!({"globalDefault": true}),
                vec![format!(
                    "{prefix}globalDefault of system-cluster-critical PriorityClass must be false"
                )],
            ),
            (
                "Upper",
                1,
                json!({}),
                vec!["metadata.name: Invalid value: \"Upper\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into()],
            ),
            (
                "bad-policy",
                1,
                json!({"preemptionPolicy": "Sometimes"}),
                vec!["preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"".into()],
            ),
            (
                "empty-policy",
                1,
                json!({"preemptionPolicy": ""}),
                vec!["preemptionPolicy: Required value".into()],
            ),
        ];
        for (name, value, extra, want) in cases {
            let mut pc = class(name, value);
            for (k, v) in extra.as_object().unwrap() {
                pc[k] = v.clone();
            }
            assert_eq!(
                lines(&validate_priority_class(&pc, None)),
                want,
                "{name} {value}"
            );
        }
    }

    #[test]
    fn priority_class_update() {
        let mut old = class("high", 1000);
        old["metadata"]["resourceVersion"] = json!("3");
        let mut described = old.clone();
        described["description"] = json!("now described");
        described["globalDefault"] = json!(true);
        assert_valid(&validate_priority_class(&described, Some(&old)));
        // (field changed, new value, expected `field: message` lines)
        let cases = [
            (
                "value",
                json!(2000),
                "value: Forbidden: may not be changed in an update.",
            ),
            (
                "preemptionPolicy",
                json!("Never"),
                "preemptionPolicy: Invalid value: \"Never\": field is immutable",
            ),
        ];
        for (field, value, want) in cases {
            let mut new = old.clone();
            new[field] = value;
            assert_eq!(
                lines(&validate_priority_class(&new, Some(&old))),
                [want],
                "{field}"
            );
        }
        // A built-in class keeps its checks on create only (upstream's update checks no more).
        let mut system = class("system-node-critical", 2_000_001_000);
        system["metadata"]["resourceVersion"] = json!("1");
        let mut relabelled = system.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        assert_valid(&validate_priority_class(&relabelled, Some(&system)));
    }

    #[test]
    fn system_classes_are_valid_and_known() {
        for c in SYSTEM_PRIORITY_CLASSES {
            let mut pc = class(c.name, i64::from(c.value));
            pc["description"] = json!(c.description);
            assert_valid(&validate_priority_class(&pc, None));
            assert_eq!(system_priority_class(c.name), Some(c));
        }
        assert_eq!(system_priority_class("system-other"), None);
    }

    #[test]
    fn garbage_never_panics() {
        for garbage in [
            json!(null),
            json!({"value": "x"}),
            json!({"value": 1e20}),
            json!({"metadata": {"name": 3}}),
        ] {
            assert!(!validate_priority_class(&garbage, None).is_empty());
            let _ = validate_priority_class(&garbage, Some(&garbage));
        }
    }
}
