//! `pods/binding`: assigning a pod to a node, as upstream's binding storage does it — a
//! read-modify-write of the stored pod (no pod update strategy: `spec.nodeName` is otherwise
//! immutable), retried when another write got there first, refused once the pod is assigned
//! or being deleted. It also marks the pod `PodScheduled=True` and copies the binding's
//! annotations onto it, as upstream.

use rkube_api::resources::find;
use rkube_api::status::ApiError;
use rkube_store::UpdateOutcome;
use serde_json::{Value, json};

use super::binding_json::{Facts, SplitPod};
use super::meta::{meta_mut, meta_str, set_meta, timestamp};
use super::{Registry, decode_at, encode, store_error};

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
        // The first try starts from the watch cache's copy, as upstream's binding does (the
        // cacher hands its object to the store's update): the scheduler binds pods it has
        // just seen, so the copy is almost always current, and a stale one costs a retry.
        let mut cached = self.watch_cache.current(&pods.storage_prefix(), &key);
        loop {
            let from_cache = cached.is_some();
            let (stored, rev) = match cached.take() {
                Some(stored) => stored,
                None => match self.store.get(&key, 0).await.map_err(store_error)? {
                    Some(kv) => (kv.value, kv.mod_revision),
                    None => return Err(ApiError::not_found(pods, name)),
                },
            };
            let bound = match bound_pod(&stored, name, &req, timestamp(self.now())) {
                Ok(Outcome::Bound(bound)) => bound,
                // The copy may be behind the pod that refuses: only the store's says no.
                Ok(Outcome::Refused(_)) | Err(_) if from_cache => continue,
                Ok(Outcome::Refused(reason)) => {
                    return Err(ApiError::conflict(pods, name, &reason));
                }
                Err(e) => return Err(e),
            };
            if req.dry_run {
                return Ok(());
            }
            match self
                .store
                .update(&key, bound, rev, None)
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

/// What a binding makes of the stored pod.
enum Outcome {
    /// The pod to write.
    Bound(bytes::Bytes),
    /// Why it cannot be bound.
    Refused(String),
}

/// The stored pod bound as `req` asks, or why it cannot be: made on the pod's JSON text
/// (`binding_json`) unless its shape needs the decoding path.
fn bound_pod(
    stored: &[u8],
    name: &str,
    req: &BindRequest<'_>,
    now: Value,
) -> Result<Outcome, ApiError> {
    match SplitPod::parse(stored) {
        Some(pod) => Ok(bound_split(pod, name, req, now)),
        None => bound_decoded(stored, name, req, now),
    }
}

fn bound_split(mut pod: SplitPod<'_>, name: &str, req: &BindRequest<'_>, now: Value) -> Outcome {
    if let Some(reason) = refusal(&pod.facts(), name, req) {
        return Outcome::Refused(reason);
    }
    pod.set_node(req.node);
    if let Some(extra) = req.annotations.filter(|a| !a.is_empty()) {
        pod.add_annotations(extra);
    }
    pod.change_conditions(|c| mark_scheduled(c, now));
    pod.clear_resource_version();
    Outcome::Bound(pod.encode())
}

fn bound_decoded(
    stored: &[u8],
    name: &str,
    req: &BindRequest<'_>,
    now: Value,
) -> Result<Outcome, ApiError> {
    // The revision `decode_at` sets is dropped below: the store's says it.
    let mut pod = decode_at(stored, 0)?;
    if !matches!(pod["spec"], Value::Object(_) | Value::Null) {
        return Err(ApiError::internal(format!(
            "the stored pod {name} has a spec that is not an object"
        )));
    }
    if let Some(reason) = refusal(&facts(&pod), name, req) {
        return Ok(Outcome::Refused(reason));
    }
    pod["spec"]["nodeName"] = req.node.into();
    if let Some(extra) = req.annotations.filter(|a| !a.is_empty()) {
        let meta = meta_mut(&mut pod);
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let status = &mut pod["status"];
    if !status.is_object() {
        *status = json!({});
    }
    mark_scheduled(&mut status["conditions"], now);
    set_meta(&mut pod, "resourceVersion", None);
    Ok(Outcome::Bound(encode(&pod)))
}

/// What `refusal` reads of a decoded pod.
fn facts(pod: &Value) -> Facts {
    Facts {
        uid: meta_str(pod, "uid").map(String::from),
        deleting: meta_str(pod, "deletionTimestamp").is_some(),
        node: pod["spec"]["nodeName"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(String::from),
    }
}

/// Why the pod (as `facts` tell it) cannot be bound as `req` asks, if it cannot: another
/// pod by that name, being deleted, or already assigned.
fn refusal(facts: &Facts, name: &str, req: &BindRequest<'_>) -> Option<String> {
    if let Some(uid) = req.uid.filter(|u| !u.is_empty())
        && facts.uid.as_deref() != Some(uid)
    {
        return Some(format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            facts.uid.as_deref().unwrap_or("")
        ));
    }
    if facts.deleting {
        return Some("pod is being deleted, cannot be assigned to a host".into());
    }
    if let Some(current) = &facts.node {
        return Some(format!(
            "pod {name} is already assigned to node {current:?}"
        ));
    }
    None
}

/// Sets `PodScheduled=True` in `conditions` (made a list if it is not one); its transition
/// time moves only when its status changes.
fn mark_scheduled(conditions: &mut Value, now: Value) {
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
    use crate::registry::{Ranges, test_store};
    use rkube_store::Store;
    use std::sync::Arc;

    fn stored_pod(uid: &str, labels: Value) -> bytes::Bytes {
        encode(&json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": uid, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    }

    fn bind_to<'a>(node: &'a str, uid: &'a str) -> BindRequest<'a> {
        BindRequest {
            node,
            uid: Some(uid),
            ..BindRequest::default()
        }
    }

    #[tokio::test]
    async fn a_watch_cache_behind_the_store_costs_a_retry_not_a_write_or_a_wrong_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let inner = test_store(dir.path()).await;
        // Its watches never deliver: the watch cache keeps what it first read.
        let store: Arc<dyn Store> = Arc::new(crate::registry::test_stores::Limited {
            inner,
            frozen: true,
        });
        let clock: crate::registry::Clock = Arc::new(jiff::Timestamp::now);
        let registry = Registry::new(store.clone(), clock, Ranges::default());
        let key = "/registry/pods/default/p";
        let first = match store.create(key, stored_pod("u1", json!({})), None).await {
            Ok(rkube_store::CreateOutcome::Created(rev)) => rev,
            other => panic!("{other:?}"),
        };
        // The cache reads the pod now and never hears of a change again.
        registry
            .watch_cache
            .list("/registry/pods/", "/registry/pods/")
            .await
            .unwrap();
        assert_eq!(
            registry
                .watch_cache
                .current("/registry/pods/", key)
                .map(|c| c.1),
            Some(first)
        );
        let pod = |rev_and_value: Option<rkube_store::KeyValue>| {
            decode_at(&rev_and_value.unwrap().value, 0).unwrap()
        };

        // A label written after the cache's copy: the binding keeps it.
        store
            .update(key, stored_pod("u1", json!({"a": "b"})), first, None)
            .await
            .unwrap();
        registry
            .bind(Some("default"), "p", bind_to("n1", "u1"))
            .await
            .unwrap();
        let bound = pod(store.get(key, 0).await.unwrap());
        assert_eq!(bound["spec"]["nodeName"], "n1");
        assert_eq!(
            bound["metadata"]["labels"]["a"], "b",
            "the later label is kept"
        );

        // Deleted and created again under the name: the cache's copy has the old UID (and no
        // node), the store's the new one — the new pod is bound, not refused.
        store.delete(key, None).await.unwrap();
        store
            .create(key, stored_pod("u2", json!({})), None)
            .await
            .unwrap();
        registry
            .bind(Some("default"), "p", bind_to("n2", "u2"))
            .await
            .unwrap();
        let rebound = pod(store.get(key, 0).await.unwrap());
        assert_eq!(
            (&rebound["metadata"]["uid"], &rebound["spec"]["nodeName"]),
            (&json!("u2"), &json!("n2"))
        );

        // Refusals come from the store's pod: already assigned, and another UID.
        for (req, says) in [
            (bind_to("n3", "u2"), "already assigned to node \"n2\""),
            (
                bind_to("n3", "u1"),
                "UID in precondition: u1, UID in object meta: u2",
            ),
        ] {
            let err = registry.bind(Some("default"), "p", req).await.unwrap_err();
            assert_eq!(err.code, 409);
            assert!(err.message.contains(says), "{}", err.message);
        }
    }

    #[test]
    fn the_condition_is_added_or_flipped_once() {
        let mut conditions =
            json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]);
        mark_scheduled(&mut conditions, json!("t1"));
        assert_eq!(
            conditions,
            json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": "t1"}])
        );
        mark_scheduled(&mut conditions, json!("t2"));
        assert_eq!(conditions[0]["lastTransitionTime"], "t1");
        let mut none = Value::Null;
        mark_scheduled(&mut none, json!("t"));
        assert_eq!(none[0]["status"], "True");
    }

    #[test]
    fn the_split_pod_is_written_as_the_decoded_one_would_be() {
        let extra = json!({"scheduler/why": "spread", "a": "new"});
        let extra = extra.as_object().unwrap();
        let pods = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u", "resourceVersion": "3", "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
                "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "100m"}}}], "priority": 0},
                "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes \"x\" \u{e9}\n"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u", "annotations": {"a": "old", "b": "kept"}},
                "spec": {"containers": []}, "zz": [1.5, -2, null, true]}),
            // No status, no spec: the binding makes both.
            json!({"kind": "Pod", "metadata": {"name": "p", "uid": "u", "annotations": null}}),
            // Refusals: assigned, being deleted.
            json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"nodeName": "n0"}}),
            json!({"metadata": {"name": "p", "uid": "u", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}}),
        ];
        let mut stored: Vec<bytes::Bytes> = pods.iter().map(encode).collect();
        // Repeated members, as a client's JSON may hold them: the last occurrence wins.
        stored.push(bytes::Bytes::from_static(
            br#"{"spec":{"nodeName":"n0"},"metadata":{"name":"p","uid":"x"},"spec":{"containers":[]},"metadata":{"name":"p","uid":"u","uid":"u"}}"#,
        ));
        let mut bound = 0;
        for stored in stored {
            let pod = String::from_utf8_lossy(&stored);
            for req in [
                bind_to("n1", "u"),
                bind_to("n1", "other"),
                BindRequest {
                    node: "n2",
                    annotations: Some(extra),
                    ..BindRequest::default()
                },
            ] {
                let outcome = |o: Outcome| match o {
                    Outcome::Bound(bytes) => Ok(bytes),
                    Outcome::Refused(reason) => Err(reason),
                };
                let want = outcome(bound_decoded(&stored, "p", &req, json!("t")).unwrap());
                let Some(split) = SplitPod::parse(&stored) else {
                    panic!("{pod} is not split");
                };
                let got = outcome(bound_split(split, "p", &req, json!("t")));
                assert_eq!(got, want, "{pod}");
                bound += usize::from(got.is_ok());
            }
        }
        assert_eq!(
            bound, 8,
            "the first three pods and the repeated one bound with their UID and without one"
        );

        // Shapes the split path leaves to the decoding path: a status that is not an object
        // is replaced; a spec that is not one is an error, not a panic.
        for odd in [
            json!({"metadata": {"name": "p", "uid": "u"}, "spec": null}),
            json!({"metadata": [], "spec": {}}),
            json!({"metadata": {}}),
        ] {
            assert!(SplitPod::parse(&encode(&odd)).is_none(), "{odd}");
        }
        let odd = encode(&json!({"metadata": {"name": "p", "uid": "u"}, "status": []}));
        assert!(SplitPod::parse(&odd).is_none());
        let Outcome::Bound(bytes) = bound_pod(&odd, "p", &bind_to("n", "u"), json!("t")).unwrap()
        else {
            panic!("the odd pod is bound");
        };
        let bound: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (
                &bound["spec"]["nodeName"],
                &bound["status"]["conditions"][0]["type"]
            ),
            (&json!("n"), &json!("PodScheduled"))
        );
        let broken = encode(&json!({"metadata": {"name": "p", "uid": "u"}, "spec": "text"}));
        let err = bound_pod(&broken, "p", &bind_to("n", "u"), json!("t"))
            .err()
            .unwrap();
        assert_eq!(err.code, 500, "{}", err.message);
    }
}
