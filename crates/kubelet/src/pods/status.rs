//! The pod status the kubelet reports, computed from the pod spec and what the runtime holds:
//! phase, conditions and container statuses, as upstream's kubelet derives them.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::resources::qos_class;
use super::runtime_state::{self, PodRuntime, State};

/// A reason a container is waiting that the runtime does not know (image pull errors, config
/// errors, back-off), with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// Upstream's reason (`ErrImagePull`, `CrashLoopBackOff`, …).
    pub reason: String,
    /// The explanation.
    pub message: String,
}

/// Everything the status is computed from.
pub struct StatusInputs<'a> {
    /// The pod as last read.
    pub pod: &'a Pod,
    /// The runtime's view of it.
    pub runtime: &'a PodRuntime,
    /// The pod IP (host IP for host-network pods), once networking is up.
    pub pod_ip: Option<String>,
    /// The node's IP.
    pub host_ip: String,
    /// Waiting reasons by container name.
    pub waiting: &'a HashMap<String, Waiting>,
    /// Readiness by container name of running containers, from probes (absent: not probed,
    /// ready when running).
    pub readiness: &'a HashMap<String, bool>,
    /// Containers (by name) still held back by a startup probe.
    pub not_started: &'a [String],
    /// Now.
    pub now: Time,
}

fn ns_time(ns: i64) -> Option<Time> {
    (ns > 0)
        .then(|| {
            jiff::Timestamp::from_nanosecond(i128::from(ns))
                .ok()
                .map(Time)
        })
        .flatten()
}

/// The runtime's container ID as the API shows it.
pub fn container_id(id: &str) -> String {
    format!("containerd://{id}")
}

fn terminated(c: &runtime_state::Container) -> ContainerState {
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: c.exit_code,
            reason: Some(reason),
            message: Some(c.message.clone()).filter(|m| !m.is_empty()),
            started_at: ns_time(c.started_at),
            finished_at: ns_time(c.finished_at),
            container_id: Some(container_id(&c.id)),
            signal: None,
        }),
        ..Default::default()
    }
}

fn waiting_state(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: message.map(str::to_string).filter(|m| !m.is_empty()),
        }),
        ..Default::default()
    }
}

fn container_status(
    spec: &Container,
    runtime: &PodRuntime,
    waiting: Option<&Waiting>,
    default_waiting: &str,
    readiness: Option<bool>,
    started: bool,
) -> ContainerStatus {
    let mut history = runtime.containers.iter().filter(|c| c.name == spec.name);
    let latest = history.next();
    let previous = history.next();
    let mut status = ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        ready: false,
        restart_count: latest.map_or(0, |c| c.attempt as i32),
        started: Some(false),
        ..Default::default()
    };
    match latest {
        Some(c) => {
            status.image_id = c.image_ref.clone();
            status.container_id = Some(container_id(&c.id));
            match c.state {
                State::Running => {
                    status.state = Some(ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: ns_time(c.started_at),
                        }),
                        ..Default::default()
                    });
                    status.last_state = previous.map(terminated);
                    status.started = Some(started);
                    status.ready = started && readiness.unwrap_or(spec.readiness_probe.is_none());
                }
                State::Exited => match waiting {
                    Some(w) => {
                        status.state = Some(waiting_state(&w.reason, Some(&w.message)));
                        status.last_state = Some(terminated(c));
                    }
                    None => {
                        status.state = Some(terminated(c));
                        status.last_state = previous.map(terminated);
                    }
                },
                State::Created | State::Unknown => {
                    let (reason, message) = waiting.map_or((default_waiting, None), |w| {
                        (w.reason.as_str(), Some(w.message.as_str()))
                    });
                    status.state = Some(waiting_state(reason, message));
                    status.last_state = previous.map(terminated);
                }
            }
        }
        None => {
            let (reason, message) = waiting.map_or((default_waiting, None), |w| {
                (w.reason.as_str(), Some(w.message.as_str()))
            });
            status.state = Some(waiting_state(reason, message));
        }
    }
    if status.last_state.is_none() {
        status.last_state = Some(ContainerState::default());
    }
    status
}

/// Whether the init container's latest run (in the current sandbox) completed successfully.
pub fn init_done(runtime: &PodRuntime, sandbox_id: Option<&str>, name: &str) -> bool {
    let Some(sb) = sandbox_id else { return false };
    runtime
        .containers_named(sb, name)
        .next()
        .is_some_and(|c| c.state == State::Exited && c.exit_code == 0)
}

/// The pod phase from its container statuses (upstream's `getPhase`).
pub fn phase(
    pod: &Pod,
    init: &[ContainerStatus],
    containers: &[ContainerStatus],
    initialized: bool,
) -> &'static str {
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    if !initialized {
        let failed = init.iter().any(|s| {
            let term = s
                .state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .or_else(|| {
                    // A waiting init container after a failure (back-off) counts as failed too.
                    s.state
                        .as_ref()
                        .filter(|st| st.waiting.is_some())
                        .and(s.last_state.as_ref())
                        .and_then(|l| l.terminated.as_ref())
                });
            term.is_some_and(|t| t.exit_code != 0)
        });
        return if failed && policy == "Never" {
            "Failed"
        } else {
            "Pending"
        };
    }
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in containers {
        let st = s.state.clone().unwrap_or_default();
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s
            .last_state
            .as_ref()
            .is_some_and(|l| l.terminated.is_some())
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match policy {
            "Always" => "Running",
            "OnFailure" if stopped == succeeded => "Succeeded",
            "OnFailure" => "Running",
            _ if stopped == succeeded => "Succeeded",
            _ => "Failed",
        };
    }
    "Pending"
}

/// The status to report.
pub fn pod_status(inputs: &StatusInputs<'_>) -> PodStatus {
    let pod = inputs.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let previous = pod.status.clone().unwrap_or_default();
    let sandbox = inputs.runtime.latest_sandbox().filter(|s| s.ready);
    let sandbox_id = sandbox.map(|s| s.id.as_str());

    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let pending_init: Vec<String> = init_specs
        .iter()
        .filter(|c| !init_done(inputs.runtime, sandbox_id, &c.name))
        .map(|c| c.name.clone())
        .collect();
    let initialized = pending_init.is_empty();
    let init_statuses: Vec<ContainerStatus> = init_specs
        .iter()
        .map(|c| {
            container_status(
                c,
                inputs.runtime,
                inputs.waiting.get(&c.name),
                "PodInitializing",
                None,
                true,
            )
        })
        .collect();
    let app_waiting = if initialized {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| {
            container_status(
                c,
                inputs.runtime,
                inputs.waiting.get(&c.name),
                app_waiting,
                inputs.readiness.get(&c.name).copied(),
                !inputs.not_started.contains(&c.name),
            )
        })
        .collect();

    let mut phase = phase(pod, &init_statuses, &statuses, initialized).to_string();
    if matches!(
        previous.phase.as_deref(),
        Some("Succeeded") | Some("Failed")
    ) {
        phase = previous.phase.clone().unwrap_or_default(); // terminal phases never change
    }
    let terminal = phase == "Succeeded" || phase == "Failed";

    let unready: Vec<String> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.clone())
        .collect();
    let condition = |type_: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let transition = previous
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| inputs.now.clone());
        PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason: if ok { None } else { reason },
            message: if ok { None } else { message },
            last_transition_time: Some(transition),
            last_probe_time: None,
            observed_generation: None,
        }
    };
    let list = |names: &[String]| format!("[{}]", names.join(" "));
    let (ready_reason, ready_message) = if terminal {
        (Some("PodCompleted".to_string()), None)
    } else {
        (
            Some("ContainersNotReady".to_string()),
            Some(format!(
                "containers with unready status: {}",
                list(&unready)
            )),
        )
    };
    let all_ready = unready.is_empty() && !terminal;
    let mut conditions = vec![
        condition(
            "PodReadyToStartContainers",
            sandbox.is_some() && !terminal,
            None,
            None,
        ),
        condition(
            "Initialized",
            initialized,
            Some("ContainersNotInitialized".into()),
            Some(format!(
                "containers with incomplete status: {}",
                list(&pending_init)
            )),
        ),
        condition(
            "Ready",
            all_ready,
            ready_reason.clone(),
            ready_message.clone(),
        ),
        condition("ContainersReady", all_ready, ready_reason, ready_message),
    ];
    match previous
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")
    {
        Some(c) => conditions.push(c.clone()),
        None => conditions.push(condition("PodScheduled", true, None, None)),
    }
    // Conditions set by others (readiness gates, DisruptionTarget) are kept.
    let ours = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ];
    conditions.extend(
        previous
            .conditions
            .iter()
            .flatten()
            .filter(|c| !ours.contains(&c.type_.as_str()))
            .cloned(),
    );

    let pod_ip = inputs.pod_ip.clone().or(previous.pod_ip.clone());
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.clone()),
        host_ips: Some(vec![HostIP {
            ip: inputs.host_ip.clone(),
        }]),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        start_time: previous
            .start_time
            .clone()
            .or_else(|| Some(inputs.now.clone())),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        qos_class: Some(qos_class(pod).as_str().into()),
        ..Default::default()
    }
}

/// Whether the apiserver's status differs from what the kubelet would write, ignoring the
/// fields others own (scheduler, resize, claims) and the pod-level reason and message.
pub fn differs(current: Option<&PodStatus>, desired: &PodStatus) -> bool {
    let Some(current) = current else { return true };
    let ours = |s: &PodStatus| PodStatus {
        nominated_node_name: None,
        resize: None,
        resource_claim_statuses: None,
        observed_generation: None,
        message: None,
        reason: None,
        ..s.clone()
    };
    ours(current) != ours(desired)
}
