//! The scheduler's writes to the apiserver, all off the scheduling loop: bindings, the
//! PodScheduled condition (with `nominatedNodeName`), and preemption's evictions.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use tokio::time::Instant;

use crate::framework::{CycleState, Framework, PodInfo, PostFilterResult};
use crate::queue::QueuedPod;
use crate::scheduler::Scheduler;

/// A reference to `pod` for events.
pub fn pod_ref(pod: &Pod) -> ObjectReference {
    pod.object_ref(&())
}

fn pods(s: &Scheduler, namespace: &str) -> Api<Pod> {
    Api::namespaced(s.client.clone(), namespace)
}

/// Binds an assumed pod; on failure forgets the assumption and retries the pod after a backoff.
pub async fn bind(
    s: Arc<Scheduler>,
    fw: Arc<Framework>,
    qp: QueuedPod,
    mut state: CycleState,
    node: String,
) {
    let pod = qp.info.clone();
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.clone()),
            ..ObjectReference::default()
        },
    };
    let result = {
        let _permit = s.writes.acquire().await;
        pods(&s, &pod.namespace)
            .create_subresource::<Binding, serde_json::Value>(
                "binding",
                &pod.name,
                &PostParams::default(),
                &binding,
            )
            .await
    };
    match result {
        Ok(_) => {
            s.metrics
                .bound
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.metrics
                .sli_duration
                .get_or_create(&crate::metrics::SliLabels {
                    attempts: qp.attempts.to_string(),
                })
                .observe(qp.initial_attempt.elapsed().as_secs_f64());
            s.events.record(
                pod_ref(&pod.pod),
                false,
                "Scheduled",
                "Binding",
                format!(
                    "Successfully assigned {}/{} to {node}",
                    pod.namespace, pod.name
                ),
            );
        }
        Err(e) => {
            tracing::info!(pod = %pod.key(), %node, error = %e, "binding rejected");
            s.cache.lock().expect("cache lock").forget(&pod.uid);
            fw.run_unreserve(&mut state, &pod, &node);
            let gone = matches!(&e, kube::Error::Api(status) if status.code == 404);
            if !gone {
                s.queue
                    .lock()
                    .expect("queue lock")
                    .requeue_backoff(&qp, Instant::now());
                s.wake.notify_one();
                s.report_failure(
                    &pod,
                    format!("Binding rejected: {e}"),
                    "SchedulerError",
                    Nomination::Keep,
                );
            }
        }
    }
}

/// What a failed attempt does to the pod's `status.nominatedNodeName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nomination {
    /// Leave it as it is.
    Keep,
    /// Preemption nominated this node.
    Set(String),
    /// Preemption found no node: an earlier nomination is void.
    Clear,
}

/// Sets `PodScheduled=False` with `reason` and `message` (and the nomination change) unless
/// the pod already says exactly that.
pub fn spawn_condition_update(
    s: &Arc<Scheduler>,
    pod: Arc<Pod>,
    reason: String,
    message: String,
    nomination: Nomination,
) {
    let status = pod.status.clone().unwrap_or_default();
    let mut conditions = status.conditions.clone().unwrap_or_default();
    let existing = conditions.iter().position(|c| c.type_ == "PodScheduled");
    let unchanged = existing.is_some_and(|i| {
        let c = &conditions[i];
        c.status == "False"
            && c.reason.as_deref() == Some(reason.as_str())
            && c.message.as_deref() == Some(message.as_str())
    });
    let current = status
        .nominated_node_name
        .as_deref()
        .filter(|n| !n.is_empty());
    let nomination_unchanged = match &nomination {
        Nomination::Keep => true,
        Nomination::Set(n) => current == Some(n.as_str()),
        Nomination::Clear => current.is_none(),
    };
    if unchanged && nomination_unchanged {
        return;
    }
    let transitioned = existing.is_none_or(|i| conditions[i].status != "False");
    let condition = PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some(reason),
        message: Some(message),
        last_probe_time: None,
        last_transition_time: if transitioned {
            Some(Time(jiff::Timestamp::now()))
        } else {
            existing.and_then(|i| conditions[i].last_transition_time.clone())
        },
        observed_generation: None,
    };
    match existing {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    let mut patch = serde_json::json!({"status": {"conditions": conditions}});
    match nomination {
        Nomination::Keep => {}
        Nomination::Set(n) => patch["status"]["nominatedNodeName"] = n.into(),
        Nomination::Clear => patch["status"]["nominatedNodeName"] = serde_json::Value::Null,
    }
    let s = s.clone();
    tokio::spawn(async move {
        let _permit = s.writes.acquire().await;
        let api = pods(&s, pod.metadata.namespace.as_deref().unwrap_or("default"));
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(pod = %name, error = %e, "updating the PodScheduled condition");
        }
    });
}

/// Evicts preemption victims (each gets a `Preempted` event) so the preemptor fits on the
/// nominated node; clears lower-priority nominations there.
pub async fn preempt(
    s: Arc<Scheduler>,
    preemptor: Arc<PodInfo>,
    result: PostFilterResult,
    scheduler_name: String,
) {
    use crate::plugins::default_preemption::{
        DISRUPTION_TARGET, REASON_PREEMPTION_BY_SCHEDULER, disruption_message,
    };
    let node = result.nominated_node.clone().unwrap_or_default();
    for victim in &result.victims {
        // Mark the victim first (as upstream): a preemptor that retries sees its victims are
        // terminating because of it and waits instead of preempting more.
        let mut conditions = victim
            .pod
            .status
            .as_ref()
            .and_then(|st| st.conditions.clone())
            .unwrap_or_default();
        conditions.retain(|c| c.type_ != DISRUPTION_TARGET);
        conditions.push(PodCondition {
            type_: DISRUPTION_TARGET.into(),
            status: "True".into(),
            reason: Some(REASON_PREEMPTION_BY_SCHEDULER.into()),
            message: Some(disruption_message(&scheduler_name)),
            last_transition_time: Some(Time(jiff::Timestamp::now())),
            last_probe_time: None,
            observed_generation: None,
        });
        let patch = serde_json::json!({"status": {"conditions": conditions}});
        {
            let _permit = s.writes.acquire().await;
            if let Err(e) = pods(&s, &victim.namespace)
                .patch_status(&victim.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(victim = %victim.key(), error = %e, "marking a preemption victim");
            }
        }
        s.events.record(
            pod_ref(&victim.pod),
            false,
            "Preempted",
            "Preempting",
            format!("Preempted by pod {} on node {node}", preemptor.uid),
        );
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(victim.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let _permit = s.writes.acquire().await;
        if let Err(e) = pods(&s, &victim.namespace)
            .delete(&victim.name, &params)
            .await
        {
            tracing::info!(victim = %victim.key(), error = %e, "deleting a preemption victim");
        }
    }
    for other in &result.clear_nominations {
        let patch = serde_json::json!({"status": {"nominatedNodeName": null}});
        let _permit = s.writes.acquire().await;
        let _ = pods(&s, &other.namespace)
            .patch_status(&other.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
    }
}
