//! `batch/v1` (upstream's `pkg/apis/batch/validation`): Job and CronJob.

use super::meta::{
    selector_converts, selector_matches, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use super::names::{self, NameRule};
use super::pod::validate_pod_template_spec;
use super::{Errors, Path, decode_pair, go_label_selector, go_map, json_of, jstr, nonnegative, s};
use crate::defaults::batch::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use crate::status::FieldCause;
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use serde_json::Value;

const MAX_PARALLELISM_FOR_INDEXED_JOB: i32 = 100_000;

/// `Invalid value: <detail>` with the value omitted, as upstream's `field.OmitValueType`.
fn invalid_omitted(path: &Path, detail: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueInvalid",
        field: path.to_string(),
        message: format!("Invalid value: {detail}"),
    }
}

/// Checks shared by Jobs and CronJob job templates (upstream's `validateJobSpec`).
fn job_spec_common(spec: &JobSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (field, v) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        (
            "ttlSecondsAfterFinished",
            spec.ttl_seconds_after_finished.map(i64::from),
        ),
        (
            "backoffLimitPerIndex",
            spec.backoff_limit_per_index.map(i64::from),
        ),
        ("maxFailedIndexes", spec.max_failed_indexes.map(i64::from)),
    ] {
        if let Some(v) = v {
            errs.extend(nonnegative(v, &path.child(field)));
        }
    }
    if let Some(mode) = &spec.completion_mode {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldCause::not_supported(
                path.child("completionMode"),
                &jstr(mode),
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" {
            if spec.completions.is_none() {
                errs.push(FieldCause::required_detail(
                    path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = spec.parallelism
                && p > MAX_PARALLELISM_FOR_INDEXED_JOB
            {
                errs.push(FieldCause::invalid(
                    path.child("parallelism"),
                    &Value::from(p),
                    format!(
                        "must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed"
                    ),
                ));
            }
        }
    }
    if let Some(mfi) = spec.max_failed_indexes {
        if spec.backoff_limit_per_index.is_none() {
            errs.push(FieldCause::required_detail(
                path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
        if spec.completion_mode.as_deref() == Some("Indexed")
            && let Some(c) = spec.completions
            && mfi > c
        {
            errs.push(FieldCause::invalid(
                path.child("maxFailedIndexes"),
                &Value::from(mfi),
                "must be less than or equal to completions",
            ));
        }
    }
    if spec.completion_mode.as_deref().unwrap_or("NonIndexed") == "NonIndexed" {
        for (field, v) in [
            ("backoffLimitPerIndex", spec.backoff_limit_per_index),
            ("maxFailedIndexes", spec.max_failed_indexes),
        ] {
            if let Some(v) = v {
                errs.push(FieldCause::invalid(
                    path.child(field),
                    &Value::from(v),
                    "requires indexed completion mode",
                ));
            }
        }
    }
    if let Some(pfp) = &spec.pod_failure_policy {
        let pp = path.child("podFailurePolicy").child("rules");
        if pfp.rules.len() > 20 {
            errs.push(FieldCause::too_many(&pp, pfp.rules.len(), 20));
        }
        const ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
        for (i, rule) in pfp.rules.iter().enumerate() {
            let rp = pp.index(i);
            let ap = rp.child("action");
            if rule.action.is_empty() {
                errs.push(FieldCause::required_detail(
                    &ap,
                    "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
                ));
            } else if rule.action == "FailIndex" {
                if spec.backoff_limit_per_index.is_none() {
                    errs.push(FieldCause::invalid(
                        &ap,
                        &jstr(&rule.action),
                        "requires the backoffLimitPerIndex to be set",
                    ));
                }
            } else if !ACTIONS.contains(&rule.action.as_str()) {
                errs.push(FieldCause::not_supported(&ap, &jstr(&rule.action), ACTIONS));
            }
            let conditions = rule.on_pod_conditions.as_deref().unwrap_or_default();
            let cp = rp.child("onPodConditions");
            if conditions.len() > 20 {
                errs.push(FieldCause::too_many(&cp, conditions.len(), 20));
            }
            for (j, c) in conditions.iter().enumerate() {
                let pat = cp.index(j);
                errs.extend(super::meta::validate_qualified_name(
                    &c.type_,
                    &pat.child("type"),
                ));
                if c.status.is_empty() {
                    errs.push(FieldCause::required_detail(
                        pat.child("status"),
                        "valid values: [\"False\" \"True\" \"Unknown\"]",
                    ));
                } else if !["False", "True", "Unknown"].contains(&c.status.as_str()) {
                    errs.push(FieldCause::not_supported(
                        pat.child("status"),
                        &jstr(&c.status),
                        &["False", "True", "Unknown"],
                    ));
                }
            }
            if rule.on_exit_codes.is_some() && !conditions.is_empty() {
                errs.push(invalid_omitted(
                    &rp,
                    "specifying both OnExitCodes and OnPodConditions is not supported",
                ));
            }
            if rule.on_exit_codes.is_none() && conditions.is_empty() {
                errs.push(invalid_omitted(
                    &rp,
                    "specifying one of OnExitCodes and OnPodConditions is required",
                ));
            }
        }
    }
    if let Some(p) = &spec.pod_replacement_policy {
        let rp = path.child("podReplacementPolicy");
        if spec.pod_failure_policy.is_some() {
            if p != "Failed" {
                errs.push(FieldCause::not_supported(&rp, &jstr(p), &["Failed"]));
            }
        } else if p != "TerminatingOrFailed" && p != "Failed" {
            errs.push(FieldCause::not_supported(
                &rp,
                &jstr(p),
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tp = path.child("template");
    errs.extend(validate_pod_template_spec(&spec.template, &tp, &[]));
    let rp_path = tp.child("spec").child("restartPolicy");
    let rp = spec
        .template
        .spec
        .as_ref()
        .map(|s| s.restart_policy.clone().unwrap_or_default())
        .unwrap_or_default();
    if rp == "Always" || rp.is_empty() {
        errs.push(FieldCause::required_detail(
            &rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldCause::not_supported(
            &rp_path,
            &jstr(&rp),
            &["OnFailure", "Never"],
        ));
    } else if spec.pod_failure_policy.is_some() && rp != "Never" {
        errs.push(FieldCause::invalid(
            &rp_path,
            &jstr(&rp),
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errs
}

/// Job create/update validation.
pub fn validate_job(new: &Value, old: Option<&Value>) -> Errors {
    let (job, o) = match decode_pair::<Job>("Job", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&job.metadata, &o.metadata, &mp));
    }
    errs.extend(validate_object_meta(
        &job.metadata,
        true,
        NameRule::Subdomain,
        &mp,
    ));
    let spec = job.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    errs.extend(generated_selector(&job, &spec));
    errs.extend(job_spec_common(&spec, &path));
    match &spec.selector {
        None => errs.push(FieldCause::required(path.child("selector"))),
        Some(sel) => errs.extend(validate_label_selector(Some(sel), &path.child("selector"))),
    }
    if spec.selector.is_some() && selector_converts(spec.selector.as_ref()) {
        let labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref());
        if !selector_matches(spec.selector.as_ref(), labels) {
            errs.push(FieldCause::invalid_rendered(
                path.child("template").child("metadata").child("labels"),
                go_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if spec.completion_mode.as_deref() == Some("Indexed")
        && let Some(c) = spec.completions
        && c > 0
    {
        let name = s(&job.metadata.name);
        let hostname = format!("{name}-{}", c - 1);
        if !names::dns1123_label(&hostname).is_empty() {
            errs.push(FieldCause::invalid(
                mp.child("name"),
                &jstr(name),
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    if let Some(o) = &o {
        errs.extend(job_update(&job, o, &path));
    }
    errs
}

/// With a generated selector, the Job needs a uid, the template must carry the job's uid and
/// name labels, and the selector must select them.
fn generated_selector(job: &Job, spec: &JobSpec) -> Errors {
    let mut errs = Vec::new();
    if spec.manual_selector == Some(true) || spec.selector.is_none() {
        return errs;
    }
    let uid = s(&job.metadata.uid);
    if uid.is_empty() {
        errs.push(FieldCause::required("metadata.uid"));
    }
    let empty = std::collections::BTreeMap::new();
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .unwrap_or(&empty);
    let name = s(&job.metadata.name);
    let lp = Path::new("spec")
        .child("template")
        .child("metadata")
        .child("labels");
    for (key, want) in [
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ] {
        match labels.get(key) {
            None => errs.push(FieldCause::required_detail(
                lp.key(key),
                format!("must be '{want}'"),
            )),
            Some(v) if v != want => errs.push(FieldCause::invalid_rendered(
                lp.key(key),
                go_map(Some(labels)),
                format!("must be '{want}'"),
            )),
            _ => {}
        }
    }
    let expected = std::collections::BTreeMap::from([
        (CONTROLLER_UID_LABEL.to_string(), uid.to_string()),
        (JOB_NAME_LABEL.to_string(), name.to_string()),
        (LEGACY_CONTROLLER_UID_LABEL.to_string(), uid.to_string()),
        (LEGACY_JOB_NAME_LABEL.to_string(), name.to_string()),
    ]);
    if selector_converts(spec.selector.as_ref())
        && !selector_matches(spec.selector.as_ref(), Some(&expected))
    {
        errs.push(FieldCause::invalid_rendered(
            "spec.selector",
            go_label_selector(spec.selector.as_ref()),
            "`selector` not auto-generated",
        ));
    }
    errs
}

fn job_update(job: &Job, old: &Job, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let spec = job.spec.clone().unwrap_or_default();
    let os = old.spec.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if spec.completions != os.completions {
        if !indexed {
            errs.push(FieldCause::invalid(
                path.child("completions"),
                &spec.completions.map(Value::from).unwrap_or(Value::Null),
                "field is immutable",
            ));
        } else if let Some(c) = spec.completions
            && Some(c) != spec.parallelism
        {
            errs.push(FieldCause::invalid(
                path.child("completions"),
                &Value::from(c),
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    if spec.selector != os.selector {
        errs.push(FieldCause::invalid_rendered(
            path.child("selector"),
            go_label_selector(spec.selector.as_ref()),
            "field is immutable",
        ));
    }
    let mut template = spec.template.clone();
    let never_started = old
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none();
    if spec.suspend == Some(true) && never_started {
        // Scheduling directives of a suspended Job that never started may change.
        let (nm, om) = (
            template.metadata.get_or_insert_with(Default::default),
            os.template.metadata.clone().unwrap_or_default(),
        );
        nm.labels = om.labels;
        nm.annotations = om.annotations;
        if let (Some(ns), Some(ospec)) = (template.spec.as_mut(), os.template.spec.as_ref()) {
            ns.node_selector = ospec.node_selector.clone();
            ns.affinity = ospec.affinity.clone();
            ns.tolerations = ospec.tolerations.clone();
            ns.scheduling_gates = ospec.scheduling_gates.clone();
        }
        if template
            .metadata
            .as_ref()
            .is_some_and(|m| m == &Default::default())
            && os.template.metadata.is_none()
        {
            template.metadata = None;
        }
    }
    if template != os.template {
        errs.push(FieldCause::invalid_rendered(
            path.child("template"),
            json_of(&spec.template),
            "field is immutable",
        ));
    }
    for (field, a, b) in [
        (
            "completionMode",
            json_of(&spec.completion_mode),
            json_of(&os.completion_mode),
        ),
        (
            "podFailurePolicy",
            json_of(&spec.pod_failure_policy),
            json_of(&os.pod_failure_policy),
        ),
        (
            "backoffLimitPerIndex",
            json_of(&spec.backoff_limit_per_index),
            json_of(&os.backoff_limit_per_index),
        ),
        (
            "managedBy",
            json_of(&spec.managed_by),
            json_of(&os.managed_by),
        ),
    ] {
        if a != b {
            errs.push(FieldCause::invalid_rendered(
                path.child(field),
                a,
                "field is immutable",
            ));
        }
    }
    errs
}

/// CronJob create/update validation.
pub fn validate_cron_job(new: &Value, old: Option<&Value>) -> Errors {
    let (cj, o) = match decode_pair::<CronJob>("CronJob", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&cj.metadata, &o.metadata, &mp));
    }
    errs.extend(validate_object_meta(
        &cj.metadata,
        true,
        NameRule::Subdomain,
        &mp,
    ));
    let spec = cj.spec.clone().unwrap_or_default();
    let ospec = o.as_ref().map(|o| o.spec.clone().unwrap_or_default());
    let path = Path::new("spec");
    let sp = path.child("schedule");
    if spec.schedule.is_empty() {
        errs.push(FieldCause::required(&sp));
    } else {
        let allow_tz = ospec.as_ref().is_some_and(|o| o.schedule.contains("TZ"));
        if let Err(e) = super::cron::parse_standard(&spec.schedule) {
            errs.push(FieldCause::invalid(&sp, &jstr(&spec.schedule), e));
        }
        if allow_tz && spec.schedule.contains("TZ") && spec.time_zone.is_some() {
            errs.push(FieldCause::invalid(
                &sp,
                &jstr(&spec.schedule),
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && spec.schedule.contains("TZ") {
            errs.push(FieldCause::invalid(
                &sp,
                &jstr(&spec.schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(d) = spec.starting_deadline_seconds {
        errs.extend(nonnegative(d, &path.child("startingDeadlineSeconds")));
    }
    if ospec.as_ref().is_none_or(|o| o.time_zone != spec.time_zone) {
        errs.extend(time_zone(
            spec.time_zone.as_deref(),
            &path.child("timeZone"),
        ));
    }
    let cp = path.child("concurrencyPolicy");
    match s(&spec.concurrency_policy) {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldCause::required(&cp)),
        other => errs.push(FieldCause::not_supported(
            &cp,
            &jstr(other),
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jp = path.child("jobTemplate");
    let js = spec.job_template.spec.clone().unwrap_or_default();
    errs.extend(job_spec_common(&js, &jp.child("spec")));
    if let Some(sel) = &js.selector {
        errs.push(FieldCause::invalid_rendered(
            jp.child("spec").child("selector"),
            go_label_selector(Some(sel)),
            "`selector` will be auto-generated",
        ));
    }
    if js.manual_selector == Some(true) {
        errs.push(FieldCause::not_supported(
            jp.child("spec").child("manualSelector"),
            &Value::Bool(true),
            &["nil", "false"],
        ));
    }
    for (field, v) in [
        (
            "successfulJobsHistoryLimit",
            spec.successful_jobs_history_limit,
        ),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ] {
        if let Some(v) = v {
            errs.extend(nonnegative(i64::from(v), &path.child(field)));
        }
    }
    if o.is_none() && s(&cj.metadata.name).len() > 52 {
        errs.push(FieldCause::invalid(
            mp.child("name"),
            &jstr(s(&cj.metadata.name)),
            "must be no more than 52 characters",
        ));
    }
    errs
}

fn time_zone(tz: Option<&str>, path: &Path) -> Errors {
    let Some(tz) = tz else {
        return Vec::new();
    };
    if tz.is_empty() {
        return vec![FieldCause::invalid(
            path,
            &jstr(tz),
            "timeZone must be nil or non-empty string",
        )];
    }
    for part in tz.split('/') {
        let ok = (1..=14).contains(&part.len())
            && part
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c));
        if part == "." || part == ".." || part.starts_with('-') || !ok {
            return vec![FieldCause::invalid(
                path,
                &jstr(tz),
                format!("unknown time zone {tz}"),
            )];
        }
    }
    if tz.eq_ignore_ascii_case("local") {
        return vec![FieldCause::invalid(
            path,
            &jstr(tz),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{validate_create, validate_update};
    use crate::defaults::{apply, apply_on_create};
    use serde_json::json;

    fn job(restart: &str) -> serde_json::Value {
        let mut j = json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u-1"}, "spec": {"template": {
            "spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl"}]}}}});
        apply("batch", "Job", &mut j);
        apply_on_create("batch", "Job", &mut j);
        j
    }

    #[test]
    fn jobs() {
        assert_valid(&validate_create("batch", "Job", &job("Never")));
        let errs = validate_create("batch", "Job", &job("Always"));
        assert_eq!(
            lines(&errs),
            vec![
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
            ]
        );

        let mut no_selector = json!({"metadata": {"name": "pi", "namespace": "d"}, "spec": {"template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        apply("batch", "Job", &mut no_selector);
        assert_has(
            &validate_create("batch", "Job", &no_selector),
            "spec.selector",
            "Required value",
        );

        let mut bad = job("Never");
        bad["spec"]["parallelism"] = json!(-1);
        bad["spec"]["completionMode"] = json!("Sometimes");
        bad["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "other"}});
        let errs = validate_create("batch", "Job", &bad);
        assert_has(
            &errs,
            "spec.parallelism",
            "Invalid value: -1: must be greater than or equal to 0",
        );
        assert_has(
            &errs,
            "spec.completionMode",
            "Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\"",
        );
        assert_has_prefix(
            &errs,
            "spec.selector",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"other\"}",
        );
        assert_has_prefix(
            &errs,
            "spec.template.metadata.labels",
            "Invalid value: map[string]string{",
        );
    }

    #[test]
    fn job_indexes_and_failure_policies() {
        let mut j = job("Never");
        j["spec"]["backoffLimitPerIndex"] = json!(1);
        j["spec"]["podFailurePolicy"] = json!({"rules": [{"action": "FailIndex"}, {"action": "Retry", "onExitCodes": {"operator": "In", "values": [1]}}]});
        j["spec"]["podReplacementPolicy"] = json!("TerminatingOrFailed");
        let errs = validate_create("batch", "Job", &j);
        assert_has(
            &errs,
            "spec.backoffLimitPerIndex",
            "Invalid value: 1: requires indexed completion mode",
        );
        assert_has(
            &errs,
            "spec.podFailurePolicy.rules[0]",
            "Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
        );
        assert_has(
            &errs,
            "spec.podFailurePolicy.rules[1].action",
            "Unsupported value: \"Retry\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
        );
        assert_has(
            &errs,
            "spec.podReplacementPolicy",
            "Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
        );
        let mut no_uid = job("Never");
        no_uid["metadata"]["uid"] = json!("");
        assert_has(
            &validate_create("batch", "Job", &no_uid),
            "metadata.uid",
            "Required value",
        );
    }

    #[test]
    fn job_updates() {
        let mut old = job("Never");
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["spec"]["parallelism"] = json!(2);
        assert_valid(&validate_update("batch", "Job", &new, &old));
        new["spec"]["completions"] = json!(5);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        let errs = validate_update("batch", "Job", &new, &old);
        assert_has(
            &errs,
            "spec.completions",
            "Invalid value: 5: field is immutable",
        );
        assert_has_prefix(&errs, "spec.template", "Invalid value: ");
        assert!(
            errs.iter()
                .any(|e| e.field == "spec.template" && e.message.ends_with("field is immutable"))
        );
    }

    #[test]
    fn cron_jobs() {
        let mut cj = json!({"metadata": {"name": "tick", "namespace": "d"}, "spec": {"schedule": "*/1 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox"}]}}}}}});
        apply("batch", "CronJob", &mut cj);
        assert_valid(&validate_create("batch", "CronJob", &cj));
        let mut bad = cj.clone();
        bad["spec"]["schedule"] = json!("61 * * * *");
        bad["spec"]["concurrencyPolicy"] = json!("Sometimes");
        bad["spec"]["timeZone"] = json!("Local");
        bad["metadata"]["name"] = json!("x".repeat(53));
        bad["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
        let errs = validate_create("batch", "CronJob", &bad);
        assert_has(
            &errs,
            "spec.schedule",
            "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
        );
        assert_has(
            &errs,
            "spec.concurrencyPolicy",
            "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
        );
        assert_has(
            &errs,
            "spec.timeZone",
            "Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        );
        assert_has(
            &errs,
            "metadata.name",
            &format!(
                "Invalid value: \"{}\": must be no more than 52 characters",
                "x".repeat(53)
            ),
        );
        assert_has_prefix(
            &errs,
            "spec.jobTemplate.spec.selector",
            "Invalid value: v1.LabelSelector{",
        );
        let mut tz = cj.clone();
        tz["spec"]["schedule"] = json!("TZ=UTC 0 * * * *");
        assert_has(
            &validate_create("batch", "CronJob", &tz),
            "spec.schedule",
            "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        );
    }
}
