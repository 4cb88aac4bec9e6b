//! API errors as upstream reports them: a `metav1.Status` with a code, a reason, a message and,
//! for validation, field causes. Messages follow upstream's wording, which clients match on.

use crate::resources::ResourceInfo;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

/// One field-level problem, as in a 422 `Invalid` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    /// Upstream's cause type, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: &'static str,
    /// The field path, e.g. `spec.containers[0].name`.
    pub field: String,
    /// What is wrong, e.g. `Required value`.
    pub message: String,
}

impl FieldCause {
    /// `Required value` for `field`.
    pub fn required(field: impl Into<String>) -> FieldCause {
        FieldCause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }

    /// `Invalid value: <value>: <detail>` for `field`.
    pub fn invalid(
        field: impl Into<String>,
        value: &serde_json::Value,
        detail: impl std::fmt::Display,
    ) -> FieldCause {
        FieldCause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {}: {detail}", render_value(value)),
        }
    }

    /// `Unsupported value: <value>: supported values: "a", "b"` for `field`.
    pub fn not_supported(
        field: impl Into<String>,
        value: &serde_json::Value,
        supported: &[&str],
    ) -> FieldCause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldCause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                render_value(value),
                list.join(", ")
            ),
        }
    }

    /// `Duplicate value: <value>` for `field`.
    pub fn duplicate(field: impl Into<String>, value: &serde_json::Value) -> FieldCause {
        FieldCause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {}", render_value(value)),
        }
    }

    /// `Forbidden: <detail>` for `field`.
    pub fn forbidden(field: impl Into<String>, detail: impl std::fmt::Display) -> FieldCause {
        FieldCause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    /// `Required value: <detail>` for `field` (plain `Required value` when `detail` is empty).
    pub fn required_detail(field: impl Into<String>, detail: impl std::fmt::Display) -> FieldCause {
        let detail = detail.to_string();
        FieldCause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: if detail.is_empty() {
                "Required value".into()
            } else {
                format!("Required value: {detail}")
            },
        }
    }

    /// `Invalid value: <rendered>: <detail>`, with the value already rendered the way upstream
    /// prints it (e.g. Go's `map[string]string{"app":"x"}`).
    pub fn invalid_rendered(
        field: impl Into<String>,
        rendered: impl std::fmt::Display,
        detail: impl std::fmt::Display,
    ) -> FieldCause {
        FieldCause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {rendered}: {detail}"),
        }
    }

    /// `Unsupported value: <rendered>: supported values: ...`, with the value already rendered.
    pub fn not_supported_rendered(
        field: impl Into<String>,
        rendered: impl std::fmt::Display,
        supported: &[&str],
    ) -> FieldCause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldCause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {rendered}: supported values: {}",
                list.join(", ")
            ),
        }
    }

    /// `Duplicate value: <rendered>`, with the value already rendered.
    pub fn duplicate_rendered(
        field: impl Into<String>,
        rendered: impl std::fmt::Display,
    ) -> FieldCause {
        FieldCause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {rendered}"),
        }
    }

    /// `Not found: <value>` for `field` (a reference to something that does not exist).
    pub fn not_found(field: impl Into<String>, value: &serde_json::Value) -> FieldCause {
        FieldCause {
            reason: "FieldValueNotFound",
            field: field.into(),
            message: format!("Not found: {}", render_value(value)),
        }
    }

    /// `Too long: may not be more than <max> bytes` for `field`.
    pub fn too_long(field: impl Into<String>, max: usize) -> FieldCause {
        let unit = if max == 1 { "byte" } else { "bytes" };
        FieldCause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max} {unit}"),
        }
    }

    /// `Too many: <actual>: must have at most <max> items` for `field`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> FieldCause {
        let unit = if max == 1 { "item" } else { "items" };
        FieldCause {
            reason: "FieldValueTooMany",
            field: field.into(),
            message: format!("Too many: {actual}: must have at most {max} {unit}"),
        }
    }

    /// `field: message`, as causes appear joined in the error message.
    pub fn to_message(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// Values print as upstream prints them in messages: strings quoted, others as JSON.
fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// An API request's failure.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Upstream's `StatusReason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The object concerned, when there is one (boxed: errors travel in `Result`s).
    pub details: Option<Box<ErrorDetails>>,
}

/// Which object an error concerns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorDetails {
    /// Object name.
    pub name: String,
    /// API group.
    pub group: String,
    /// The resource (or, for `Invalid`, the kind).
    pub kind: String,
    /// Field causes.
    pub causes: Vec<FieldCause>,
    /// Seconds to wait before retrying, for 429/503/504.
    pub retry_after_seconds: Option<i32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

fn object_details(info: &ResourceInfo, name: &str) -> Option<Box<ErrorDetails>> {
    Some(Box::new(ErrorDetails {
        name: name.to_string(),
        group: info.group.to_string(),
        kind: info.plural.to_string(),
        ..Default::default()
    }))
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404: `pods "x" not found`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
        ApiError {
            details: object_details(info, name),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", info.qualified_plural()),
            )
        }
    }

    /// 404 for a path that names no resource: `the server could not find the requested resource`.
    pub fn no_route() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409: `pods "x" already exists`.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> ApiError {
        ApiError {
            details: object_details(info, name),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", info.qualified_plural()),
            )
        }
    }

    /// 409: the optimistic-concurrency failure.
    pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> ApiError {
        ApiError {
            details: object_details(info, name),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    info.qualified_plural()
                ),
            )
        }
    }

    /// The usual conflict reason: the object changed since it was read.
    pub const MODIFIED: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422: `Pod "x" is invalid: <causes>` (the kind group-qualified as upstream's
    /// `GroupKind.String()`: `Deployment.apps "x" is invalid`).
    pub fn invalid(info: &ResourceInfo, name: &str, causes: Vec<FieldCause>) -> ApiError {
        let joined: Vec<String> = causes.iter().map(FieldCause::to_message).collect();
        let kind = if info.group.is_empty() {
            info.kind.to_string()
        } else {
            format!("{}.{}", info.kind, info.group)
        };
        let message = match joined.len() {
            0 => format!("{kind} \"{name}\" is invalid"),
            1 => format!("{kind} \"{name}\" is invalid: {}", joined[0]),
            _ => format!("{kind} \"{name}\" is invalid: [{}]", joined.join(", ")),
        };
        ApiError {
            details: Some(Box::new(ErrorDetails {
                name: name.to_string(),
                group: info.group.to_string(),
                kind: info.kind.to_string(),
                causes,
                retry_after_seconds: None,
            })),
            ..ApiError::new(422, "Invalid", message)
        }
    }

    /// 422 for a request's options (`ListOptions`, `CreateOptions`…, group `meta.k8s.io`),
    /// checked before any work: `ListOptions.meta.k8s.io "" is invalid: <causes>`.
    pub fn invalid_options(kind: &str, causes: Vec<FieldCause>) -> ApiError {
        let joined: Vec<String> = causes.iter().map(FieldCause::to_message).collect();
        let list = match joined.len() {
            1 => joined[0].clone(),
            _ => format!("[{}]", joined.join(", ")),
        };
        ApiError {
            details: Some(Box::new(ErrorDetails {
                name: String::new(),
                group: "meta.k8s.io".into(),
                kind: kind.to_string(),
                causes,
                retry_after_seconds: None,
            })),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{kind}.meta.k8s.io \"\" is invalid: {list}"),
            )
        }
    }

    /// 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 403 `Forbidden` with upstream's wording for a namespace being deleted, etc.
    pub fn forbidden(info: &ResourceInfo, name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError {
            details: object_details(info, name),
            ..ApiError::new(
                403,
                "Forbidden",
                format!("{} \"{name}\" is forbidden: {why}", info.qualified_plural()),
            )
        }
    }

    /// 405 `MethodNotAllowed`.
    pub fn method_not_allowed(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource{what}"),
        )
    }

    /// 406 `NotAcceptable`.
    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message)
    }

    /// 410 `Expired`: a watch or list continuation from a compacted revision.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// 413 `RequestEntityTooLarge`.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 `UnsupportedMediaType`.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"
            ),
        )
    }

    /// 500 `InternalError`.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// 503 `ServiceUnavailable`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// 504 `Timeout`.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(504, "Timeout", message)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Status {
        Status {
            status: Some("Failure".into()),
            message: Some(self.message.clone()),
            reason: Some(self.reason.into()),
            code: Some(i32::from(self.code)),
            details: self.details.as_ref().map(|d| StatusDetails {
                name: (!d.name.is_empty()).then(|| d.name.clone()),
                group: (!d.group.is_empty()).then(|| d.group.clone()),
                kind: (!d.kind.is_empty()).then(|| d.kind.clone()),
                causes: (!d.causes.is_empty()).then(|| {
                    d.causes
                        .iter()
                        .map(|c| StatusCause {
                            reason: Some(c.reason.into()),
                            message: Some(c.message.clone()),
                            field: Some(c.field.clone()),
                        })
                        .collect()
                }),
                retry_after_seconds: d.retry_after_seconds,
                uid: None,
            }),
            metadata: Default::default(),
        }
    }

    /// The body as JSON, with `kind` and `apiVersion` as upstream sends them.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self.to_status()).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("kind".into(), "Status".into());
            map.insert("apiVersion".into(), "v1".into());
            map.entry("metadata")
                .or_insert_with(|| serde_json::json!({}));
        }
        v
    }
}

/// A `Status` of success, as DELETE of some resources returns.
pub fn success_status(details: Option<(&ResourceInfo, &str, &str)>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
    });
    if let Some((info, name, uid)) = details {
        v["details"] = serde_json::json!({
            "name": name, "group": info.group, "kind": info.plural, "uid": uid,
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn not_found_matches_upstream() {
        let pods = find("", "v1", "pods").unwrap();
        let e = ApiError::not_found(pods, "web");
        assert_eq!(
            e.to_json(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"pods \"web\" not found","reason":"NotFound",
                   "details":{"name":"web","kind":"pods"},"code":404})
        );
        let deploy = find("apps", "v1", "deployments").unwrap();
        assert_eq!(
            ApiError::not_found(deploy, "d").message,
            "deployments.apps \"d\" not found"
        );
    }

    #[test]
    fn invalid_joins_causes_like_upstream() {
        let pods = find("", "v1", "pods").unwrap();
        let one = ApiError::invalid(pods, "x", vec![FieldCause::required("spec.containers")]);
        assert_eq!(
            one.message,
            "Pod \"x\" is invalid: spec.containers: Required value"
        );
        let two = ApiError::invalid(
            pods,
            "x",
            vec![
                FieldCause::required("spec.containers"),
                FieldCause::invalid("metadata.name", &json!("X"), "must be lower case"),
            ],
        );
        assert_eq!(
            two.message,
            "Pod \"x\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"X\": must be lower case]"
        );
        let status = two.to_json();
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["kind"], "Pod");
        assert_eq!(status["details"]["causes"][1]["field"], "metadata.name");
        assert_eq!(
            status["details"]["causes"][1]["reason"],
            "FieldValueInvalid"
        );
    }
}
