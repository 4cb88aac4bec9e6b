//! Creating and deleting a controller's pods, as upstream's `RealPodControl`: a pod is built
//! from the owner's PodTemplateSpec (labels, annotations, finalizers and spec copied; name
//! generated from `<owner>-`; the owner as controller reference), and each create or delete is
//! reported on the owner with upstream's events (`SuccessfulCreate` "Created pod: x",
//! `FailedCreate` "Error creating: …", `SuccessfulDelete` "Deleted pod: x", `FailedDelete`
//! "Error deleting: …").
//!
//! Also upstream's `slowStartBatch` ([`slow_start_batch`]): calls in batches of 1, 2, 4, …,
//! stopping at the first batch with an error, so a failing create (quota, admission) is tried a
//! few times rather than hundreds.

use std::future::Future;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use rkube_component::events::EventSink;

/// Upstream's event reasons.
pub mod reasons {
    /// A pod was created.
    pub const SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
    /// A pod could not be created.
    pub const FAILED_CREATE: &str = "FailedCreate";
    /// A pod was deleted.
    pub const SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
    /// A pod could not be deleted.
    pub const FAILED_DELETE: &str = "FailedDelete";
}

/// Upstream's `initialBatchSize` for slow-start creates.
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// Why a pod could not be created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum PodControlError {
    /// The template has no labels: the pod could never be matched back to its owner.
    #[error("unable to create pods, no labels")]
    NoLabels,
    /// The apiserver refused (its Status message).
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
}

impl PodControlError {
    /// Whether the apiserver answered 404 (the pod is already gone).
    pub fn is_not_found(&self) -> bool {
        matches!(self, PodControlError::Api(kube::Error::Api(s)) if s.code == 404)
    }

    /// Whether the namespace is being deleted (creates there fail, and upstream stays silent).
    pub fn is_namespace_terminating(&self) -> bool {
        matches!(self, PodControlError::Api(kube::Error::Api(s))
            if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")))
    }
}

/// The Status message of an API error, else the error itself.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        other => other.to_string(),
    }
}

/// A reference to `owner` for its events.
pub fn object_ref<K: Resource<DynamicType = ()>>(owner: &K) -> ObjectReference {
    owner.object_ref(&())
}

/// `owner` as the controller reference of its pods (controller and blockOwnerDeletion set).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The pod upstream's `GetPodFromTemplate` builds: the template's labels, annotations,
/// finalizers and spec, `generateName` `<owner>-` (or `generate_name`), and `controller_ref`.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    controller_ref: Option<OwnerReference>,
    generate_name: Option<String>,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let prefix =
        generate_name.unwrap_or_else(|| pods_prefix(&controller_ref_name(&controller_ref)));
    Pod {
        metadata: ObjectMeta {
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            generate_name: Some(prefix),
            owner_references: controller_ref.map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

fn controller_ref_name(r: &Option<OwnerReference>) -> String {
    r.as_ref().map(|r| r.name.clone()).unwrap_or_default()
}

/// `<name>-`, unless that is too long for a name prefix (then `<name>`), as upstream.
fn pods_prefix(name: &str) -> String {
    if name.len() < 253 {
        format!("{name}-")
    } else {
        name.into()
    }
}

/// Creates and deletes pods for one controller, recording events on their owner.
#[derive(Clone)]
pub struct PodControl {
    client: Client,
    events: EventSink,
}

impl PodControl {
    /// Pod control on `client`, recording with `events` (the controller's recorder).
    pub fn new(client: Client, events: EventSink) -> PodControl {
        PodControl { client, events }
    }

    /// The recorder events go to.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Creates a pod from `template` in `namespace` for `owner` (controller reference
    /// `controller_ref`), with `generate_name` or `<owner>-`.
    pub async fn create(
        &self,
        namespace: &str,
        template: &PodTemplateSpec,
        owner: &ObjectReference,
        controller_ref: OwnerReference,
        generate_name: Option<String>,
    ) -> Result<Pod, PodControlError> {
        let pod = pod_from_template(template, Some(controller_ref), generate_name);
        self.create_pod(namespace, pod, owner).await
    }

    /// Creates `pod` (already built) for `owner`, recording the outcome.
    pub async fn create_pod(
        &self,
        namespace: &str,
        pod: Pod,
        owner: &ObjectReference,
    ) -> Result<Pod, PodControlError> {
        if pod.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            return Err(PodControlError::NoLabels);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                tracing::debug!(pod = %created.name_any(), owner = ?owner.name, "created pod");
                self.events.record(
                    owner.clone(),
                    false,
                    reasons::SUCCESSFUL_CREATE,
                    "Create",
                    format!("Created pod: {}", created.name_any()),
                );
                Ok(created)
            }
            Err(e) => {
                let e = PodControlError::Api(e);
                if !e.is_namespace_terminating() {
                    self.events.record(
                        owner.clone(),
                        true,
                        reasons::FAILED_CREATE,
                        "Create",
                        format!("Error creating: {e}"),
                    );
                }
                Err(e)
            }
        }
    }

    /// Deletes pod `name` in `namespace` for `owner`, recording the outcome (a pod already gone
    /// is an error that is not recorded: [`PodControlError::is_not_found`]).
    pub async fn delete(
        &self,
        namespace: &str,
        name: &str,
        owner: &ObjectReference,
    ) -> Result<(), PodControlError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                self.events.record(
                    owner.clone(),
                    false,
                    reasons::SUCCESSFUL_DELETE,
                    "Delete",
                    format!("Deleted pod: {name}"),
                );
                Ok(())
            }
            Err(e) => {
                let e = PodControlError::Api(e);
                if !e.is_not_found() {
                    self.events.record(
                        owner.clone(),
                        true,
                        reasons::FAILED_DELETE,
                        "Delete",
                        format!("Error deleting: {e}"),
                    );
                }
                Err(e)
            }
        }
    }
}

/// Calls `f(i)` for `i` in `0..count` in batches of `initial`, then twice the last size, …,
/// each batch concurrently; stops after the first batch with an error. The number of successful
/// calls, and the first error if any.
pub async fn slow_start_batch<T, E, F, Fut>(
    count: usize,
    initial: usize,
    f: F,
) -> (usize, Option<E>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial.max(1));
    let mut next = 0;
    while batch > 0 {
        let results = futures::future::join_all((next..next + batch).map(&f)).await;
        next += batch;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(_) => successes += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            return (successes, first_error);
        }
        remaining -= batch;
        batch = remaining.min(2 * batch);
    }
    (successes, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn batches_double_until_done() {
        let sizes = Mutex::new(Vec::new());
        let (ok, err) = slow_start_batch(10, 1, |i| {
            sizes.lock().unwrap().push(i);
            async move { Ok::<_, ()>(i) }
        })
        .await;
        assert_eq!((ok, err), (10, None));
        assert_eq!(sizes.into_inner().unwrap(), (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failing_batch_stops_the_rest() {
        let calls = Mutex::new(0);
        // Batches 1, 2, 4: the call with index 4 (third batch) fails; 8 more are never tried.
        let (ok, err) = slow_start_batch(15, 1, |i| {
            *calls.lock().unwrap() += 1;
            async move { if i == 4 { Err("quota") } else { Ok(()) } }
        })
        .await;
        assert_eq!(err, Some("quota"));
        assert_eq!(*calls.lock().unwrap(), 7, "1 + 2 + 4 calls");
        assert_eq!(ok, 6);
    }

    #[test]
    fn a_pod_from_a_template_carries_its_metadata_and_owner() {
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}, "name": "ignored"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}
        }))
        .unwrap();
        let owner = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let pod = pod_from_template(&template, Some(owner.clone()), None);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.labels.unwrap()["app"], "web");
        assert_eq!(pod.metadata.annotations.unwrap()["a"], "b");
        assert_eq!(pod.metadata.owner_references, Some(vec![owner]));
        assert_eq!(pod.spec.unwrap().containers[0].name, "c");
    }
}
