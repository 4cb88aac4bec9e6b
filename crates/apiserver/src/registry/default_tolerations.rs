//! Upstream's `DefaultTolerationSeconds` admission plugin: a pod (created or updated) that does
//! not tolerate the node lifecycle controller's `node.kubernetes.io/not-ready:NoExecute` and
//! `node.kubernetes.io/unreachable:NoExecute` taints gets tolerations for them lasting 300 s
//! (upstream's `--default-not-ready-toleration-seconds` / `--default-unreachable-toleration-seconds`),
//! so its pods leave a failed node five minutes after the taint appears.

use serde_json::{Value, json};

/// The taint a NotReady node carries.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint an unreachable node carries.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// How long the added tolerations last (upstream's default for both flags).
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Whether `t` (a toleration) covers the NoExecute taint `key`: an empty key tolerates every
/// key, an empty effect every effect.
fn covers(t: &Value, key: &str) -> bool {
    let k = t["key"].as_str().unwrap_or("");
    let e = t["effect"].as_str().unwrap_or("");
    (k.is_empty() || k == key) && (e.is_empty() || e == "NoExecute")
}

/// Adds the missing default tolerations to the pod `obj` (a JSON Pod).
pub(super) fn admit(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if tolerations.is_null() {
        *tolerations = Value::Array(Vec::new());
    }
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !list.iter().any(|t| covers(t, key)) {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_both_defaults_to_a_pod_without_tolerations() {
        let mut pod = json!({"spec": {"containers": []}});
        admit(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["key"], NOT_READY_TAINT);
        assert_eq!(t[1]["key"], UNREACHABLE_TAINT);
        assert_eq!(t[1]["tolerationSeconds"], 300);
        assert_eq!(t[1]["operator"], "Exists");
    }

    #[test]
    fn keeps_existing_tolerations_that_cover_the_taints() {
        let mut pod = json!({"spec": {"tolerations": [
            {"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
        ]}});
        admit(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 5);
        assert_eq!(t[1]["key"], UNREACHABLE_TAINT);

        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        admit(&mut all);
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
