//! What the Job controller needs to know about its pods (active, terminating, ready, failed,
//! tracked by its finalizer) and the pods it creates from the template.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};

use super::indexes::COMPLETION_INDEX;

/// The finalizer that keeps a finished pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The environment variable Indexed Jobs' containers get their index in.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether the pod succeeded.
pub fn is_succeeded(pod: &Pod) -> bool {
    phase(pod) == "Succeeded"
}

/// Neither finished nor being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// Being deleted but not yet finished.
pub fn is_terminating(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Whether the pod still carries the tracking finalizer.
pub fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|f| f == TRACKING_FINALIZER)
}

/// Whether pods are replaced only once terminal (`podReplacementPolicy: Failed`).
pub fn only_replace_failed(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.pod_replacement_policy.as_deref())
        == Some("Failed")
}

/// Whether the pod counts as failed: Failed, or deleted before finishing (such pods may never
/// reach a phase) unless pods are replaced only once terminal.
pub fn is_failed(pod: &Pod, job: &Job) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && !is_succeeded(pod)
}

/// Container restarts of a pod (regular and init), for `restartPolicy: OnFailure` Jobs.
pub fn restarts(pod: &Pod) -> i32 {
    let s = pod.status.as_ref();
    let sum = |l: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>| {
        l.map(|l| l.iter().map(|c| c.restart_count).sum::<i32>())
            .unwrap_or(0)
    };
    sum(s.and_then(|s| s.container_statuses.as_ref()))
        + sum(s.and_then(|s| s.init_container_statuses.as_ref()))
}

/// The template for a new pod: the Job's, with the tracking finalizer and, for an index, the
/// index annotation and label, `<job>-<index>` hostname and `JOB_COMPLETION_INDEX` in every
/// container.
pub fn template_for(job: &Job, index: Option<i32>) -> PodTemplateSpec {
    let mut t = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = t.metadata.get_or_insert_with(Default::default);
    let finalizers = meta.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    if let Some(i) = index {
        meta.annotations
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        if let Some(spec) = t.spec.as_mut() {
            let name = job.metadata.name.as_deref().unwrap_or_default();
            spec.hostname = Some(format!("{name}-{i}"));
            let containers = spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten());
            for c in containers {
                let env = c.env.get_or_insert_with(Vec::new);
                if !env.iter().any(|e| e.name == INDEX_ENV) {
                    env.push(EnvVar {
                        name: INDEX_ENV.into(),
                        value: None,
                        value_from: Some(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                api_version: None,
                                field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                            }),
                            ..Default::default()
                        }),
                    });
                }
            }
        }
    }
    t
}

/// The name prefix of a new pod: `<job>-` or `<job>-<index>-`.
pub fn generate_name(job: &Job, index: Option<i32>) -> String {
    let name = job.metadata.name.as_deref().unwrap_or_default();
    match index {
        Some(i) => format!("{name}-{i}-"),
        None => format!("{name}-"),
    }
}

/// Orders active pods the way upstream deletes them first: unassigned before assigned, pending
/// before unknown before running, not ready before ready, more restarts first, newer first.
pub fn deletion_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    let assigned = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let phase_rank = |p: &Pod| match phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    assigned(a)
        .cmp(&assigned(b))
        .then(phase_rank(a).cmp(&phase_rank(b)))
        .then(is_ready(a).cmp(&is_ready(b)))
        .then(restarts(b).cmp(&restarts(a)))
        .then(created(b).cmp(&created(a)))
}
