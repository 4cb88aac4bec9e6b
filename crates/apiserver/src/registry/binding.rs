//! `pods/binding`: assigning a pod to a node, as upstream's binding storage does it — a
//! read-modify-write of the stored pod (no pod update strategy: `spec.nodeName` is otherwise
//! immutable), retried when another write got there first, refused once the pod is assigned
//! or being deleted. It also marks the pod `PodScheduled=True` and copies the binding's
//! annotations onto it, as upstream.

use rkube_api::resources::find;
use rkube_api::status::ApiError;
use rkube_store::UpdateOutcome;
use serde_json::{Value, json};

use super::meta::{meta_mut, meta_str, set_meta, timestamp};
use super::{Registry, encode, store_error};

/// What a binding asks for.
#[derive(Debug, Default)]
pub struct BindRequest<'a> {
    /// The node.
    pub node: &'a str,
    /// The pod UID the binder saw (`metadata.uid` of the Binding): a different pod by the
    /// same name is not bound.
    pub uid: Option<&'a str>,
    /// Annotations to set on the pod.
    pub annotations: Option<&'a serde_json::Map<String, Value>>,
    /// `dryRun=All`: check the binding, write nothing.
    pub dry_run: bool,
}

impl Registry {
    /// Binds pod `name` in `namespace` to `req.node`.
    pub async fn bind(
        &self,
        namespace: Option<&str>,
        name: &str,
        req: BindRequest<'_>,
    ) -> Result<(), ApiError> {
        let pods = find("", "v1", "pods").expect("pods are built in");
        let key = pods.storage_key(namespace, name);
        loop {
            let (mut pod, rev) = self.get_kv(pods, namespace, name).await?;
            if let Some(uid) = req.uid.filter(|u| !u.is_empty())
                && meta_str(&pod, "uid") != Some(uid)
            {
                return Err(ApiError::conflict(
                    pods,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&pod, "uid").unwrap_or("")
                    ),
                ));
            }
            if meta_str(&pod, "deletionTimestamp").is_some() {
                return Err(ApiError::conflict(
                    pods,
                    name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            if let Some(current) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(
                    pods,
                    name,
                    &format!("pod {name} is already assigned to node {current:?}"),
                ));
            }
            pod["spec"]["nodeName"] = req.node.into();
            if let Some(extra) = req.annotations.filter(|a| !a.is_empty()) {
                let meta = meta_mut(&mut pod);
                let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(map) = annotations.as_object_mut() {
                    map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            mark_scheduled(&mut pod, timestamp(self.now()));
            set_meta(&mut pod, "resourceVersion", None);
            if req.dry_run {
                return Ok(());
            }
            match self
                .store
                .update(&key, encode(&pod), rev, None)
                .await
                .map_err(store_error)?
            {
                UpdateOutcome::Updated(_) => return Ok(()),
                UpdateOutcome::Conflict(None) => return Err(ApiError::not_found(pods, name)),
                // Someone else wrote the pod (a status update, a label): bind the new state.
                UpdateOutcome::Conflict(Some(_)) => continue,
            }
        }
    }
}

/// Sets `PodScheduled=True` (its transition time moves only when its status changes).
fn mark_scheduled(pod: &mut Value, now: Value) {
    let status = &mut pod["status"];
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = &mut status["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(c) if c["status"] == "True" => {}
        Some(c) => {
            *c = json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now})
        }
        None => {
            list.push(json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_is_added_or_flipped_once() {
        let mut pod = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
        mark_scheduled(&mut pod, json!("t1"));
        assert_eq!(
            pod["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": "t1"}])
        );
        mark_scheduled(&mut pod, json!("t2"));
        assert_eq!(pod["status"]["conditions"][0]["lastTransitionTime"], "t1");
        let mut bare = json!({"spec": {}});
        mark_scheduled(&mut bare, json!("t"));
        assert_eq!(bare["status"]["conditions"][0]["status"], "True");
    }
}
