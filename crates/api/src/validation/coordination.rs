//! `coordination.k8s.io/v1` Lease.

use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::NameRule;
use super::{Errors, Path, decode_pair};
use crate::status::FieldCause;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::Value;

/// Lease: metadata, positive duration, non-negative transitions.
pub fn validate_lease(new: &Value, old: Option<&Value>) -> Errors {
    let (lease, o) = match decode_pair::<Lease>("Lease", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    match &o {
        Some(o) => errs.extend(validate_object_meta_update(
            &lease.metadata,
            &o.metadata,
            &mp,
        )),
        None => errs.extend(validate_object_meta(
            &lease.metadata,
            true,
            NameRule::Subdomain,
            &mp,
        )),
    }
    let spec = lease.spec.clone().unwrap_or_default();
    if let Some(d) = spec.lease_duration_seconds
        && d <= 0
    {
        errs.push(FieldCause::invalid(
            "spec.leaseDurationSeconds",
            &Value::from(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.lease_transitions
        && t < 0
    {
        errs.push(FieldCause::invalid(
            "spec.leaseTransitions",
            &Value::from(t),
            "must be greater than or equal to 0",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn leases() {
        let ok = json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
        assert_valid(&validate_lease(&ok, None));
        let bad = json!({"metadata": {"name": "n", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        assert_eq!(
            lines(&validate_lease(&bad, None)),
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let mut old = ok.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut renewed = old.clone();
        renewed["spec"]["renewTime"] = json!("2024-01-01T00:00:00.000000Z");
        assert_valid(&validate_lease(&renewed, Some(&old)));
    }
}
