//! Writes through a version other than the one a resource is stored in (`events.k8s.io/v1`
//! Events, `autoscaling/v1` HorizontalPodAutoscalers; see `rkube_api::convert`): the body is
//! decoded as the requested version's type (unknown fields per `fieldValidation`) and
//! converted to the stored version before the generic path runs. For a resource in its
//! stored version it passes through untouched.

use super::{FieldValidation, normalize, set_type_meta};
use rkube_api::convert;
use rkube_api::resources::{ResourceInfo, is_storage_version};
use rkube_api::status::ApiError;
use serde_json::Value;

/// A request body in `view`'s version, in the stored version, with unknown-field warnings.
pub(super) fn incoming(
    view: &'static ResourceInfo,
    mut obj: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    if is_storage_version(view) {
        return Ok((obj, Vec::new()));
    }
    set_type_meta(view, &mut obj)?;
    let (obj, warnings) = normalize(view, obj, validation)?;
    let stored = convert::to_storage(view, obj).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            view.kind, view.version, view.kind
        ))
    })?;
    Ok((stored, warnings))
}
