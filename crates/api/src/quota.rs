//! Resource quota accounting shared by the apiserver's ResourceQuota admission and the quota
//! controller: what one object uses of a quota (compute resources of a pod, object counts,
//! the legacy count names), which objects a quota's scopes select, the "must specify" rule
//! for compute quotas, and upstream's printing of resource lists in messages.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::validation::quantity::Quantity;

/// A resource list with parsed quantities, in name order (upstream prints lists sorted).
pub type Usage = BTreeMap<String, Quantity>;

/// Legacy object-count names of core resources (also counted as `count/<plural>`).
const LEGACY_COUNTS: &[&str] = &[
    "pods",
    "services",
    "configmaps",
    "secrets",
    "replicationcontrollers",
    "persistentvolumeclaims",
    "resourcequotas",
];

/// Compute resources a quota can only count when every container states them (upstream's
/// backward-compatible validation set).
const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Parses a JSON resource list; unparsable entries (refused by validation) are skipped.
pub fn parse_list(v: &Value) -> Usage {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, q)| {
            let q = Quantity::parse(q.as_str()?).ok().flatten()?;
            Some((k.clone(), q))
        })
        .collect()
}

/// A resource list as JSON (canonical quantities).
pub fn to_json(u: &Usage) -> Value {
    Value::Object(
        u.iter()
            .map(|(k, q)| (k.clone(), Value::String(q.canonical())))
            .collect(),
    )
}

/// Adds `b` into `a`, resource by resource.
pub fn add_into(a: &mut Usage, b: &Usage) {
    for (k, q) in b {
        let sum = match a.get(k) {
            Some(x) => x.checked_add(q).unwrap_or(*x),
            None => *q,
        };
        a.insert(k.clone(), sum);
    }
}

/// `name=value` pairs joined by commas, in name order (upstream's quota `prettyPrint`).
pub fn pretty(u: &Usage) -> String {
    u.iter()
        .map(|(k, q)| format!("{k}={}", q.canonical()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a pod no longer uses resources (Succeeded or Failed).
pub fn is_terminal(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded") | Some("Failed")
    )
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod["spec"][field].as_array().into_iter().flatten()
}

/// The pod's effective requests or limits (`which` = "requests" / "limits"): the containers'
/// sum, or an init container's if larger (init containers run one at a time), plus overhead.
pub fn pod_resources(pod: &Value, which: &str) -> Usage {
    let mut total = Usage::new();
    for c in containers(pod, "containers") {
        add_into(&mut total, &parse_list(&c["resources"][which]));
    }
    for c in containers(pod, "initContainers") {
        for (k, q) in parse_list(&c["resources"][which]) {
            let bigger = total
                .get(&k)
                .is_none_or(|t| q.cmp_value(t) == std::cmp::Ordering::Greater);
            if bigger {
                total.insert(k, q);
            }
        }
    }
    add_into(&mut total, &parse_list(&pod["spec"]["overhead"]));
    total
}

/// What a pod uses: `pods`, `count/pods`, `requests.*` (and the bare `cpu`/`memory`/
/// `ephemeral-storage` aliases), `limits.*`; nothing once terminal.
pub fn pod_usage(pod: &Value) -> Usage {
    let mut u = Usage::new();
    if is_terminal(pod) {
        return u;
    }
    u.insert("pods".into(), Quantity::from_int(1));
    u.insert("count/pods".into(), Quantity::from_int(1));
    for (k, q) in pod_resources(pod, "requests") {
        if ["cpu", "memory", "ephemeral-storage"].contains(&k.as_str()) {
            u.insert(k.clone(), q);
        }
        u.insert(format!("requests.{k}"), q);
    }
    for (k, q) in pod_resources(pod, "limits") {
        u.insert(format!("limits.{k}"), q);
    }
    u
}

/// What any object of resource `plural` in API group `group` uses: its object counts and,
/// for pods, services and claims, their specific resources.
pub fn object_usage(group: &str, plural: &str, obj: &Value) -> Usage {
    if group.is_empty() && plural == "pods" {
        return pod_usage(obj);
    }
    let mut u = Usage::new();
    let one = Quantity::from_int(1);
    let count = if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    };
    u.insert(count, one);
    if group.is_empty() && LEGACY_COUNTS.contains(&plural) {
        u.insert(plural.to_string(), one);
    }
    if group.is_empty() && plural == "services" {
        let ty = obj["spec"]["type"].as_str().unwrap_or("ClusterIP");
        if ty == "LoadBalancer" {
            u.insert("services.loadbalancers".into(), one);
        }
        if ty == "NodePort" || ty == "LoadBalancer" {
            let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len);
            u.insert(
                "services.nodeports".into(),
                Quantity::from_int(ports as i64),
            );
        }
    }
    if group.is_empty() && plural == "persistentvolumeclaims" {
        let req = parse_list(&obj["spec"]["resources"]["requests"]);
        if let Some(s) = req.get("storage") {
            u.insert("requests.storage".into(), *s);
        }
    }
    u
}

/// The resource (group, plural) whose objects a quota's `key` counts, if it is one a quota
/// tracks here.
pub fn resource_for(key: &str) -> Option<(String, String)> {
    let core = |p: &str| Some((String::new(), p.to_string()));
    if let Some(rest) = key.strip_prefix("count/") {
        return match rest.split_once('.') {
            Some((plural, group)) => Some((group.to_string(), plural.to_string())),
            None => core(rest),
        };
    }
    match key {
        "services" | "services.nodeports" | "services.loadbalancers" => core("services"),
        "persistentvolumeclaims" | "requests.storage" => core("persistentvolumeclaims"),
        "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => core(key),
        "pods" | "cpu" | "memory" | "ephemeral-storage" => core("pods"),
        k if k.starts_with("requests.") || k.starts_with("limits.") => core("pods"),
        _ => None,
    }
}

/// The built-in resource (stored version) named by group and plural.
pub fn resource_info(group: &str, plural: &str) -> Option<&'static crate::resources::ResourceInfo> {
    crate::resources::BUILTIN
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .map(crate::resources::storage_version)
}

/// What `objects` (all of resource `group`/`plural`) use of `quota`'s hard limits.
pub fn usage_of<'a>(
    quota: &Value,
    group: &str,
    plural: &str,
    objects: impl IntoIterator<Item = &'a Value>,
) -> Usage {
    let hard = parse_list(&quota["spec"]["hard"]);
    let mut total = Usage::new();
    for obj in objects {
        if scopes_match(quota, group, plural, obj) {
            add_into(&mut total, &mask(&object_usage(group, plural, obj), &hard));
        }
    }
    total
}

/// `u` with every `hard` resource present (zero where nothing uses it), as `status.used`.
pub fn with_zeros(u: &Usage, hard: &Usage) -> Usage {
    hard.keys()
        .map(|k| (k.clone(), u.get(k).copied().unwrap_or_else(Quantity::zero)))
        .collect()
}

/// Whether a pod is "best effort": no container states any request or limit.
fn best_effort(pod: &Value) -> bool {
    containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .all(|c| {
            parse_list(&c["resources"]["requests"]).is_empty()
                && parse_list(&c["resources"]["limits"]).is_empty()
        })
}

/// Whether `quota`'s scopes select `obj` of resource `plural` (core group). Scopes only
/// select pods; a scoped quota ignores every other object.
pub fn scopes_match(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if scopes.is_empty() {
        return true;
    }
    if !(group.is_empty() && plural == "pods") {
        return false;
    }
    let deadline = !obj["spec"]["activeDeadlineSeconds"].is_null();
    scopes.iter().all(|s| match *s {
        "Terminating" => deadline,
        "NotTerminating" => !deadline,
        "BestEffort" => best_effort(obj),
        "NotBestEffort" => !best_effort(obj),
        "PriorityClass" => !obj["spec"]["priorityClassName"]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        _ => false,
    })
}

/// The usage of `u` that `hard` limits.
pub fn mask(u: &Usage, hard: &Usage) -> Usage {
    u.iter()
        .filter(|(k, _)| hard.contains_key(*k))
        .map(|(k, q)| (k.clone(), *q))
        .collect()
}

/// For a pod and a quota limiting compute resources: the containers that leave one of those
/// resources unstated, as upstream's message part ("limits.cpu for: a,b; requests.memory for:
/// a"), or `None` when every container states them.
pub fn missing_compute(hard: &Usage, pod: &Value) -> Option<String> {
    let required: BTreeSet<&str> = hard
        .keys()
        .map(String::as_str)
        .filter(|k| MUST_SPECIFY.contains(k))
        .collect();
    if required.is_empty() {
        return None;
    }
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in containers(pod, "containers").chain(containers(pod, "initContainers")) {
        // A container's own usage, as if it were a pod of one.
        let has = pod_usage(&serde_json::json!({"spec": {"containers": [c]}}));
        let name = c["name"].as_str().unwrap_or("").to_string();
        for r in &required {
            if !has.contains_key(*r) {
                missing.entry(r).or_default().insert(name.clone());
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    Some(
        missing
            .iter()
            .map(|(r, names)| {
                format!(
                    "{r} for: {}",
                    names.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(cs: Value) -> Value {
        json!({"spec": {"containers": cs}})
    }

    #[test]
    fn pod_usage_sums_containers_and_aliases() {
        let p = pod(json!([
            {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1"}}},
            {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
        ]));
        let u = pod_usage(&p);
        assert_eq!(
            pretty(&u),
            "count/pods=1,cpu=350m,limits.cpu=1,memory=1Gi,pods=1,requests.cpu=350m,requests.memory=1Gi"
        );
        let mut done = p.clone();
        done["status"] = json!({"phase": "Succeeded"});
        assert!(pod_usage(&done).is_empty());
    }

    #[test]
    fn counts_and_services() {
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}});
        assert_eq!(
            pretty(&object_usage("", "services", &svc)),
            "count/services=1,services=1,services.nodeports=2"
        );
        assert_eq!(
            pretty(&object_usage("apps", "deployments", &json!({}))),
            "count/deployments.apps=1"
        );
    }

    #[test]
    fn missing_compute_names_containers() {
        let hard = parse_list(&json!({"limits.cpu": "2", "requests.memory": "1Gi", "pods": "3"}));
        let p = pod(json!([
            {"name": "a", "resources": {"requests": {"memory": "1Mi"}}},
            {"name": "b"},
        ]));
        assert_eq!(
            missing_compute(&hard, &p).as_deref(),
            Some("limits.cpu for: a,b; requests.memory for: b")
        );
        assert!(missing_compute(&parse_list(&json!({"pods": "1"})), &p).is_none());
    }
}
