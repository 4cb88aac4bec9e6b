//! The owner's status from its pods (upstream's `calculateStatus`): replicas,
//! fullyLabeledReplicas, readyReplicas, availableReplicas (ready for minReadySeconds),
//! observedGeneration, and the `ReplicaFailure` condition while creates or deletes fail.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::pods::availability;
use super::workload::{Condition, Spec, Status};

/// The condition type set while creating or deleting pods fails.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The new status, and how long until the next pod becomes available (if one is waiting on
/// minReadySeconds).
pub fn calculate(
    old: &Status,
    generation: i64,
    spec: &Spec,
    pods: &[Arc<Pod>],
    manage_error: Option<&str>,
    now: Timestamp,
) -> (Status, Option<Duration>) {
    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut status = Status {
        replicas: pods.len() as i32,
        observed_generation: generation,
        conditions: old.conditions.clone(),
        ..Status::default()
    };
    let mut next = None::<Duration>;
    for pod in pods {
        let labels = pod.labels();
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            status.fully_labeled_replicas += 1;
        }
        match availability(pod, spec.min_ready_seconds, now) {
            Ok(()) => {
                status.ready_replicas += 1;
                status.available_replicas += 1;
            }
            Err(Some(wait)) => {
                status.ready_replicas += 1;
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
            Err(None) => {
                if super::pods::is_ready(pod) {
                    status.ready_replicas += 1;
                }
            }
        }
    }
    let has_failure = status.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match manage_error {
        Some(message) if !has_failure => {
            let diff = pods.len() as i64 - i64::from(spec.replicas);
            let reason = match diff.cmp(&0) {
                std::cmp::Ordering::Less => "FailedCreate",
                std::cmp::Ordering::Greater => "FailedDelete",
                std::cmp::Ordering::Equal => "",
            };
            status.conditions.push(Condition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                last_transition_time: Some(Time(now)),
                reason: (!reason.is_empty()).then(|| reason.into()),
                message: Some(message.into()),
            });
        }
        None if has_failure => status.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }
    (status, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(replicas: i32, min_ready: i32) -> Spec {
        Spec {
            replicas,
            selector: None,
            template: serde_json::from_value(
                json!({"metadata": {"labels": {"app": "a", "tier": "t"}}}),
            )
            .ok(),
            min_ready_seconds: min_ready,
        }
    }

    fn pod(labels: serde_json::Value, ready_at: Option<&str>) -> Arc<Pod> {
        let conditions: Vec<_> = ready_at
            .map(|t| json!({"type": "Ready", "status": "True", "lastTransitionTime": t}))
            .into_iter()
            .collect();
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "p", "labels": labels},
                "status": {"phase": "Running", "conditions": conditions},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn counts_labeled_ready_and_available_pods() {
        let now: Timestamp = "2025-01-01T00:01:00Z".parse().unwrap();
        let pods = vec![
            pod(
                json!({"app": "a", "tier": "t"}),
                Some("2025-01-01T00:00:00Z"),
            ),
            pod(json!({"app": "a"}), Some("2025-01-01T00:00:55Z")),
            pod(json!({"app": "a", "tier": "t"}), None),
        ];
        let (s, next) = calculate(&Status::default(), 7, &spec(3, 10), &pods, None, now);
        assert_eq!(
            (
                s.replicas,
                s.fully_labeled_replicas,
                s.ready_replicas,
                s.available_replicas,
                s.observed_generation
            ),
            (3, 2, 2, 1, 7)
        );
        assert_eq!(
            next,
            Some(Duration::from_secs(5)),
            "the second pod is available in 5 s"
        );
    }

    #[test]
    fn a_failure_sets_then_clears_replica_failure() {
        let now = Timestamp::now();
        let (s, _) = calculate(
            &Status::default(),
            1,
            &spec(2, 0),
            &[],
            Some("quota exceeded"),
            now,
        );
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].reason.as_deref(), Some("FailedCreate"));
        assert_eq!(s.conditions[0].message.as_deref(), Some("quota exceeded"));
        let (again, _) = calculate(&s, 1, &spec(2, 0), &[], Some("other"), now);
        assert_eq!(again.conditions, s.conditions, "kept as first set");
        let (cleared, _) = calculate(&s, 1, &spec(2, 0), &[], None, now);
        assert!(cleared.conditions.is_empty());
    }
}
