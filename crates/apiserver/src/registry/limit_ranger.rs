//! Upstream's `LimitRanger` admission plugin, for pod and PersistentVolumeClaim creates: each
//! LimitRange of the namespace gives containers that lack them its `Container` item's
//! `defaultRequest` (requests) and `default` (limits) — recorded in the
//! `kubernetes.io/limit-ranger` annotation — and then bounds containers (`Container`), the
//! pod's totals (`Pod`) and claims (`PersistentVolumeClaim`) by `min`, `max` and
//! `maxLimitRequestRatio`. Violations refuse the object with 403 and every reason.
//!
//! LimitRanges are read from the store at admission time (upstream reads an informer cache).

use std::cmp::Ordering;

use rkube_api::quota::{Usage, parse_list, pod_resources};
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::ApiError;
use rkube_api::validation::quantity::Quantity;
use serde_json::Value;

use super::Registry;
use super::meta::meta_str;

/// The annotation listing the defaults the plugin applied.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Whether LimitRanger admits objects of `info` (pods and claims).
pub(super) fn applies(info: &ResourceInfo) -> bool {
    info.group.is_empty() && (info.kind == "Pod" || info.kind == "PersistentVolumeClaim")
}

/// The LimitRange items of type `ty` in `lr`.
fn items<'a>(lr: &'a Value, ty: &'a str) -> impl Iterator<Item = &'a Value> {
    lr["spec"]["limits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |i| i["type"].as_str() == Some(ty))
}

/// Gives every container the LimitRange defaults it lacks; the annotation text parts.
fn apply_defaults(lr: &Value, pod: &mut Value, notes: &mut Vec<String>) {
    let (mut requests, mut limits) = (Usage::new(), Usage::new());
    for item in items(lr, "Container") {
        requests.extend(parse_list(&item["defaultRequest"]));
        limits.extend(parse_list(&item["default"]));
    }
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    for (field, what) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(list) = pod["spec"][field].as_array_mut() else {
            continue;
        };
        for c in list.iter_mut().filter(|c| c.is_object()) {
            let name = c["name"].as_str().unwrap_or("").to_string();
            let set_limits = fill(c, "limits", &limits);
            let set_requests = fill(c, "requests", &requests);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {what} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
            }
        }
    }
}

/// Sets in `container.resources.<which>` the `defaults` it lacks; the names set, sorted.
fn fill(container: &mut Value, which: &str, defaults: &Usage) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    if !container["resources"].is_object() {
        container["resources"] = Value::Object(Default::default());
    }
    if !container["resources"][which].is_object() {
        container["resources"][which] = Value::Object(Default::default());
    }
    let mut set = Vec::new();
    if let Some(list) = container["resources"][which].as_object_mut() {
        for (k, q) in defaults {
            if !list.contains_key(k) {
                list.insert(k.clone(), Value::String(q.canonical()));
                set.push(k.clone());
            }
        }
    }
    set
}

/// Checks one resource list pair (`requests`, `limits`) against an item's bounds, as
/// upstream's min, max and ratio constraints; reasons are appended to `errs`.
fn check(ty: &str, item: &Value, requests: &Usage, limits: &Usage, errs: &mut Vec<String>) {
    for (k, min) in parse_list(&item["min"]) {
        let (req, lim) = (requests.get(&k), limits.get(&k));
        match req {
            None => errs.push(format!(
                "minimum {k} usage per {ty} is {min}.  No request is specified"
            )),
            Some(r) if r.cmp_value(&min) == Ordering::Less => errs.push(format!(
                "minimum {k} usage per {ty} is {min}, but request is {r}"
            )),
            _ => {
                if let Some(l) = lim.filter(|l| l.cmp_value(&min) == Ordering::Less) {
                    errs.push(format!(
                        "minimum {k} usage per {ty} is {min}, but limit is {l}"
                    ));
                }
            }
        }
    }
    for (k, max) in parse_list(&item["max"]) {
        let (req, lim) = (requests.get(&k), limits.get(&k));
        if ty == "PersistentVolumeClaim" {
            // Claims have no limits: the request is bounded.
            match req {
                None => errs.push(format!(
                    "maximum {k} usage per {ty} is {max}.  No request is specified"
                )),
                Some(r) if r.cmp_value(&max) == Ordering::Greater => errs.push(format!(
                    "maximum {k} usage per {ty} is {max}, but request is {r}"
                )),
                _ => {}
            }
            continue;
        }
        match lim {
            None => errs.push(format!(
                "maximum {k} usage per {ty} is {max}.  No limit is specified"
            )),
            Some(l) if l.cmp_value(&max) == Ordering::Greater => errs.push(format!(
                "maximum {k} usage per {ty} is {max}, but limit is {l}"
            )),
            _ => {
                if let Some(r) = req.filter(|r| r.cmp_value(&max) == Ordering::Greater) {
                    errs.push(format!(
                        "maximum {k} usage per {ty} is {max}, but request is {r}"
                    ));
                }
            }
        }
    }
    for (k, ratio) in parse_list(&item["maxLimitRequestRatio"]) {
        let milli = |q: Option<&Quantity>| q.map_or(0, |q| q.scaled_value(-3));
        let (req, lim) = (milli(requests.get(&k)), milli(limits.get(&k)));
        if req == 0 {
            errs.push(format!(
                "{k} max limit to request ratio per {ty} is {ratio}, but no request is specified or request is 0"
            ));
        } else if lim == 0 {
            errs.push(format!(
                "{k} max limit to request ratio per {ty} is {ratio}, but no limit is specified or limit is 0"
            ));
        } else {
            let observed = lim as f64 / req as f64;
            if observed * 1000.0 > ratio.scaled_value(-3) as f64 {
                errs.push(format!(
                    "{k} max limit to request ratio per {ty} is {ratio}, but provided ratio is {observed:.6}"
                ));
            }
        }
    }
}

/// Every reason `lr` refuses the (defaulted) pod for.
fn pod_violations(lr: &Value, pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    for item in lr["spec"]["limits"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("Container") => {
                for field in ["containers", "initContainers"] {
                    for c in pod["spec"][field].as_array().into_iter().flatten() {
                        let requests = parse_list(&c["resources"]["requests"]);
                        let limits = parse_list(&c["resources"]["limits"]);
                        check("Container", item, &requests, &limits, &mut errs);
                    }
                }
            }
            Some("Pod") => {
                let requests = pod_resources(pod, "requests");
                let limits = pod_resources(pod, "limits");
                check("Pod", item, &requests, &limits, &mut errs);
            }
            _ => {}
        }
    }
    errs
}

/// Every reason `lr` refuses the claim for.
fn claim_violations(lr: &Value, claim: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let requests = parse_list(&claim["spec"]["resources"]["requests"]);
    for item in items(lr, "PersistentVolumeClaim") {
        check(
            "PersistentVolumeClaim",
            item,
            &requests,
            &Usage::new(),
            &mut errs,
        );
    }
    errs
}

/// Upstream's aggregate error text: one reason alone, several as `[a, b]` (duplicates once).
fn aggregate(errs: Vec<String>) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let unique: Vec<String> = errs
        .into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect();
    if unique.len() == 1 {
        unique.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", unique.join(", "))
    }
}

impl Registry {
    /// LimitRanger admission of a new pod or claim `obj` (before validation, as upstream's
    /// mutating admission). `shown_name` is the name errors give.
    pub(super) async fn admit_limit_ranges(
        &self,
        info: &ResourceInfo,
        obj: &mut Value,
        shown_name: &str,
    ) -> Result<(), ApiError> {
        let Some(ns) = meta_str(obj, "namespace").map(String::from) else {
            return Ok(());
        };
        let ranges = find("", "v1", "limitranges").expect("limitranges are built in");
        let list = self.list_current(ranges, Some(&ns)).await?;
        let is_pod = info.kind == "Pod";
        let mut notes = Vec::new();
        for lr in &list {
            let errs = if is_pod {
                apply_defaults(lr, obj, &mut notes);
                pod_violations(lr, obj)
            } else {
                claim_violations(lr, obj)
            };
            if !errs.is_empty() {
                return Err(ApiError::forbidden(info, shown_name, aggregate(errs)));
            }
        }
        if !notes.is_empty()
            && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if !annotations.is_object() {
                *annotations = Value::Object(Default::default());
            }
            annotations[ANNOTATION] =
                Value::String(format!("LimitRanger plugin set: {}", notes.join("; ")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range() -> Value {
        json!({"spec": {"limits": [
            {"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"},
             "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "200m", "memory": "256Mi"}},
            {"type": "Pod", "max": {"cpu": "2"}},
        ]}})
    }

    #[test]
    fn defaults_fill_missing_resources_and_are_noted() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a"},
            {"name": "b", "resources": {"requests": {"cpu": "300m"}, "limits": {"cpu": "1"}}},
        ]}});
        let mut notes = Vec::new();
        apply_defaults(&range(), &mut pod, &mut notes);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}})
        );
        assert_eq!(
            pod["spec"]["containers"][1]["resources"]["requests"]["cpu"],
            "300m"
        );
        assert_eq!(
            notes,
            [
                "cpu, memory request for container a",
                "cpu, memory limit for container a",
                "memory request for container b",
                "memory limit for container b",
            ]
        );
        assert!(pod_violations(&range(), &pod).is_empty());
    }

    #[test]
    fn bounds_are_enforced_with_upstream_messages() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "50m", "memory": "1Gi"}, "limits": {"cpu": "3", "memory": "2Gi"}}},
        ]}});
        let errs = pod_violations(&range(), &pod);
        assert_eq!(
            aggregate(errs),
            "[minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi, maximum cpu usage per Pod is 2, but limit is 3]"
        );
        let ratio = json!({"spec": {"limits": [{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}]}});
        let errs = pod_violations(&ratio, &pod);
        assert_eq!(
            errs,
            ["cpu max limit to request ratio per Container is 2, but provided ratio is 60.000000"]
        );
        let claim = json!({"spec": {"resources": {"requests": {"storage": "5Gi"}}}});
        let pvc = json!({"spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}]}});
        assert_eq!(
            claim_violations(&pvc, &claim),
            ["maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 5Gi"]
        );
    }
}
