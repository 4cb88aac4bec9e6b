//! Pods: the READY / STATUS / RESTARTS summary `kubectl get pods` shows.

use jiff::Timestamp;
use serde_json::Value;

use super::age::since;
use super::types::{TableRow, TableRowCondition};
use super::util::{
    AGE, NAME, Printer, age, arr_at, at, col, deleting, int_at, name, opt_bool, opt_str, present,
    s, str_at, time_at, wide,
};

/// The node lifecycle controller's `status.reason` for pods on an unreachable node.
const NODE_LOST_REASON: &str = "NodeLost";

pub(crate) static PODS: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready containers out of all containers."),
        col(
            "Status",
            "string",
            "Summary of the pod's phase and container states.",
        ),
        col(
            "Restarts",
            "string",
            "Container restarts, and how long ago the last one was.",
        ),
        AGE,
        wide("IP", "string", "The pod's IP address."),
        wide("Node", "string", "The node the pod is bound to."),
        wide(
            "Nominated Node",
            "string",
            "The node the pod may preempt its way onto.",
        ),
        wide(
            "Readiness Gates",
            "string",
            "Readiness gates that are satisfied, out of all gates.",
        ),
    ],
    row: pod_row,
    order: None,
};

/// Restart count and most recent restart (the finish time of a previous run).
#[derive(Default)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int_at(status, &["restartCount"]);
        if present(status, &["lastState", "terminated"]) {
            let finished = time_at(status, &["lastState", "terminated", "finishedAt"]);
            if finished > self.last {
                self.last = finished;
            }
        }
    }
}

fn is_object(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some_and(Value::is_object)
}

fn pod_row(pod: &Value, now: Timestamp) -> TableRow {
    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = match str_at(pod, &["status", "reason"]) {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    let conditions = arr_at(pod, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_owned();
    }

    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    // A restartable init container (a sidecar) is one with restartPolicy Always; a status whose
    // name matches no spec is not one. With duplicate names the last spec wins, as upstream.
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .rev()
            .find(|c| str_at(c, &["name"]) == name)
            .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
    };
    let total = arr_at(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;

    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    for (i, status) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts.add(status);
        let sidecar = is_sidecar(str_at(status, &["name"]));
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = is_object(status, &["state", "terminated"]);
        if terminated && int_at(status, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if sidecar && opt_bool(status, &["started"]) == Some(true) {
            if opt_bool(status, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        let waiting_reason = if is_object(status, &["state", "waiting"]) {
            str_at(status, &["state", "waiting", "reason"])
        } else {
            ""
        };
        reason = if terminated {
            match str_at(status, &["state", "terminated", "reason"]) {
                "" => match int_at(status, &["state", "terminated", "signal"]) {
                    0 => format!(
                        "Init:ExitCode:{}",
                        int_at(status, &["state", "terminated", "exitCode"])
                    ),
                    signal => format!("Init:Signal:{signal}"),
                },
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || pod_condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        // Walk backwards so that the first container with a reason has the last word.
        for status in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts.add(status);
            let waiting_reason = if is_object(status, &["state", "waiting"]) {
                str_at(status, &["state", "waiting", "reason"])
            } else {
                ""
            };
            let terminated = is_object(status, &["state", "terminated"]);
            let terminated_reason = str_at(status, &["state", "terminated", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if terminated && !terminated_reason.is_empty() {
                reason = terminated_reason.to_owned();
            } else if terminated {
                reason = match int_at(status, &["state", "terminated", "signal"]) {
                    0 => format!(
                        "ExitCode:{}",
                        int_at(status, &["state", "terminated", "exitCode"])
                    ),
                    signal => format!("Signal:{signal}"),
                };
            } else if opt_bool(status, &["ready"]) == Some(true)
                && is_object(status, &["state", "running"])
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose containers completed but one still runs is shown as running.
        if reason == "Completed" && has_running {
            let ready_condition = conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
            reason = if ready_condition {
                "Running".to_owned()
            } else {
                "NotReady".to_owned()
            };
        }
    }

    if deleting(pod) && str_at(pod, &["status", "reason"]) == NODE_LOST_REASON {
        reason = "Unknown".to_owned();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_cell = match restarts.last {
        Some(last) if restarts.count != 0 => {
            format!("{} ({} ago)", restarts.count, since(now, Some(last)))
        }
        _ => restarts.count.to_string(),
    };

    // Wide columns. The pod IP is status.podIP, falling back to the first of status.podIPs.
    let ip = match str_at(pod, &["status", "podIP"]) {
        "" => arr_at(pod, &["status", "podIPs"])
            .first()
            .map_or("", |ip| str_at(ip, &["ip"])),
        ip => ip,
    };
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let satisfied = gates
            .iter()
            .filter(|gate| {
                let wanted = str_at(gate, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == wanted)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{satisfied}/{}", gates.len())
    };
    let mut row = TableRow::new(vec![
        name(pod),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_cell),
        age(pod, now),
        s(none_if_empty(ip)),
        s(none_if_empty(str_at(pod, &["spec", "nodeName"]))),
        s(none_if_empty(str_at(pod, &["status", "nominatedNodeName"]))),
        s(gates_cell),
    ]);
    match phase {
        "Succeeded" => row.conditions.push(completed_condition(
            "Succeeded",
            "The pod ran to completion.",
        )),
        "Failed" => row
            .conditions
            .push(completed_condition("Failed", "The pod has failed.")),
        _ => {}
    }
    row
}

fn completed_condition(reason: &str, message: &str) -> TableRowCondition {
    TableRowCondition {
        type_: "Completed".to_owned(),
        status: "True".to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
    }
}

/// Whether the first pod condition of type `type_` has status `True`.
fn pod_condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| opt_str(c, &["type"]) == Some(type_))
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn none_if_empty(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2024-05-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// A pod created 10 minutes before NOW with the given spec and status.
    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default",
                         "creationTimestamp": "2024-05-01T11:50:00Z"},
            "spec": spec,
            "status": status,
        })
    }

    fn two_containers() -> Value {
        json!({"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]})
    }

    fn running(name: &str, ready: bool, restarts: i64) -> Value {
        json!({"name": name, "ready": ready, "restartCount": restarts,
               "state": {"running": {"startedAt": "2024-05-01T11:51:00Z"}}})
    }

    /// (READY, STATUS, RESTARTS) of a pod.
    fn summary(p: &Value) -> (String, String, String) {
        let row = pod_row(p, now());
        let cell = |i: usize| row.cells[i].as_str().unwrap().to_owned();
        (cell(1), cell(2), cell(3))
    }

    fn check(p: Value, ready: &str, status: &str, restarts: &str) {
        assert_eq!(
            summary(&p),
            (ready.to_owned(), status.to_owned(), restarts.to_owned()),
            "{p:#}"
        );
    }

    #[test]
    fn table_pod_pending_unscheduled() {
        check(
            pod(
                two_containers(),
                json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}),
            ),
            "0/2",
            "Pending",
            "0",
        );
    }

    #[test]
    fn table_pod_scheduling_gated() {
        check(
            pod(
                two_containers(),
                json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            ),
            "0/2",
            "SchedulingGated",
            "0",
        );
    }

    #[test]
    fn table_pod_container_creating() {
        check(
            pod(
                two_containers(),
                json!({"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}},
                {"name": "b", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
            ),
            "0/2",
            "ContainerCreating",
            "0",
        );
    }

    #[test]
    fn table_pod_running_ready_and_not_ready() {
        check(
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [
                running("a", true, 0), running("b", true, 0)]}),
            ),
            "2/2",
            "Running",
            "0",
        );
        check(
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [
                running("a", true, 0), running("b", false, 0)]}),
            ),
            "1/2",
            "Running",
            "0",
        );
    }

    #[test]
    fn table_pod_crash_loop_with_restart_age() {
        let status = json!({"phase": "Running", "containerStatuses": [
            running("a", true, 0),
            {"name": "b", "ready": false, "restartCount": 3,
             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                          "finishedAt": "2024-05-01T11:55:00Z"}}}]});
        check(
            pod(two_containers(), status),
            "1/2",
            "CrashLoopBackOff",
            "3 (5m ago)",
        );
    }

    #[test]
    fn table_pod_restarts_without_finish_time() {
        let status = json!({"phase": "Running", "containerStatuses": [
            running("a", true, 2), running("b", true, 1)]});
        check(pod(two_containers(), status), "2/2", "Running", "3");
    }

    #[test]
    fn table_pod_first_container_reason_wins() {
        let status = json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            {"name": "b", "state": {"waiting": {"reason": "ErrImagePull"}}}]});
        check(
            pod(two_containers(), status),
            "0/2",
            "ImagePullBackOff",
            "0",
        );
    }

    #[test]
    fn table_pod_completed_and_failed() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        check(p.clone(), "0/1", "Completed", "0");
        let row = pod_row(&p, now());
        assert_eq!(row.conditions.len(), 1);
        assert_eq!(row.conditions[0].type_, "Completed");
        assert_eq!(row.conditions[0].reason, "Succeeded");

        check(
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
            ),
            "0/1",
            "Error",
            "0",
        );
        check(
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 137}}}]}),
            ),
            "0/1",
            "ExitCode:137",
            "0",
        );
        check(
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
            ),
            "0/1",
            "Signal:9",
            "0",
        );
    }

    #[test]
    fn table_pod_completed_but_one_running() {
        let spec = two_containers();
        let statuses = json!([
            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            running("b", true, 0)
        ]);
        check(
            pod(
                spec.clone(),
                json!({"phase": "Running", "containerStatuses": statuses,
                "conditions": [{"type": "Ready", "status": "True"}]}),
            ),
            "1/2",
            "Running",
            "0",
        );
        check(
            pod(
                spec,
                json!({"phase": "Running", "containerStatuses": statuses,
                "conditions": [{"type": "Ready", "status": "False"}]}),
            ),
            "1/2",
            "NotReady",
            "0",
        );
    }

    #[test]
    fn table_pod_evicted_reason() {
        check(
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
            ),
            "0/1",
            "Evicted",
            "0",
        );
    }

    #[test]
    fn table_pod_init_containers() {
        let spec = json!({
            "initContainers": [{"name": "i1"}, {"name": "i2"}],
            "containers": [{"name": "a"}]
        });
        // The first init container is still running.
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"running": {}}},
                {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}],
                "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            "0/1",
            "Init:0/2",
            "0",
        );
        // The first completed, the second is running.
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "state": {"running": {}}}]}),
            ),
            "0/1",
            "Init:1/2",
            "0",
        );
        // The second crash loops; its restarts count while initializing.
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "restartCount": 4,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}}]}),
            ),
            "0/1",
            "Init:CrashLoopBackOff",
            "4 (2m ago)",
        );
        // Failed init container: reason, exit code or signal.
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
            ),
            "0/1",
            "Init:Error",
            "0",
        );
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 3}}}]}),
            ),
            "0/1",
            "Init:ExitCode:3",
            "0",
        );
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 1, "signal": 15}}}]}),
            ),
            "0/1",
            "Init:Signal:15",
            "0",
        );
        // Both done: the regular containers decide.
        check(
            pod(
                spec,
                json!({"phase": "Running", "initContainerStatuses": [
                {"name": "i1", "restartCount": 1, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                "containerStatuses": [running("a", true, 0)],
                "conditions": [{"type": "Initialized", "status": "True"}]}),
            ),
            "1/1",
            "Running",
            "0",
        );
    }

    #[test]
    fn table_pod_sidecar_containers() {
        let spec = json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}],
            "containers": [{"name": "a"}]
        });
        // The sidecar started and is ready; the regular init container runs.
        check(
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "proxy", "started": true, "ready": true, "state": {"running": {}}},
                {"name": "setup", "state": {"running": {}}}]}),
            ),
            "1/2",
            "Init:1/2",
            "0",
        );
        // All running: sidecar restarts are counted, other init restarts are not.
        check(
            pod(
                spec,
                json!({"phase": "Running", "initContainerStatuses": [
                {"name": "proxy", "started": true, "ready": true, "restartCount": 2,
                 "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:00:00Z"}}},
                {"name": "setup", "restartCount": 5, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                "containerStatuses": [running("a", true, 0)],
                "conditions": [{"type": "Initialized", "status": "True"}]}),
            ),
            "2/2",
            "Running",
            "2 (60m ago)",
        );
    }

    #[test]
    fn table_pod_terminating_and_unknown() {
        let mut p = pod(
            two_containers(),
            json!({"phase": "Running", "containerStatuses": [running("a", true, 0), running("b", true, 0)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        check(p.clone(), "2/2", "Terminating", "0");
        p["status"]["reason"] = json!("NodeLost");
        check(p.clone(), "2/2", "Unknown", "0");
        // A finished pod being deleted keeps its final status.
        let mut done = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        done["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        check(done, "0/1", "Completed", "0");
    }

    #[test]
    fn table_pod_wide_cells() {
        let mut p = pod(
            json!({"containers": [{"name": "a"}], "nodeName": "node-1",
                   "readinessGates": [{"conditionType": "example.com/lb"},
                                      {"conditionType": "example.com/other"}]}),
            json!({"phase": "Running", "podIPs": [{"ip": "10.42.0.7"}],
                   "conditions": [{"type": "example.com/lb", "status": "True"}],
                   "containerStatuses": [running("a", true, 0)]}),
        );
        let row = pod_row(&p, now());
        assert_eq!(
            row.cells,
            vec![
                json!("web-0"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("10m"),
                json!("10.42.0.7"),
                json!("node-1"),
                json!("<none>"),
                json!("1/2"),
            ]
        );
        p["status"]["podIP"] = json!("10.42.0.9");
        p["spec"] = json!({"containers": []});
        let row = pod_row(&p, now());
        assert_eq!(row.cells[1], json!("1/0"));
        assert_eq!(row.cells[5], json!("10.42.0.9"));
        assert_eq!(row.cells[6], json!("<none>"));
        assert_eq!(row.cells[8], json!("<none>"));
    }

    #[test]
    fn table_pod_garbage_does_not_panic() {
        for junk in [
            json!(null),
            json!("pod"),
            json!({"metadata": "x", "spec": [], "status": 3}),
            json!({"status": {"initContainerStatuses": [1, "x", null],
                              "containerStatuses": [{"state": "running"}, {"state": {"terminated": null}}]}}),
        ] {
            let row = pod_row(&junk, now());
            assert_eq!(row.cells.len(), PODS.columns.len());
            assert_eq!(row.cells[0], json!(""));
            assert_eq!(row.cells[4], json!("<unknown>"));
        }
    }
}
