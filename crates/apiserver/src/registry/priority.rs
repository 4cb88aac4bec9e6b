//! Upstream's `Priority` admission plugin and the built-in PriorityClasses.
//!
//! A new pod gets `spec.priority` and `spec.preemptionPolicy` from the class it names, or from
//! the global default class when it names none (which it then names); a pod naming a class that
//! does not exist, or bringing its own different priority or policy, is refused. A pod update
//! that leaves the two fields out keeps them (update validation refuses any change). A
//! PriorityClass may become the global default only while no other class is. The apiserver
//! creates `system-node-critical` and `system-cluster-critical` at start, and refuses to
//! delete them.
//!
//! Classes are read from the store at admission time (upstream reads an informer cache).

use std::sync::Arc;

use super::{Registry, WriteOptions};
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::ApiError;
use rkube_api::validation::scheduling::{
    DEFAULT_PREEMPTION_POLICY, DEFAULT_PRIORITY, SYSTEM_PRIORITY_CLASSES, system_priority_class,
};
use serde_json::{Value, json};

/// The `priorityclasses` resource.
fn priority_classes() -> &'static ResourceInfo {
    find("scheduling.k8s.io", "v1", "priorityclasses").expect("priorityclasses are built in")
}

/// Whether `info` is the core Pod resource.
pub(super) fn is_pod(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Pod"
}

/// Whether `info` is the PriorityClass resource.
pub(super) fn is_priority_class(info: &ResourceInfo) -> bool {
    info.group == "scheduling.k8s.io" && info.kind == "PriorityClass"
}

/// What a class gives the pods that use it.
#[derive(Debug, PartialEq, Eq)]
struct Resolved {
    /// The class name (empty when no class applies).
    name: String,
    /// `value`.
    priority: i64,
    /// `preemptionPolicy`, when the class has one.
    policy: Option<String>,
}

impl Resolved {
    fn of(class: &Value) -> Resolved {
        Resolved {
            name: class["metadata"]["name"].as_str().unwrap_or("").to_string(),
            priority: class["value"].as_i64().unwrap_or(0),
            policy: class["preemptionPolicy"].as_str().map(String::from),
        }
    }
}

/// The global default class among `classes`: of several (a race upstream also allows), the
/// one with the lowest value.
fn global_default(classes: &[Arc<Value>]) -> Option<&Value> {
    classes
        .iter()
        .map(|c| &**c)
        .filter(|c| c["globalDefault"].as_bool() == Some(true))
        .fold(None, |best: Option<&Value>, c| match best {
            Some(b) if b["value"].as_i64() <= c["value"].as_i64() => Some(b),
            _ => Some(c),
        })
}

impl Registry {
    async fn all_priority_classes(&self) -> Result<Vec<Arc<Value>>, ApiError> {
        self.list_current(priority_classes(), None)
            .await
            .map_err(|e| {
                ApiError::internal(format!(
                    "failed to get default priority class: {}",
                    e.message
                ))
            })
    }

    /// What a pod naming `class_name` (maybe empty) gets.
    async fn resolve_priority(
        &self,
        pods: &ResourceInfo,
        pod_name: &str,
        class_name: &str,
    ) -> Result<Resolved, ApiError> {
        if class_name.is_empty() {
            let classes = self.all_priority_classes().await?;
            return Ok(match global_default(&classes) {
                Some(class) => Resolved::of(class),
                None => Resolved {
                    name: String::new(),
                    priority: i64::from(DEFAULT_PRIORITY),
                    policy: Some(DEFAULT_PREEMPTION_POLICY.to_string()),
                },
            });
        }
        match self.get_current(priority_classes(), None, class_name).await {
            Ok(class) => Ok(Resolved::of(&class)),
            Err(e) if e.code == 404 => Err(ApiError::forbidden(
                pods,
                pod_name,
                format!("no PriorityClass with name {class_name} was found"),
            )),
            Err(e) => Err(ApiError::internal(format!(
                "failed to get PriorityClass with name {class_name}: {}",
                e.message
            ))),
        }
    }

    /// Priority admission of a new pod (before validation, as upstream's mutating admission):
    /// sets `spec.priority`, `spec.preemptionPolicy` and, from the global default,
    /// `spec.priorityClassName`. `shown_name` is the name errors give (the generateName prefix
    /// when the name is still to be generated).
    pub(super) async fn admit_pod_priority(
        &self,
        pods: &ResourceInfo,
        pod: &mut Value,
        shown_name: &str,
    ) -> Result<(), ApiError> {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(()); // validation reports the missing spec
        };
        let class_name = spec
            .get("priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let resolved = self.resolve_priority(pods, shown_name, &class_name).await?;
        if class_name.is_empty() && !resolved.name.is_empty() {
            spec.insert("priorityClassName".into(), resolved.name.clone().into());
        }
        if let Some(given) = spec.get("priority").and_then(Value::as_i64)
            && given != resolved.priority
        {
            return Err(ApiError::forbidden(
                pods,
                shown_name,
                format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                    resolved.priority
                ),
            ));
        }
        spec.insert("priority".into(), resolved.priority.into());
        if let Some(policy) = resolved.policy {
            if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
                && given != policy
            {
                return Err(ApiError::forbidden(
                    pods,
                    shown_name,
                    format!(
                        "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                    ),
                ));
            }
            spec.insert("preemptionPolicy".into(), policy.into());
        }
        Ok(())
    }

    /// Priority admission of a PriorityClass create or update (after validation, as upstream's
    /// validating admission): it may be the global default only if no other class is.
    /// `updating` is true for an update of the class of the same name.
    pub(super) async fn check_global_default(
        &self,
        info: &ResourceInfo,
        class: &Value,
        updating: bool,
    ) -> Result<(), ApiError> {
        if class["globalDefault"].as_bool() != Some(true) {
            return Ok(());
        }
        let name = class["metadata"]["name"].as_str().unwrap_or("");
        let classes = self.all_priority_classes().await?;
        match global_default(&classes) {
            Some(existing) => {
                let existing = existing["metadata"]["name"].as_str().unwrap_or("");
                if updating && existing == name {
                    return Ok(());
                }
                Err(ApiError::forbidden(
                    info,
                    name,
                    format!(
                        "PriorityClass {existing} is already marked as default. Only one default can exist"
                    ),
                ))
            }
            None => Ok(()),
        }
    }

    /// Creates the built-in PriorityClasses that are missing (upstream's
    /// `scheduling/bootstrap-system-priority-classes` post-start hook). Existing ones are left
    /// as they are.
    pub async fn ensure_system_priority_classes(&self) -> Result<(), ApiError> {
        let info = priority_classes();
        for class in SYSTEM_PRIORITY_CLASSES {
            let obj = json!({
                "apiVersion": info.api_version(), "kind": info.kind,
                "metadata": {"name": class.name},
                "value": class.value,
                "description": class.description,
            });
            match self.create(info, None, obj, WriteOptions::default()).await {
                Ok(_) => {
                    tracing::info!(
                        name = class.name,
                        value = class.value,
                        "created PriorityClass"
                    )
                }
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Priority admission of a pod update: a body without `spec.priority` or
/// `spec.preemptionPolicy` keeps the stored ones (so a replaced manifest that never had them
/// is not a change).
pub(super) fn keep_pod_priority(new: &mut Value, old: &Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["priority", "preemptionPolicy"] {
        let absent = spec.get(field).is_none_or(Value::is_null);
        if absent && let Some(stored) = old["spec"].get(field).filter(|v| !v.is_null()) {
            spec.insert(field.into(), stored.clone());
        }
    }
}

/// The built-in classes cannot be deleted (one at a time; upstream's delete-collection does
/// not check).
pub fn check_delete(info: &ResourceInfo, name: &str) -> Result<(), ApiError> {
    if is_priority_class(info) && system_priority_class(name).is_some() {
        return Err(ApiError::forbidden(
            info,
            name,
            "this is a system priority class and cannot be deleted",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_global_default_wins() {
        let class = |name: &str, value: i64, default: bool| {
            Arc::new(json!({"metadata": {"name": name}, "value": value, "globalDefault": default}))
        };
        let classes = [
            class("a", 10, true),
            class("b", 5, false),
            class("c", 7, true),
            class("d", 7, true),
        ];
        let chosen = global_default(&classes).unwrap();
        assert_eq!(chosen["metadata"]["name"], "c");
        assert!(global_default(&classes[1..2]).is_none());
        assert_eq!(
            Resolved::of(chosen),
            Resolved {
                name: "c".into(),
                priority: 7,
                policy: None
            }
        );
    }

    #[test]
    fn updates_keep_the_admitted_priority() {
        let old = json!({"spec": {"priority": 1000, "preemptionPolicy": "Never", "priorityClassName": "high"}});
        let mut new = json!({"spec": {"priorityClassName": "high"}});
        keep_pod_priority(&mut new, &old);
        assert_eq!(new, old);
        let mut changed = json!({"spec": {"priority": 5}});
        keep_pod_priority(&mut changed, &old);
        assert_eq!(changed["spec"]["priority"], 5);
        let mut odd = json!({"spec": "x"});
        keep_pod_priority(&mut odd, &old);
        assert_eq!(odd, json!({"spec": "x"}));
    }

    #[test]
    fn system_classes_cannot_be_deleted() {
        let pcs = priority_classes();
        let err = check_delete(pcs, "system-node-critical").unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
        );
        assert!(check_delete(pcs, "mine").is_ok());
        let pods = find("", "v1", "pods").unwrap();
        assert!(check_delete(pods, "system-node-critical").is_ok());
    }
}
