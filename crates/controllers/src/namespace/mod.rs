//! The namespace controller (upstream's namespace lifecycle): a namespace being deleted is
//! emptied of every namespaced object the apiserver's discovery knows of (built-ins and CRDs
//! alike), its progress is reported in `status.conditions`, and once nothing is left its
//! `kubernetes` finalizer is removed through `/finalize`, which lets the apiserver delete it.
//!
//! - [`discover`]: which resource types to empty;
//! - [`content`]: deleting them and tallying what is left;
//! - [`conditions`]: the status conditions describing that.

pub mod conditions;
pub mod content;
pub mod discover;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// First and largest retry delay after a failed pass (upstream's per-item exponential limiter
/// for this controller).
const BACKOFF_BASE: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What went wrong reconciling a namespace (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// Some resource types could not be emptied (details are in the namespace's conditions).
    #[error("{0} resource types could not be emptied")]
    Content(usize),
}

struct State {
    client: Client,
    /// Consecutive failures per namespace, for the retry delay.
    failures: Mutex<HashMap<String, u32>>,
}

impl State {
    fn failed(&self, name: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(name.to_string()).or_default();
        let delay = BACKOFF_BASE.saturating_mul(1u32 << (*n).min(20));
        *n += 1;
        delay.min(BACKOFF_MAX)
    }

    fn succeeded(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(name);
    }
}

/// Runs the controller until the watch ends.
pub async fn run(client: Client) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let state = Arc::new(State {
        client,
        failures: Mutex::new(HashMap::new()),
    });
    Controller::new(namespaces, watcher::Config::default())
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "namespace reconcile failed");
            }
        })
        .await;
}

fn error_policy(ns: Arc<Namespace>, _error: &Error, state: Arc<State>) -> Action {
    Action::requeue(state.failed(&ns.name_any()))
}

/// Level-triggered: re-reads the namespace, deletes what is left in it, reports what remains,
/// and finalizes once nothing does.
async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    let name = ns.name_any();
    if ns.metadata.deletion_timestamp.is_none() || !has_finalizer(&ns) {
        state.succeeded(&name);
        return Ok(Action::await_change());
    }
    let client = &state.client;
    let types = match discover::deletable(client).await {
        Ok(types) => types,
        Err(e) => {
            report(client, &ns, &[conditions::discovery_failed(&e)]).await?;
            return Err(e.into());
        }
    };
    let remaining = content::delete_all(client, &name, &types).await;
    let latest = report(client, &ns, &conditions::from_remaining(&remaining)).await?;
    if !remaining.failures.is_empty() {
        return Err(Error::Content(remaining.failures.len()));
    }
    state.succeeded(&name);
    if !remaining.is_empty() {
        // Upstream waits about half the estimated time before looking again.
        let wait = Duration::from_secs((remaining.estimate / 2 + 1).unsigned_abs());
        tracing::info!(namespace = %name, ?remaining.resources, "waiting for the namespace's content to go");
        return Ok(Action::requeue(wait));
    }
    finalize(client, latest.as_ref().unwrap_or(&ns)).await?;
    tracing::info!(namespace = %name, "namespace emptied and finalized");
    Ok(Action::await_change())
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// Writes the conditions for `failing` when they differ from the namespace's; returns the
/// namespace as written, if it was.
async fn report(
    client: &Client,
    ns: &Namespace,
    failing: &[conditions::Failing],
) -> Result<Option<Namespace>, kube::Error> {
    let mut current = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if !conditions::update(&mut current, failing, Time(jiff::Timestamp::now())) {
        return Ok(None);
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = json!({"status": {"conditions": current}});
    match api
        .patch_status(
            &ns.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        // Gone meanwhile: nothing left to report on.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        other => other.map(Some),
    }
}

/// Removes this controller's finalizer through `/finalize`.
async fn finalize(client: &Client, ns: &Namespace) -> Result<(), kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut finalized = ns.clone();
    if let Some(f) = finalized.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        f.retain(|x| x != FINALIZER);
    }
    match api
        .replace_subresource(
            "finalize",
            &ns.name_any(),
            &PostParams::default(),
            &finalized,
        )
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}
