//! Requests upstream refuses on custom resources before any work: strategic merge patches and
//! protobuf bodies (custom resources speak JSON), and new objects while their CRD is being
//! deleted.

use super::registry::CustomVersion;
use rkube_api::status::ApiError;

/// What upstream refuses on custom resources before any work: strategic merge patches and
/// protobuf bodies (CRs speak JSON only), and new objects while their CRD is being deleted.
pub fn check_request(
    table: &super::CrdTable,
    cv: &CustomVersion,
    verb: crate::request::Verb,
    headers: &http::HeaderMap,
) -> Result<(), ApiError> {
    use crate::request::Verb;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let unsupported = |accepted: &str| ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!(
            "the body of the request was in an unknown format - accepted media types include: {accepted}"
        ),
        details: None,
    };
    match verb {
        Verb::Patch if content_type == "application/strategic-merge-patch+json" => {
            return Err(unsupported(
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        Verb::Create | Verb::Update if content_type == "application/vnd.kubernetes.protobuf" => {
            return Err(unsupported("application/json, application/yaml"));
        }
        Verb::Create if table.terminating(&cv.crd_name) => {
            // Upstream's NewMethodNotSupported for a terminating CRD's resource.
            return Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!(
                    "create is not supported on resources of kind {:?}",
                    cv.info.qualified_plural()
                ),
                details: None,
            });
        }
        _ => {}
    }
    Ok(())
}
