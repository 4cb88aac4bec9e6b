//! Defaults of `batch/v1` (`pkg/apis/batch/v1/defaults.go`) and the Job selector upstream's
//! registry generates on create.

use super::or_set;
use super::pod::default_template;
use k8s_openapi::api::batch::v1::{CronJob, Job};

/// Label of a Job's pods naming the Job (and its legacy form).
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Legacy label naming the Job.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// Label of a Job's pods carrying the Job's uid (and its legacy form).
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// Legacy label carrying the Job's uid.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";

/// Job: completions/parallelism 1, backoffLimit 6, NonIndexed, not suspended, pod
/// replacement policy, labels from the template, the template's defaults.
pub fn default_job(job: &mut Job) {
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    or_set(&mut spec.parallelism, 1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    if let Some(labels) = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        && job.metadata.labels.as_ref().is_none_or(|l| l.is_empty())
    {
        job.metadata.labels = Some(labels);
    }
    or_set(&mut spec.completion_mode, "NonIndexed".to_string());
    or_set(&mut spec.suspend, false);
    if let Some(pfp) = &mut spec.pod_failure_policy {
        for rule in &mut pfp.rules {
            for pattern in rule.on_pod_conditions.iter_mut().flatten() {
                if pattern.status.is_empty() {
                    pattern.status = "True".to_string();
                }
            }
        }
    }
    if spec.pod_replacement_policy.is_none() {
        spec.pod_replacement_policy = Some(
            if spec.pod_failure_policy.is_some() {
                "Failed"
            } else {
                "TerminatingOrFailed"
            }
            .to_string(),
        );
    }
    default_template(&mut spec.template);
}

/// CronJob: concurrency Allow, not suspended, keep 3 successful and 1 failed Job, and the job
/// template's pod defaults.
pub fn default_cron_job(cj: &mut CronJob) {
    let spec = cj.spec.get_or_insert_with(Default::default);
    if spec.concurrency_policy.as_deref().unwrap_or("").is_empty() {
        spec.concurrency_policy = Some("Allow".to_string());
    }
    or_set(&mut spec.suspend, false);
    or_set(&mut spec.successful_jobs_history_limit, 3);
    or_set(&mut spec.failed_jobs_history_limit, 1);
    if let Some(js) = &mut spec.job_template.spec {
        default_template(&mut js.template);
    }
}

/// Upstream's `generateSelector` for a new Job without `manualSelector: true`: the pods get
/// job-name and controller-uid labels, the selector matches the uid. Needs `metadata.uid`
/// (nothing happens without it). The Job's own labels then default from the template again,
/// as upstream's read-back of the stored object shows them.
pub fn generate_job_selector(job: &mut Job) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let Some(uid) = job.metadata.uid.clone().filter(|u| !u.is_empty()) else {
        return;
    };
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.manual_selector == Some(true) {
        return;
    }
    let labels = spec
        .template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
        labels
            .entry(key.to_string())
            .or_insert_with(|| name.clone());
    }
    for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
        labels.entry(key.to_string()).or_insert_with(|| uid.clone());
    }
    let selector = spec.selector.get_or_insert_with(Default::default);
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .entry(CONTROLLER_UID_LABEL.to_string())
        .or_insert(uid);
    default_job(job);
}

#[cfg(test)]
mod tests {
    use crate::defaults::{apply, apply_on_create};
    use serde_json::json;

    fn template() -> serde_json::Value {
        json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]}})
    }

    #[test]
    fn job_defaults() {
        let mut job = json!({"metadata": {"name": "pi"}, "spec": {"template": template()}});
        apply("batch", "Job", &mut job);
        let spec = &job["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");

        let mut par = json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
            "template": template()}});
        apply("batch", "Job", &mut par);
        assert!(par["spec"].get("completions").is_none());
        assert_eq!(par["spec"]["backoffLimit"], 2147483647);
        assert_eq!(par["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            par["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
    }

    #[test]
    fn generated_selector() {
        let mut job =
            json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": template()}});
        apply("batch", "Job", &mut job);
        apply_on_create("batch", "Job", &mut job);
        let want_labels = json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "job-name": "pi"});
        assert_eq!(job["spec"]["template"]["metadata"]["labels"], want_labels);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(job["metadata"]["labels"], want_labels);

        let mut manual = json!({"metadata": {"name": "m", "uid": "u"}, "spec": {"manualSelector": true,
            "selector": {"matchLabels": {"a": "b"}}, "template": template()}});
        let before = manual.clone();
        apply_on_create("batch", "Job", &mut manual);
        assert_eq!(manual, before);
    }

    #[test]
    fn cron_job_defaults() {
        let mut cj = json!({"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template()}}}});
        apply("batch", "CronJob", &mut cj);
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        assert_eq!(
            spec["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"],
            "default-scheduler"
        );
        assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
    }
}
