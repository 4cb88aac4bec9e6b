//! Writing a StatefulSet's pods and claims, as upstream's `StatefulPodControl`: claims are
//! created before their pod, pods are created, updated (identity, storage) and deleted by
//! name, claims' ownerReferences follow the retention policy, and every write is reported on
//! the set with upstream's events (`SuccessfulCreate` "create Pod web-0 in StatefulSet web
//! successful", "create Claim data-web-0 Pod web-0 in StatefulSet web success",
//! `FailedCreate` "… failed error: …", and the same for update and delete).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use rkube_component::events::EventSink;

use super::Error;
use super::identity::{
    claims, identity_matches, ordinal, storage_matches, update_identity, update_storage,
};
use super::retention::{has_unexpected_controller, policy, up_to_date, wanted_refs};
use crate::pod_control::{api_message, object_ref};

/// Pod and claim writes for the StatefulSet controller.
#[derive(Clone)]
pub struct StatefulPodControl {
    /// The apiserver client.
    pub client: Client,
    /// Claims' cache.
    pub claims: Store<PersistentVolumeClaim>,
    /// The controller's recorder.
    pub events: EventSink,
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

fn title(verb: &str) -> String {
    let mut c = verb.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

impl StatefulPodControl {
    fn record_pod(&self, verb: &str, set: &StatefulSet, pod: &str, err: Option<&str>) {
        let (warning, reason, note) = match err {
            None => (
                false,
                format!("Successful{}", title(verb)),
                format!(
                    "{verb} Pod {pod} in StatefulSet {} successful",
                    set.name_any()
                ),
            ),
            Some(e) => (
                true,
                format!("Failed{}", title(verb)),
                format!(
                    "{verb} Pod {pod} in StatefulSet {} failed error: {e}",
                    set.name_any()
                ),
            ),
        };
        self.events
            .record(object_ref(set), warning, &reason, &title(verb), note);
    }

    fn record_claim(&self, set: &StatefulSet, pod: &str, claim: &str, err: Option<&str>) {
        let set_name = set.name_any();
        let (warning, reason, note) = match err {
            None => (
                false,
                "SuccessfulCreate",
                format!("create Claim {claim} Pod {pod} in StatefulSet {set_name} success"),
            ),
            Some(e) => (
                true,
                "FailedCreate",
                format!(
                    "create Claim {claim} for Pod {pod} in StatefulSet {set_name} failed error: {e}"
                ),
            ),
        };
        self.events
            .record(object_ref(set), warning, reason, "Create", note);
    }

    fn claim(&self, ns: &str, name: &str) -> Option<std::sync::Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(ns))
    }

    /// Creates the pod's missing claims (upstream's `createPersistentVolumeClaims`); a claim
    /// being deleted is an error (the pod must wait for a fresh one).
    pub async fn create_claims(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let Some(ord) = ordinal(pod) else {
            return Ok(());
        };
        let ns = set.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let mut first_error = None;
        for (_, claim) in claims(set, ord) {
            let name = claim.name_any();
            match self.claim(&ns, &name) {
                Some(c) if c.metadata.deletion_timestamp.is_some() => {
                    first_error
                        .get_or_insert(Error::Storage(format!("pvc {name} is being deleted")));
                }
                Some(_) => {}
                None => match api.create(&PostParams::default(), &claim).await {
                    Ok(_) => self.record_claim(set, &pod.name_any(), &name, None),
                    // The cache is behind: it exists.
                    Err(e) if is_code(&e, 409) => {}
                    Err(e) => {
                        let msg = format!("failed to create PVC {name}: {}", api_message(&e));
                        self.record_claim(set, &pod.name_any(), &name, Some(&api_message(&e)));
                        first_error.get_or_insert(Error::Storage(msg));
                    }
                },
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Creates `pod` after its claims, then sets the claims' owners (upstream's
    /// `CreateStatefulPod`). A pod that already exists (stale cache) is not an error.
    pub async fn create(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let name = pod.name_any();
        if let Err(e) = self.create_claims(set, pod).await {
            self.record_pod("create", set, &name, Some(&e.to_string()));
            return Err(e);
        }
        let ns = set.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let created = match api.create(&PostParams::default(), pod).await {
            Ok(p) => p,
            Err(e) if is_code(&e, 409) => return Ok(()),
            Err(e) => {
                self.record_pod("create", set, &name, Some(&api_message(&e)));
                return Err(e.into());
            }
        };
        if let Err(e) = self.update_claims_for_policy(set, &created).await {
            self.record_pod("update", set, &name, Some(&e.to_string()));
            return Err(e);
        }
        self.record_pod("create", set, &name, None);
        Ok(())
    }

    /// Deletes `pod` (already gone is fine and not reported).
    pub async fn delete(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let name = pod.name_any();
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                self.record_pod("delete", set, &name, None);
                Ok(())
            }
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => {
                self.record_pod("delete", set, &name, Some(&api_message(&e)));
                Err(e.into())
            }
        }
    }

    /// Whether each existing claim of `pod` has the owners the policy wants (upstream's
    /// `ClaimsMatchRetentionPolicy`; missing claims are picked up later).
    pub fn claims_match_policy(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let Some(ord) = ordinal(pod) else {
            return true;
        };
        let ns = set.namespace().unwrap_or_default();
        claims(set, ord).iter().all(|(_, c)| {
            self.claim(&ns, &c.name_any())
                .is_none_or(|existing| up_to_date(&existing, set, pod))
        })
    }

    /// Sets the owners of `pod`'s claims as the policy wants (upstream's
    /// `UpdatePodClaimForRetentionPolicy`).
    pub async fn update_claims_for_policy(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), Error> {
        let Some(ord) = ordinal(pod) else {
            return Ok(());
        };
        let ns = set.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        for (_, c) in claims(set, ord) {
            let name = c.name_any();
            let Some(existing) = self.claim(&ns, &name) else {
                continue;
            };
            if policy(set) != (false, false) && has_unexpected_controller(&existing, set, pod) {
                self.events.record(
                    object_ref(set),
                    true,
                    "ConflictingController",
                    "Update",
                    format!(
                        "PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
                    ),
                );
            }
            if up_to_date(&existing, set, pod) {
                continue;
            }
            let refs = wanted_refs(&existing, set, pod);
            let patch = serde_json::json!({"metadata": {
                "ownerReferences": refs,
                "resourceVersion": existing.metadata.resource_version,
            }});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if is_code(&e, 404) => {}
                Err(e) => {
                    return Err(Error::Storage(format!(
                        "could not update claim {name} for delete policy ownerRefs: {}",
                        api_message(&e)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Brings an existing pod back to its identity and storage and its claims to the policy
    /// (upstream's `UpdateStatefulPod`); reported only when the pod itself was written.
    pub async fn update(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let Some(ord) = ordinal(pod) else {
            return Ok(());
        };
        let name = pod.name_any();
        let mut fixed = pod.clone();
        let mut consistent = true;
        if !identity_matches(set, pod) {
            update_identity(set, &mut fixed, ord);
            consistent = false;
        }
        if !storage_matches(set, pod) {
            update_storage(set, &mut fixed, ord);
            consistent = false;
            if let Err(e) = self.create_claims(set, pod).await {
                self.record_pod("update", set, &name, Some(&e.to_string()));
                return Err(e);
            }
        }
        if !self.claims_match_policy(set, pod)
            && let Err(e) = self.update_claims_for_policy(set, pod).await
        {
            self.record_pod("update", set, &name, Some(&e.to_string()));
            return Err(e);
        }
        if consistent {
            return Ok(());
        }
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api.replace(&name, &PostParams::default(), &fixed).await {
            Ok(_) => {
                self.record_pod("update", set, &name, None);
                Ok(())
            }
            Err(e) => {
                self.record_pod("update", set, &name, Some(&api_message(&e)));
                Err(e.into())
            }
        }
    }
}
