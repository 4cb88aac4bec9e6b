//! `managedFields` on the registry's writes: the field manager of the request in progress
//! (carried in a task-local, as upstream carries it in the request context) and the hooks
//! the create and update paths call to record its `Update` entry. A server-side apply
//! computes its entries itself (`handlers::apply`) and marks the write so the hooks keep them.

use rkube_api::apply::{ManagedFields, Write, record_update};
use rkube_api::patch::schema;
use rkube_api::resources::ResourceInfo;
use serde_json::Value;
use std::future::Future;

/// Who writes, for the writes of one request.
#[derive(Clone, Debug)]
pub struct Context {
    /// The field manager (`?fieldManager=`, else from the User-Agent).
    pub manager: String,
    /// `?fieldManager=` as given.
    pub field_manager: Option<String>,
    /// `?force=` as given (only apply may set it).
    pub force: Option<String>,
    /// For a server-side apply: the `managedFields` it computed, which a create stores as
    /// they are and an update keeps (the hooks record nothing then).
    pub applied: Option<Value>,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// The manager of writes made by the apiserver itself (bootstrap objects, repairs).
pub const APISERVER: &str = "kube-apiserver";

/// Runs `fut` with `context` as the writer of its registry writes.
pub async fn scope<F: Future>(context: Context, fut: F) -> F::Output {
    CONTEXT.scope(context, fut).await
}

/// The context of the request in progress, if any.
pub fn current() -> Option<Context> {
    CONTEXT.try_with(Context::clone).ok()
}

/// Now, as `managedFields` times are written.
pub fn now_seconds() -> String {
    seconds(jiff::Timestamp::now())
}

/// Upstream's default manager: the User-Agent up to its first `/`, without unprintable
/// characters, at most 128 bytes.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// RFC 3339 to the second, truncated (as upstream serializes `metav1.Time`).
fn seconds(now: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn with_write<R>(
    info: &ResourceInfo,
    stored: &ResourceInfo,
    subresource: &str,
    now: jiff::Timestamp,
    f: impl FnOnce(&Write, Option<&Value>) -> R,
) -> R {
    let definition = schema::definition_of(stored.group, stored.version, stored.kind);
    let api_version = info.api_version();
    let time = seconds(now);
    let run = |manager: &str, applied: Option<&Value>| {
        f(
            &Write {
                manager,
                api_version: &api_version,
                subresource,
                time: &time,
                definition: definition.as_deref(),
                has_status: stored.has_subresource("status"),
            },
            applied,
        )
    };
    match CONTEXT.try_with(|c| (c.manager.clone(), c.applied.clone())) {
        Ok((manager, applied)) => run(&manager, applied.as_ref()),
        Err(_) => run(APISERVER, None),
    }
}

/// Records the creator of `obj` (in the stored version `stored`, requested as `info`).
pub fn on_create(
    info: &ResourceInfo,
    stored: &ResourceInfo,
    obj: &mut Value,
    now: jiff::Timestamp,
) {
    with_write(info, stored, "", now, |w, applied| {
        if let Some(entries) = applied {
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("managedFields".into(), entries.clone());
            }
            return;
        }
        let mut managed = ManagedFields::default();
        managed.update(None, obj, w);
        managed.write_to(obj);
    });
}

/// Records the update from `old` to `new` (through `subresource`), starting from the
/// entries upstream's rules pick (see `ManagedFields::for_update`); only the entries the
/// update touches are decoded (`record_update`).
pub fn on_update(
    info: &ResourceInfo,
    stored: &ResourceInfo,
    subresource: Option<&str>,
    new: &mut Value,
    old: &Value,
    now: jiff::Timestamp,
) {
    let subresource = subresource.unwrap_or("");
    with_write(info, stored, subresource, now, |w, applied| {
        if let Some(entries) = applied {
            // The apply's own entries (a status write would otherwise keep the stored ones).
            if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("managedFields".into(), entries.clone());
            }
            return;
        }
        record_update(old, new, w);
    });
}
