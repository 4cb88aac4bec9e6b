//! The `batch` group: jobs and cron jobs.

use jiff::Timestamp;
use serde_json::Value;

use super::age::{human_duration, since};
use super::types::TableRow;
use super::util::{
    AGE, CONTAINERS, IMAGES, NAME, Printer, age, arr_at, at, col, container_cells, deleting,
    format_label_selector, int_at, n, name, opt_bool, opt_int, opt_str, present, s, str_at,
    time_at, wide,
};

/// The printer of a `batch` resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "jobs" => &JOBS,
        "cronjobs" => &CRON_JOBS,
        _ => return None,
    })
}

static JOBS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "Whether the job runs, completed, failed or is suspended.",
        ),
        col(
            "Completions",
            "string",
            "Succeeded pods out of the completions wanted.",
        ),
        col(
            "Duration",
            "string",
            "How long the job ran, or has been running.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        wide("Selector", "string", "Labels of the pods the job owns."),
    ],
    row: job_row,
    order: None,
};

fn job_row(job: &Value, now: Timestamp) -> TableRow {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions_spec = opt_int(job, &["spec", "completions"]);
    let parallelism = opt_int(job, &["spec", "parallelism"]);
    // Storage defaults both to 1 when neither is set, and parallelism to 1 when unset.
    let completions = match (completions_spec, parallelism) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, None) => format!("{succeeded}/1"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        (None, Some(_)) => format!("{succeeded}/1"),
    };
    let start = time_at(job, &["status", "startTime"]);
    let duration = if !present(job, &["status", "startTime"]) {
        String::new()
    } else if !present(job, &["status", "completionTime"]) {
        since(now, start)
    } else {
        match (start, time_at(job, &["status", "completionTime"])) {
            (Some(start), Some(end)) => human_duration(end.duration_since(start)),
            // A zero time on either side; Go would compute a huge span.
            _ => "<unknown>".to_owned(),
        }
    };
    let conditions = arr_at(job, &["status", "conditions"]);
    let status = if job_condition(conditions, "Complete") {
        "Complete"
    } else if job_condition(conditions, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if job_condition(conditions, "Suspended") {
        "Suspended"
    } else if job_condition(conditions, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (containers, images) =
        container_cells(arr_at(job, &["spec", "template", "spec", "containers"]));
    TableRow::new(vec![
        name(job),
        s(status),
        s(completions),
        s(duration),
        age(job, now),
        containers,
        images,
        s(format_label_selector(at(job, &["spec", "selector"]))),
    ])
}

/// Whether the first condition of type `type_` has status `True`.
fn job_condition(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

static CRON_JOBS: Printer = Printer {
    columns: &[
        NAME,
        col("Schedule", "string", "The cron schedule."),
        col("Timezone", "string", "Time zone of the schedule."),
        col("Suspend", "boolean", "Whether new runs are suspended."),
        col("Active", "integer", "Number of jobs running."),
        col(
            "Last Schedule",
            "string",
            "Time since a job was last scheduled.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        wide("Selector", "string", "Labels of the pods the jobs own."),
    ],
    row: cron_job_row,
    order: None,
};

fn cron_job_row(cj: &Value, now: Timestamp) -> TableRow {
    let last_schedule = if present(cj, &["status", "lastScheduleTime"]) {
        since(now, time_at(cj, &["status", "lastScheduleTime"]))
    } else {
        "<none>".to_owned()
    };
    // Storage defaults suspend to false.
    let suspend = if opt_bool(cj, &["spec", "suspend"]).unwrap_or(false) {
        "True"
    } else {
        "False"
    };
    let (containers, images) = container_cells(arr_at(
        cj,
        &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
        ],
    ));
    TableRow::new(vec![
        name(cj),
        s(str_at(cj, &["spec", "schedule"])),
        s(opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        s(suspend),
        n(arr_at(cj, &["status", "active"]).len() as i64),
        s(last_schedule),
        age(cj, now),
        containers,
        images,
        s(format_label_selector(at(
            cj,
            &["spec", "jobTemplate", "spec", "selector"],
        ))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn cells(p: &Printer, obj: Value) -> Value {
        let row = (p.row)(&obj, now());
        assert_eq!(row.cells.len(), p.columns.len(), "cells vs columns");
        json!(row.cells)
    }

    fn job(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}});
        spec["template"] = json!({"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}});
        json!({"metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:00:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn table_job_cells() {
        let done = job(
            json!({"completions": 1, "parallelism": 1}),
            json!({"succeeded": 1, "startTime": "2024-05-01T11:00:00Z",
                   "completionTime": "2024-05-01T11:00:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(
            cells(&JOBS, done),
            json!([
                "pi",
                "Complete",
                "1/1",
                "42s",
                "60m",
                "pi",
                "perl:5.34",
                "batch.kubernetes.io/controller-uid=u1"
            ])
        );
        let running = job(
            json!({"parallelism": 3}),
            json!({"active": 3, "startTime": "2024-05-01T11:55:00Z"}),
        );
        let c = cells(&JOBS, running);
        assert_eq!(
            (&c[1], &c[2], &c[3]),
            (&json!("Running"), &json!("0/1 of 3"), &json!("5m"))
        );

        let pending = job(json!({}), json!({}));
        let c = cells(&JOBS, pending);
        assert_eq!(
            (&c[1], &c[2], &c[3]),
            (&json!("Running"), &json!("0/1"), &json!(""))
        );

        let failed = job(
            json!({"completions": 5, "parallelism": 2}),
            json!({"succeeded": 2, "failed": 6, "startTime": "2024-05-01T11:00:00Z",
                   "conditions": [{"type": "FailureTarget", "status": "True"},
                                  {"type": "Failed", "status": "True"}]}),
        );
        let c = cells(&JOBS, failed);
        assert_eq!(
            (&c[1], &c[2], &c[3]),
            (&json!("Failed"), &json!("2/5"), &json!("60m"))
        );

        let suspended = job(
            json!({"completions": 1, "suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(cells(&JOBS, suspended)[1], json!("Suspended"));
        let mut deleting = job(json!({"completions": 1}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        assert_eq!(cells(&JOBS, deleting)[1], json!("Terminating"));
    }

    #[test]
    fn table_cron_job_cells() {
        let cj = json!({"metadata": {"name": "backup", "creationTimestamp": "2024-04-30T12:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                        {"name": "backup", "image": "alpine"}]}}}}},
            "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": "2024-05-01T11:55:00Z"}});
        assert_eq!(
            cells(&CRON_JOBS, cj),
            json!([
                "backup",
                "*/5 * * * *",
                "<none>",
                "False",
                1,
                "5m",
                "24h",
                "backup",
                "alpine",
                "<none>"
            ])
        );
        let cj = json!({"metadata": {"name": "tz"},
            "spec": {"schedule": "0 3 * * *", "timeZone": "Etc/UTC", "suspend": true}});
        assert_eq!(
            cells(&CRON_JOBS, cj),
            json!([
                "tz",
                "0 3 * * *",
                "Etc/UTC",
                "True",
                0,
                "<none>",
                "<unknown>",
                "",
                "",
                "<none>"
            ])
        );
    }
}
