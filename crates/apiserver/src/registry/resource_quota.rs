//! Upstream's `ResourceQuota` admission plugin, for creates: every quota of the namespace
//! whose scopes select the new object must have room for what it uses (compute resources,
//! object counts), else the create is refused with 403 naming the quota, the request, the use
//! and the limit; a quota limiting cpu or memory requires pods to state them per container.
//! Admitted usage is charged to the quotas' `status.used` in the same request (a
//! compare-and-swap on each quota, retried on conflicts), as upstream does; the quota
//! controller later recomputes it from the objects (which also returns deleted objects' use).
//! A dry run is checked against the quotas but charges nothing.
//!
//! Upstream refuses objects while a quota's status is not yet computed ("status unknown");
//! here the admission computes it from the store instead, so quotas work at once.

use std::cmp::Ordering;

use rkube_api::quota::{
    Usage, add_into, mask, missing_compute, object_usage, parse_list, pretty, resource_for,
    resource_info, scopes_match, to_json, usage_of, with_zeros,
};
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::ApiError;
use serde_json::Value;

use super::meta::meta_str;
use super::{ListOptions, Registry, WriteOptions};

/// How often a quota update that lost a race is retried.
const ATTEMPTS: usize = 5;

impl Registry {
    /// What the objects of the namespace use of `quota`: its `status.used` when the status
    /// covers every hard limit, else computed from the store.
    async fn quota_used(&self, quota: &Value, ns: &str) -> Result<Usage, ApiError> {
        let hard = parse_list(&quota["spec"]["hard"]);
        let status_hard = parse_list(&quota["status"]["hard"]);
        let used = parse_list(&quota["status"]["used"]);
        if hard
            .keys()
            .all(|k| status_hard.contains_key(k) && used.contains_key(k))
        {
            return Ok(used);
        }
        let mut kinds: Vec<(String, String)> =
            hard.keys().filter_map(|k| resource_for(k)).collect();
        kinds.sort();
        kinds.dedup();
        let mut total = Usage::new();
        for (group, plural) in kinds {
            let Some(info) = resource_info(&group, &plural).filter(|i| i.namespaced) else {
                continue;
            };
            let items = self
                .list(info, Some(ns), &ListOptions::default())
                .await?
                .items;
            add_into(&mut total, &usage_of(quota, &group, &plural, &items));
        }
        Ok(with_zeros(&total, &hard))
    }

    /// ResourceQuota admission of the new object `obj` of `stored` (after validation, as
    /// upstream's validating admission); `info` and `shown_name` name it in errors.
    pub(super) async fn admit_quota(
        &self,
        info: &ResourceInfo,
        stored: &ResourceInfo,
        obj: &Value,
        shown_name: &str,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        if !stored.namespaced {
            return Ok(());
        }
        let Some(ns) = meta_str(obj, "namespace").map(String::from) else {
            return Ok(());
        };
        let quotas_info = find("", "v1", "resourcequotas").expect("resourcequotas are built in");
        let is_pod = stored.group.is_empty() && stored.kind == "Pod";
        let usage = object_usage(stored.group, stored.plural, obj);
        for _ in 0..ATTEMPTS {
            let quotas = self.list_current(quotas_info, Some(&ns)).await?;
            let mut charges = Vec::new();
            for quota in &quotas {
                if !scopes_match(quota, stored.group, stored.plural, obj) {
                    continue;
                }
                let name = meta_str(quota, "name").unwrap_or("").to_string();
                let hard = parse_list(&quota["spec"]["hard"]);
                if is_pod && let Some(missing) = missing_compute(&hard, obj) {
                    return Err(ApiError::forbidden(
                        info,
                        shown_name,
                        format!("failed quota: {name}: must specify {missing}"),
                    ));
                }
                let delta = mask(&usage, &hard);
                if delta.is_empty() {
                    continue;
                }
                let used = self.quota_used(quota, &ns).await?;
                let mut next = used.clone();
                add_into(&mut next, &delta);
                let exceeded: Usage = delta
                    .keys()
                    .filter(|k| match (next.get(*k), hard.get(*k)) {
                        (Some(n), Some(h)) => n.cmp_value(h) == Ordering::Greater,
                        _ => false,
                    })
                    .map(|k| (k.clone(), delta[k]))
                    .collect();
                if !exceeded.is_empty() {
                    return Err(ApiError::forbidden(
                        info,
                        shown_name,
                        format!(
                            "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                            pretty(&exceeded),
                            pretty(&mask(&with_zeros(&used, &hard), &exceeded)),
                            pretty(&mask(&hard, &exceeded)),
                        ),
                    ));
                }
                let mut charged = Value::clone(quota);
                charged["status"] = serde_json::json!({
                    "hard": quota["spec"]["hard"].clone(),
                    "used": to_json(&with_zeros(&next, &hard)),
                });
                charges.push((name, charged));
            }
            if dry_run {
                return Ok(());
            }
            let mut raced = false;
            for (name, charged) in charges {
                match self
                    .update_stored(
                        quotas_info,
                        Some(&ns),
                        &name,
                        charged,
                        Some("status"),
                        WriteOptions::default(),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code == 409 => {
                        raced = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !raced {
                return Ok(());
            }
        }
        Err(ApiError::internal(format!(
            "resource quota evaluation timed out for {shown_name}"
        )))
    }
}
