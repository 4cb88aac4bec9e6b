//! The CRD controller inside the apiserver (upstream's naming, establishing and finalizing
//! controllers in one level-triggered loop): every change to a CRD (seen through the registry's
//! watch) or a resync tick triggers a pass that re-reads all CRDs and, for each,
//!
//! - accepts its names unless another CRD of the group (accepted earlier) or a built-in holds
//!   them (`NamesAccepted`), then marks it `Established`, records `acceptedNames` and
//!   `storedVersions`, and serves its versions (the server's [`CrdTable`]);
//! - when it is being deleted with the cleanup finalizer: marks it `Terminating`, deletes every
//!   object of it, and once none is left removes the finalizer (the CRD then goes, and with it
//!   the served resource).
//!
//! Each pass is idempotent: it compares the wanted status with the stored one and writes only
//! differences; a write conflict is left for the next pass.

use super::admit::CLEANUP_FINALIZER;
use super::conditions::{self, Condition};
use super::registry::{CrdTable, versions_of};
use crate::registry::meta::{finalizers, meta_str, name, set_meta};
use crate::registry::{
    DeleteOptions, ListOptions, Registry, WatchItem, WatchOptions, WriteOptions,
};
use futures::StreamExt;
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::ApiError;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How often a pass runs without any CRD change (cleanup retries, missed events).
pub const RESYNC: Duration = Duration::from_secs(1);

fn crd_info() -> &'static ResourceInfo {
    find("apiextensions.k8s.io", "v1", "customresourcedefinitions").expect("CRDs are built in")
}

/// Runs the controller until the task is aborted.
pub fn spawn(registry: Registry) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let table = Arc::clone(registry.crds());
        loop {
            let opts = WatchOptions {
                send_initial_events: Some(false),
                ..Default::default()
            };
            let mut events = registry.watch(crd_info(), None, opts).await.ok();
            loop {
                if let Err(e) = reconcile_all(&registry, &table).await {
                    tracing::debug!(error = %e.message, "CRD pass failed; retrying");
                }
                let Some(stream) = events.as_mut() else {
                    tokio::time::sleep(RESYNC).await;
                    break;
                };
                match tokio::time::timeout(RESYNC, stream.next()).await {
                    Ok(None) | Ok(Some(WatchItem::Error(_))) => break,
                    _ => {}
                }
                // Coalesce a burst of changes into one pass.
                while let Some(Some(item)) = stream.next().now_or_never() {
                    if matches!(item, WatchItem::Error(_)) {
                        break;
                    }
                }
            }
        }
    })
}

use futures::FutureExt;

/// One pass over every CRD (public for tests driving the controller by hand).
pub async fn reconcile_all(registry: &Registry, table: &CrdTable) -> Result<(), ApiError> {
    let mut crds = registry
        .list(crd_info(), None, &ListOptions::default())
        .await?
        .items;
    // Earlier CRDs keep their names when two want the same.
    crds.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                meta_str(o, "creationTimestamp").unwrap_or("").to_string(),
                name(o).to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let now = registry.clock_now();
    let mut done: Vec<Value> = Vec::new();
    let mut keep = Vec::new();
    for crd in crds {
        let crd_name = name(&crd).to_string();
        keep.push(crd_name.clone());
        if meta_str(&crd, "deletionTimestamp").is_some() {
            if conditions::is_true(&crd, "Established") {
                table.set(&crd_name, versions_of(&crd), true);
            }
            finalize(registry, crd.clone(), now).await?;
            done.push(crd);
            continue;
        }
        let others: Vec<&Value> = done.iter().collect();
        let wanted = desired_status(&crd, &others, now);
        let current = if wanted != crd {
            match registry
                .update(
                    crd_info(),
                    None,
                    &crd_name,
                    wanted,
                    Some("status"),
                    WriteOptions::default(),
                )
                .await
            {
                Ok(w) => w.object,
                Err(e) if e.code == 409 || e.code == 404 => crd,
                Err(e) => return Err(e),
            }
        } else {
            crd
        };
        if conditions::is_true(&current, "Established") {
            table.set(&crd_name, versions_of(&current), false);
        }
        done.push(current);
    }
    table.retain(&keep);
    Ok(())
}

/// The CRD with the status its controllers want: names accepted (or the conflict), established
/// once accepted, the storage version recorded as stored.
fn desired_status(crd: &Value, others: &[&Value], now: jiff::Timestamp) -> Value {
    let mut want = crd.clone();
    if !want["status"].is_object() {
        want["status"] = json!({});
    }
    match conditions::name_conflict(crd, others) {
        None => {
            want["status"]["acceptedNames"] = crd["spec"]["names"].clone();
            conditions::set(
                &mut want,
                Condition {
                    kind: "NamesAccepted",
                    status: true,
                    reason: "NoConflicts",
                    message: "no conflicts found".into(),
                },
                now,
            );
            conditions::set(
                &mut want,
                Condition {
                    kind: "Established",
                    status: true,
                    reason: "InitialNamesAccepted",
                    message: "the initial names have been accepted".into(),
                },
                now,
            );
        }
        Some((reason, message)) => {
            if !want["status"]["acceptedNames"].is_object() {
                want["status"]["acceptedNames"] = json!({"plural": "", "kind": ""});
            }
            conditions::set(
                &mut want,
                Condition {
                    kind: "NamesAccepted",
                    status: false,
                    reason,
                    message,
                },
                now,
            );
            if !conditions::is_true(crd, "Established") {
                conditions::set(
                    &mut want,
                    Condition {
                        kind: "Established",
                        status: false,
                        reason: "NotAccepted",
                        message: "not all names are accepted".into(),
                    },
                    now,
                );
            }
        }
    }
    if let Some(storage) = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
    {
        if !want["status"]["storedVersions"].is_array() {
            want["status"]["storedVersions"] = json!([]);
        }
        if let Some(list) = want["status"]["storedVersions"].as_array_mut()
            && !list.contains(&storage)
        {
            list.push(storage);
        }
    }
    want
}

/// A deleted CRD's cleanup: its objects go, then its finalizer.
async fn finalize(registry: &Registry, crd: Value, now: jiff::Timestamp) -> Result<(), ApiError> {
    if !finalizers(&crd).iter().any(|f| f == CLEANUP_FINALIZER) {
        return Ok(());
    }
    let crd_name = name(&crd).to_string();
    let mut marked = crd.clone();
    conditions::set(
        &mut marked,
        Condition {
            kind: "Terminating",
            status: true,
            reason: "InstanceDeletionInProgress",
            message: "CustomResource deletion is in progress".into(),
        },
        now,
    );
    let crd = if marked != crd {
        match registry
            .update(
                crd_info(),
                None,
                &crd_name,
                marked,
                Some("status"),
                WriteOptions::default(),
            )
            .await
        {
            Ok(w) => w.object,
            Err(e) if e.code == 409 || e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        }
    } else {
        crd
    };
    // Every served version shares the one storage place; any of them reaches every object.
    let Some(version) = versions_of(&crd).first().copied() else {
        return remove_finalizer(registry, crd).await;
    };
    let info = &version.info;
    let objects = registry
        .list(info, None, &ListOptions::default())
        .await?
        .items;
    let mut left = 0;
    for obj in &objects {
        let ns = meta_str(obj, "namespace").map(String::from);
        match registry
            .delete(info, ns.as_deref(), name(obj), &DeleteOptions::default())
            .await
        {
            Ok(o) if meta_str(&o, "deletionTimestamp").is_some() => left += 1,
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(_) => left += 1,
        }
    }
    if left > 0 {
        return Ok(());
    }
    remove_finalizer(registry, crd).await
}

async fn remove_finalizer(registry: &Registry, mut crd: Value) -> Result<(), ApiError> {
    let crd_name = name(&crd).to_string();
    let rest: Vec<String> = finalizers(&crd)
        .into_iter()
        .filter(|f| f != CLEANUP_FINALIZER)
        .collect();
    set_meta(
        &mut crd,
        "finalizers",
        (!rest.is_empty()).then(|| json!(rest)),
    );
    match registry
        .update(
            crd_info(),
            None,
            &crd_name,
            crd,
            None,
            WriteOptions::default(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 || e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_names_establish_and_record_the_storage_version() {
        let crd = json!({"metadata": {"name": "ws.g.example.com"},
            "spec": {"group": "g.example.com", "names": {"plural": "ws", "kind": "W", "listKind": "WList", "singular": "w"},
                "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let now = jiff::Timestamp::UNIX_EPOCH;
        let want = desired_status(&crd, &[], now);
        assert!(conditions::is_true(&want, "Established"));
        assert!(conditions::is_true(&want, "NamesAccepted"));
        assert_eq!(want["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(want["status"]["acceptedNames"]["plural"], "ws");
        // A second CRD wanting the same kind in the group is refused.
        let mut other = crd.clone();
        other["spec"]["names"]["plural"] = "others".into();
        let refused = desired_status(&other, &[&want], now);
        assert!(!conditions::is_true(&refused, "NamesAccepted"));
        assert!(!conditions::is_true(&refused, "Established"));
    }
}
