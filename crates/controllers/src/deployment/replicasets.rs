//! Facts about a Deployment's ReplicaSets: sizes, revisions, which one is "new" (its template
//! equals the Deployment's, ignoring the hash label), and upstream's orderings.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

use super::annotations::REVISION;
use super::hash::POD_TEMPLATE_HASH;

/// `spec.replicas` (the apiserver defaults it to 1).
pub fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `status.replicas`.
pub fn actual(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

/// `status.availableReplicas`.
pub fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// `status.readyReplicas`.
pub fn ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// Whether it is meant to run pods.
pub fn is_active(rs: &ReplicaSet) -> bool {
    replicas(rs) > 0
}

/// Sum of `spec.replicas`.
pub fn sum_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(replicas).sum()
}

/// Sum of `status.replicas`.
pub fn sum_actual<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(actual).sum()
}

/// Sum of `status.availableReplicas`.
pub fn sum_available<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(available).sum()
}

/// Sum of `status.readyReplicas`.
pub fn sum_ready<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(ready).sum()
}

/// The revision annotation, if it is a number.
pub fn revision(rs: &ReplicaSet) -> Option<i64> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(REVISION)?
        .parse()
        .ok()
}

/// The highest revision (0 when none has one).
pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter().filter_map(revision).max().unwrap_or(0)
}

/// The second-highest revision (the one before the current), 0 if there is none.
pub fn last_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    let (mut max, mut second) = (0, 0);
    for v in rss.into_iter().filter_map(revision) {
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// Oldest first; equal creation times by name (upstream's `ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let t = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    t(a).cmp(&t(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Larger first; equal sizes newer first (for scaling up).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    replicas(b)
        .cmp(&replicas(a))
        .then_with(|| by_creation(b, a))
}

/// Larger first; equal sizes older first (for scaling down).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    replicas(b)
        .cmp(&replicas(a))
        .then_with(|| by_creation(a, b))
}

/// Lowest revision first; equal revisions by creation.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(a)
        .unwrap_or(0)
        .cmp(&revision(b).unwrap_or(0))
        .then_with(|| by_creation(a, b))
}

/// Drops nulls, empty arrays and empty objects (absent and empty are the same, as upstream's
/// semantic equality treats nil and empty alike).
fn prune(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(a) => {
            let a: Vec<Value> = a
                .into_iter()
                .map(|v| prune(v).unwrap_or(Value::Null))
                .collect();
            (!a.is_empty()).then_some(Value::Array(a))
        }
        Value::Object(m) => {
            let m: serde_json::Map<String, Value> = m
                .into_iter()
                .filter_map(|(k, v)| prune(v).map(|v| (k, v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other),
    }
}

/// `template` without the hash label, as comparable JSON.
fn comparable(template: &PodTemplateSpec) -> Option<Value> {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    prune(serde_json::to_value(&t).ok()?)
}

/// Whether two templates are equal apart from the hash label (upstream's `EqualIgnoreHash`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    comparable(a) == comparable(b)
}

/// The template of `rs` (empty if it has none).
pub fn template(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default()
}

/// The Deployment's template.
pub fn deployment_template(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

/// The index in `rss` of the oldest ReplicaSet running `d`'s current template.
pub fn find_new(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let want = comparable(&deployment_template(d));
    let mut matching: Vec<usize> = (0..rss.len())
        .filter(|&i| comparable(&template(&rss[i])) == want)
        .collect();
    matching.sort_by(|&a, &b| by_creation(&rss[a], &rss[b]));
    matching.first().copied()
}

/// The active ReplicaSets among `rss` if exactly one is active; the newest (`new` first) if
/// none is; `None` if several are (upstream's `FindActiveOrLatest`).
pub fn active_or_latest<'a>(
    new: Option<&'a ReplicaSet>,
    old: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let mut sorted: Vec<&ReplicaSet> = old.iter().collect();
    sorted.sort_by(|a, b| by_creation(b, a));
    let active: Vec<&ReplicaSet> = sorted
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| is_active(rs))
        .collect();
    match active.len() {
        0 => new.or(sorted.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(name: &str, replicas: i32, created: &str, rev: Option<&str>) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                "annotations": rev.map(|r| json!({REVISION: r}))},
            "spec": {"replicas": replicas, "selector": {},
                "template": {"metadata": {"labels": {"app": "x", POD_TEMPLATE_HASH: name}},
                    "spec": {"containers": [{"name": "c", "image": name}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn revisions_max_and_last() {
        let rss = [
            rs("a", 1, "2024-01-01T00:00:00Z", Some("3")),
            rs("b", 1, "2024-01-01T00:00:01Z", Some("7")),
            rs("c", 1, "2024-01-01T00:00:02Z", Some("junk")),
            rs("d", 1, "2024-01-01T00:00:03Z", Some("5")),
        ];
        assert_eq!(max_revision(&rss), 7);
        assert_eq!(last_revision(&rss), 5);
        assert_eq!(last_revision(&rss[..1]), 0);
    }

    #[test]
    fn orderings() {
        let mut v = vec![
            rs("old", 2, "2024-01-01T00:00:00Z", None),
            rs("new", 2, "2024-01-01T00:00:05Z", None),
            rs("big", 5, "2024-01-01T00:00:03Z", None),
        ];
        v.sort_by(by_size_newer);
        let names = |v: &[ReplicaSet]| -> Vec<String> {
            v.iter().map(|r| r.metadata.name.clone().unwrap()).collect()
        };
        assert_eq!(names(&v), ["big", "new", "old"]);
        v.sort_by(by_size_older);
        assert_eq!(names(&v), ["big", "old", "new"]);
    }

    #[test]
    fn the_new_replica_set_ignores_the_hash_label_and_picks_the_oldest() {
        let mut a = rs("a", 1, "2024-01-01T00:00:02Z", None);
        let mut b = rs("b", 1, "2024-01-01T00:00:01Z", None);
        let c = rs("c", 1, "2024-01-01T00:00:00Z", None);
        // Same template (different hash labels) for a and b.
        let t = template(&a);
        b.spec.as_mut().unwrap().template = Some(t.clone());
        a.spec
            .as_mut()
            .unwrap()
            .template
            .as_mut()
            .unwrap()
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), "zzz".into());
        let mut d: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"},
            "spec": {"selector": {}, "template": {}}}))
        .unwrap();
        let mut dt = t;
        dt.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .remove(POD_TEMPLATE_HASH);
        d.spec.as_mut().unwrap().template = dt;
        let rss = [a, b, c];
        assert_eq!(find_new(&d, &rss), Some(1), "b is the oldest match");
    }

    #[test]
    fn active_or_latest_rules() {
        let new = rs("new", 0, "2024-01-01T00:00:05Z", None);
        let old = vec![
            rs("o1", 0, "2024-01-01T00:00:00Z", None),
            rs("o2", 3, "2024-01-01T00:00:01Z", None),
        ];
        assert_eq!(
            active_or_latest(Some(&new), &old)
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("o2")
        );
        let idle = vec![rs("o1", 0, "2024-01-01T00:00:00Z", None)];
        assert_eq!(
            active_or_latest(Some(&new), &idle)
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("new")
        );
        assert_eq!(
            active_or_latest(None, &idle)
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("o1")
        );
        let busy = rs("new", 1, "2024-01-01T00:00:05Z", None);
        assert!(active_or_latest(Some(&busy), &old).is_none());
    }
}
