//! A CRD's status as its controllers keep it: conditions (`NamesAccepted`, `Established`,
//! `Terminating`), `acceptedNames`, `storedVersions`; and the name-conflict check between
//! CRDs of one group (and the built-in resources of that group).

use rkube_api::resources;
use serde_json::{Value, json};

/// One condition to set.
pub struct Condition {
    /// `type`.
    pub kind: &'static str,
    /// `status` (True/False).
    pub status: bool,
    /// `reason`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
}

/// Sets a condition in `crd.status.conditions`, keeping its transition time while its status
/// stays the same.
pub fn set(crd: &mut Value, c: Condition, now: jiff::Timestamp) {
    let status = if c.status { "True" } else { "False" };
    if !crd["status"].is_object() {
        crd["status"] = json!({});
    }
    if !crd["status"]["conditions"].is_array() {
        crd["status"]["conditions"] = json!([]);
    }
    let Some(list) = crd["status"]["conditions"].as_array_mut() else {
        return;
    };
    let time = match list.iter().find(|x| x["type"] == c.kind) {
        Some(old) if old["status"] == status => old["lastTransitionTime"].clone(),
        _ => crate::registry::meta::timestamp(now),
    };
    let new = json!({"type": c.kind, "status": status, "lastTransitionTime": time,
        "reason": c.reason, "message": c.message});
    match list.iter_mut().find(|x| x["type"] == c.kind) {
        Some(slot) => *slot = new,
        None => list.push(new),
    }
}

/// Whether condition `kind` is True.
pub fn is_true(crd: &Value, kind: &str) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// The names `crd` may not have because `others` (same group, accepted earlier) or the
/// group's built-in resources hold them: the first conflict as (reason, message).
pub fn name_conflict(crd: &Value, others: &[&Value]) -> Option<(&'static str, String)> {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    let names = &crd["spec"]["names"];
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let (plural, singular, kind, list_kind) = (
        s(names, "plural"),
        s(names, "singular"),
        s(names, "kind"),
        s(names, "listKind"),
    );
    let short: Vec<String> = names["shortNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let mut taken_resources: Vec<String> = Vec::new();
    let mut taken_kinds: Vec<String> = Vec::new();
    for r in resources::BUILTIN.iter().filter(|r| r.group == group) {
        taken_resources.push(r.plural.into());
        taken_resources.push(r.singular.into());
        taken_resources.extend(r.short_names.iter().map(|s| s.to_string()));
        taken_kinds.push(r.kind.into());
        taken_kinds.push(r.list_kind());
    }
    for other in others.iter().filter(|o| o["spec"]["group"] == group) {
        let accepted = &other["status"]["acceptedNames"];
        taken_resources.push(s(accepted, "plural"));
        taken_resources.push(s(accepted, "singular"));
        taken_resources.extend(
            accepted["shortNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from)),
        );
        taken_kinds.push(s(accepted, "kind"));
        taken_kinds.push(s(accepted, "listKind"));
    }
    let taken = |list: &[String], v: &str| !v.is_empty() && list.iter().any(|t| t == v);
    if taken(&taken_resources, &plural) {
        return Some(("PluralConflict", format!("{plural:?} is already in use")));
    }
    if taken(&taken_resources, &singular) {
        return Some((
            "SingularConflict",
            format!("{singular:?} is already in use"),
        ));
    }
    if let Some(s) = short.iter().find(|s| taken(&taken_resources, s)) {
        return Some(("ShortNamesConflict", format!("{s:?} is already in use")));
    }
    if taken(&taken_kinds, &kind) {
        return Some(("KindConflict", format!("{kind:?} is already in use")));
    }
    if taken(&taken_kinds, &list_kind) {
        return Some((
            "ListKindConflict",
            format!("{list_kind:?} is already in use"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str, kind: &str) -> Value {
        json!({"spec": {"group": "g.example.com", "names": {"plural": plural, "singular": plural.trim_end_matches('s'),
            "kind": kind, "listKind": format!("{kind}List")}},
            "status": {"acceptedNames": {"plural": plural, "singular": plural.trim_end_matches('s'),
            "kind": kind, "listKind": format!("{kind}List")}}})
    }

    #[test]
    fn conflicts_are_found_by_name_kind() {
        let a = crd("widgets", "Widget");
        assert_eq!(
            name_conflict(&crd("widgets", "Other"), &[&a]).unwrap().0,
            "PluralConflict"
        );
        assert_eq!(
            name_conflict(&crd("gadgets", "Widget"), &[&a]).unwrap().0,
            "KindConflict"
        );
        assert!(name_conflict(&crd("gadgets", "Gadget"), &[&a]).is_none());
    }

    #[test]
    fn conditions_keep_their_transition_time() {
        let mut c = json!({});
        let t0 = jiff::Timestamp::UNIX_EPOCH;
        let t1 = t0 + jiff::SignedDuration::from_secs(60);
        let est = |status| Condition {
            kind: "Established",
            status,
            reason: "InitialNamesAccepted",
            message: "the initial names have been accepted".into(),
        };
        set(&mut c, est(true), t0);
        set(&mut c, est(true), t1);
        assert_eq!(
            c["status"]["conditions"][0]["lastTransitionTime"],
            "1970-01-01T00:00:00Z"
        );
        assert!(is_true(&c, "Established"));
        set(&mut c, est(false), t1);
        assert_eq!(c["status"]["conditions"].as_array().unwrap().len(), 1);
        assert!(!is_true(&c, "Established"));
    }
}
