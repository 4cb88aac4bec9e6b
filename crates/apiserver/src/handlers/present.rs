//! Objects leave in the version the request named. The registry answers in the stored version
//! (`rkube_api::resources::storage_version`); JSON goes out converted to the requested one
//! (`rkube_api::convert`), while Tables are printed from the stored form — as upstream prints
//! its internal objects — with any full object a row embeds converted.

use rkube_api::convert;
use rkube_api::resources::{ResourceInfo, is_storage_version, storage_version};
use rkube_api::status::ApiError;
use rkube_api::table::{IncludeObject, Table, to_table};
use serde_json::Value;

/// Whether `view` shows objects exactly as they are stored (its storage version of a
/// built-in kind): their stored JSON can then be sent as it is.
pub(super) fn shows_as_stored(view: &'static ResourceInfo) -> bool {
    crate::crd::custom(view).is_none() && is_storage_version(view)
}

/// A stored object as `view`'s version shows it.
pub(super) fn object(view: &'static ResourceInfo, obj: Value) -> Result<Value, ApiError> {
    if let Some(cv) = crate::crd::custom(view) {
        return Ok(crate::crd::admit::present(cv, obj));
    }
    if is_storage_version(view) {
        return Ok(obj);
    }
    convert::from_storage(view, obj)
        .map_err(|e| ApiError::internal(format!("converting to {}: {e}", view.api_version())))
}

/// The resource whose printer renders `view`'s Tables (its stored version's).
pub(super) fn printer(view: &'static ResourceInfo) -> &'static ResourceInfo {
    storage_version(view)
}

/// The Table of `objects` (stored forms) as `view` prints them: a custom resource's from its
/// CRD's printer columns, a built-in's by its stored version's printer.
pub(super) fn table(
    view: &'static ResourceInfo,
    objects: &[Value],
    now: jiff::Timestamp,
    include: IncludeObject,
) -> Table {
    if let Some(cv) = crate::crd::custom(view) {
        let shown: Vec<Value> = objects
            .iter()
            .map(|o| crate::crd::admit::present(cv, o.clone()))
            .collect();
        return crate::crd::table::table(cv, &shown, now, include);
    }
    let p = printer(view);
    to_table(p.group, p.plural, objects, now, include)
}

/// Converts the full objects a Table's rows embed (`includeObject=Object`) to `view`'s
/// version; embedded metadata is the same in every version.
pub(super) fn table_objects(
    view: &'static ResourceInfo,
    table: &mut Table,
) -> Result<(), ApiError> {
    if is_storage_version(view) {
        return Ok(());
    }
    for row in &mut table.rows {
        if let Some(obj) = row.object.take() {
            let is_metadata = obj["kind"] == "PartialObjectMetadata";
            row.object = Some(if is_metadata { obj } else { object(view, obj)? });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::resources::find;
    use rkube_api::table::{IncludeObject, to_table};
    use serde_json::json;

    #[test]
    fn views_convert_and_print_from_the_stored_form() {
        let view = find("events.k8s.io", "v1", "events").unwrap();
        let stored = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "d", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web"}, "message": "hello", "reason": "R"});
        let shown = object(view, stored.clone()).unwrap();
        assert_eq!(shown["apiVersion"], "events.k8s.io/v1");
        assert_eq!(shown["note"], "hello");
        let p = printer(view);
        assert_eq!((p.group, p.plural), ("", "events"));
        let now = "2024-01-01T00:01:00Z".parse().unwrap();
        let mut table = to_table(
            p.group,
            p.plural,
            std::slice::from_ref(&stored),
            now,
            IncludeObject::Object,
        );
        table_objects(view, &mut table).unwrap();
        assert_eq!(
            table.rows[0].object.as_ref().unwrap()["regarding"]["name"],
            "web"
        );
        assert!(table.rows[0].cells.contains(&json!("hello")));
        // A stored version passes through.
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(object(pods, pod.clone()).unwrap(), pod);
    }
}
