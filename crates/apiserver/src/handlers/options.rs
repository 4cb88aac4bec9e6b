//! Request options checked before any work, as upstream's apimachinery validation does
//! (`ValidateListOptions`, `ValidateDryRun`), and whether a write is a dry run. A problem is
//! a 422 naming the options kind, e.g.
//! `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: …`.

use super::Query;
use crate::request::Verb;
use rkube_api::status::{ApiError, FieldCause};

const EXACT: &str = "Exact";
const NOT_OLDER_THAN: &str = "NotOlderThan";

/// The list or watch parameters' combination rules.
pub(super) fn validate_list(query: &Query, watch: bool) -> Result<(), ApiError> {
    let rv = query.get("resourceVersion").unwrap_or("");
    let rv_match = query.get("resourceVersionMatch").unwrap_or("");
    let has_continue = query.get("continue").is_some_and(|c| !c.is_empty());
    let send_initial_events = query
        .get("sendInitialEvents")
        .is_some_and(|v| !v.is_empty());
    let field = "resourceVersionMatch";
    let mut causes = Vec::new();
    if watch {
        if send_initial_events && rv_match != NOT_OLDER_THAN {
            causes.push(FieldCause::forbidden(
                field,
                format!(
                    "sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"
                ),
            ));
        }
        if !rv_match.is_empty() {
            if !send_initial_events {
                causes.push(FieldCause::forbidden(
                    field,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if rv_match != NOT_OLDER_THAN {
                causes.push(FieldCause::not_supported(
                    field,
                    &rv_match.into(),
                    &[NOT_OLDER_THAN],
                ));
            }
            if has_continue {
                causes.push(FieldCause::forbidden(
                    field,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
    } else {
        if !rv_match.is_empty() {
            if rv.is_empty() {
                causes.push(FieldCause::forbidden(
                    field,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if has_continue {
                causes.push(FieldCause::forbidden(
                    field,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if rv_match != EXACT && rv_match != NOT_OLDER_THAN {
                causes.push(FieldCause::not_supported(
                    field,
                    &rv_match.into(),
                    &[EXACT, NOT_OLDER_THAN, ""],
                ));
            }
            if rv_match == EXACT && rv == "0" {
                causes.push(FieldCause::forbidden(
                    field,
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if send_initial_events {
            causes.push(FieldCause::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_options("ListOptions", causes))
    }
}

/// `dryRun` of a write: whether it asks for a dry run. Only `All` is a dry-run value (others
/// are a 422, as upstream words it).
pub(super) fn dry_run(verb: Verb, raw_query: Option<&str>) -> Result<bool, ApiError> {
    let options_kind = match verb {
        Verb::Create => "CreateOptions",
        Verb::Update => "UpdateOptions",
        Verb::Patch => "PatchOptions",
        Verb::Delete | Verb::DeleteCollection => "DeleteOptions",
        // Reads take no dryRun: upstream ignores it there.
        Verb::Get | Verb::List | Verb::Watch => return Ok(false),
    };
    let values: Vec<String> = form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "dryRun")
        .map(|(_, v)| v.into_owned())
        .collect();
    dry_run_values(options_kind, &values)
}

/// `dryRun` of a `DeleteOptions` body (kubectl sends it there, not in the query).
pub(super) fn body_dry_run(body: Option<&serde_json::Value>) -> Result<bool, ApiError> {
    let values: Vec<String> = match body.map(|b| &b["dryRun"]) {
        None | Some(serde_json::Value::Null) => return Ok(false),
        Some(serde_json::Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid DeleteOptions: dryRun must be a list of strings, not {other}"
            )));
        }
    };
    dry_run_values("DeleteOptions", &values)
}

fn dry_run_values(options_kind: &str, values: &[String]) -> Result<bool, ApiError> {
    if values.iter().any(|v| v != "All") {
        let rendered: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        return Err(ApiError::invalid_options(
            options_kind,
            vec![FieldCause::not_supported_rendered(
                "dryRun",
                format!("[]string{{{}}}", rendered.join(", ")),
                &["All"],
            )],
        ));
    }
    Ok(!values.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(raw: &str, watch: bool) -> Result<(), String> {
        validate_list(&Query::parse(Some(raw)), watch).map_err(|e| {
            assert_eq!((e.code, e.reason), (422, "Invalid"));
            e.message
        })
    }

    #[test]
    fn watch_rules() {
        assert!(list("resourceVersion=5", true).is_ok());
        assert!(
            list(
                "sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
                true
            )
            .is_ok()
        );
        assert_eq!(
            list("resourceVersion=5&resourceVersionMatch=NotOlderThan", true).unwrap_err(),
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        );
        assert_eq!(
            list("sendInitialEvents=true", true).unwrap_err(),
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        );
        assert_eq!(
            list("sendInitialEvents=false&resourceVersionMatch=Exact", true).unwrap_err(),
            "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"]"
        );
    }

    #[test]
    fn list_rules() {
        assert!(list("resourceVersion=5&resourceVersionMatch=Exact", false).is_ok());
        assert!(list("resourceVersion=0&resourceVersionMatch=NotOlderThan", false).is_ok());
        assert!(list("", false).is_ok());
        assert!(
            list("resourceVersionMatch=Exact", false)
                .unwrap_err()
                .contains("resourceVersionMatch is forbidden unless resourceVersion is provided")
        );
        assert!(
            list("resourceVersion=0&resourceVersionMatch=Exact", false)
                .unwrap_err()
                .contains("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
        );
        assert!(
            list("resourceVersion=1&resourceVersionMatch=Newest", false)
                .unwrap_err()
                .contains("Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"")
        );
        assert!(
            list("sendInitialEvents=true", false)
                .unwrap_err()
                .contains("sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        );
    }

    #[test]
    fn dry_run_in_delete_options() {
        use serde_json::json;
        assert!(!body_dry_run(None).unwrap());
        assert!(!body_dry_run(Some(&json!({"gracePeriodSeconds": 0}))).unwrap());
        assert!(!body_dry_run(Some(&json!({"dryRun": []}))).unwrap());
        assert!(body_dry_run(Some(&json!({"dryRun": ["All"]}))).unwrap());
        let bad = body_dry_run(Some(&json!({"dryRun": ["Nope"]}))).unwrap_err();
        assert_eq!(bad.code, 422);
        assert!(bad.message.starts_with("DeleteOptions.meta.k8s.io"));
        assert_eq!(
            body_dry_run(Some(&json!({"dryRun": "All"})))
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn dry_run_query() {
        assert!(!dry_run(Verb::Create, Some("fieldManager=x")).unwrap());
        assert!(!dry_run(Verb::Get, Some("dryRun=bogus")).unwrap());
        assert!(dry_run(Verb::Create, Some("dryRun=All")).unwrap());
        assert!(dry_run(Verb::DeleteCollection, Some("dryRun=All")).unwrap());
        let bad = dry_run(Verb::Patch, Some("dryRun=All&dryRun=Some")).unwrap_err();
        assert_eq!((bad.code, bad.reason), (422, "Invalid"));
        assert_eq!(
            bad.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"All\", \"Some\"}: supported values: \"All\""
        );
    }
}
