//! Finding what a kubelet API request names: the pod (read from the apiserver, and only if it
//! is bound to this node, as upstream's kubelet only knows its own pods), a container of its
//! spec, and that container's current or previous instance from the pod's status.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::Api;

use super::ServerState;

/// Pod `ns/name` if it exists and is bound to this node.
pub async fn pod(state: &ServerState, ns: &str, name: &str) -> Result<Option<Pod>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(state.client.clone(), ns);
    let pod = pods.get_opt(name).await?;
    Ok(pod.filter(|p| {
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(state.node_name.as_str())
    }))
}

/// Whether the pod's spec has a container (regular, init or ephemeral) named `name`.
pub fn has_container(pod: &Pod, name: &str) -> bool {
    let Some(spec) = &pod.spec else { return false };
    spec.containers.iter().any(|c| c.name == name)
        || spec
            .init_containers
            .iter()
            .flatten()
            .any(|c| c.name == name)
        || spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|c| c.name == name)
}

/// Whether container `name` asked for a TTY (attach must use the container's own setting).
pub fn container_tty(pod: &Pod, name: &str) -> bool {
    let Some(spec) = &pod.spec else { return false };
    let regular = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .map(|c| c.tty);
    let ephemeral = || {
        spec.ephemeral_containers
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .map(|c| c.tty)
    };
    regular.or_else(ephemeral).flatten().unwrap_or(false)
}

fn status_of<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .chain(status.ephemeral_container_statuses.iter().flatten())
        .find(|s| s.name == name)
}

/// The runtime ID (without the `containerd://` scheme) of the instance of container
/// `container` whose logs a request reads: the previous (last terminated) one with
/// `previous`, else the running one, else the last that ran. The error is upstream's text.
pub fn log_container_id(pod: &Pod, container: &str, previous: bool) -> Result<String, String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(status) = status_of(pod, container) else {
        return Err(format!(
            "container {container:?} in pod {pod_name:?} is not available"
        ));
    };
    let state = status.state.clone().unwrap_or_default();
    let last_terminated = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    let last_id = last_terminated
        .and_then(|t| t.container_id.as_deref())
        .filter(|id| !id.is_empty());
    let terminated_error = || format!("container {container:?} in pod {pod_name:?} is terminated");
    let id = if previous {
        last_id.ok_or_else(|| {
            format!("previous terminated container {container:?} in pod {pod_name:?} not found")
        })?
    } else if state.running.is_some() {
        status
            .container_id
            .as_deref()
            .ok_or_else(terminated_error)?
    } else if let Some(t) = &state.terminated {
        match t.container_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => last_id.ok_or_else(terminated_error)?,
        }
    } else if last_terminated.is_some() {
        last_id.ok_or_else(terminated_error)?
    } else if let Some(w) = &state.waiting {
        let reason = w.reason.as_deref().unwrap_or_default();
        return Err(match reason {
            "ErrImagePull" => format!(
                "container {container:?} in pod {pod_name:?} is waiting to start: image can't be pulled"
            ),
            "ImagePullBackOff" => format!(
                "container {container:?} in pod {pod_name:?} is waiting to start: trying and failing to pull image"
            ),
            _ => {
                format!("container {container:?} in pod {pod_name:?} is waiting to start: {reason}")
            }
        });
    } else {
        return Err(format!(
            "container {container:?} in pod {pod_name:?} is waiting to start - no logs yet"
        ));
    };
    Ok(strip_scheme(id).to_string())
}

/// `containerd://abc` → `abc`.
pub fn strip_scheme(id: &str) -> &str {
    id.split_once("://").map_or(id, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "tty": true}], "initContainers": [{"name": "i"}]},
            "status": {"containerStatuses": [status]},
        }))
        .unwrap()
    }

    #[test]
    fn current_and_previous_instances() {
        let running = pod(
            json!({"name": "c", "image": "x", "ready": true, "restartCount": 1,
            "containerID": "containerd://new",
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://old"}}}),
        );
        assert_eq!(log_container_id(&running, "c", false).unwrap(), "new");
        assert_eq!(log_container_id(&running, "c", true).unwrap(), "old");
        assert!(has_container(&running, "i") && !has_container(&running, "x"));
        assert!(container_tty(&running, "c") && !container_tty(&running, "i"));

        let fresh = pod(
            json!({"name": "c", "image": "x", "ready": true, "restartCount": 0,
            "containerID": "containerd://new", "state": {"running": {}}, "lastState": {}}),
        );
        assert_eq!(
            log_container_id(&fresh, "c", true).unwrap_err(),
            r#"previous terminated container "c" in pod "p" not found"#
        );
        assert_eq!(
            log_container_id(&fresh, "i", false).unwrap_err(),
            r#"container "i" in pod "p" is not available"#
        );
    }

    #[test]
    fn crash_looping_and_waiting() {
        let looping = pod(
            json!({"name": "c", "image": "x", "ready": false, "restartCount": 2,
            "containerID": "containerd://b",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://b"}}}),
        );
        assert_eq!(log_container_id(&looping, "c", false).unwrap(), "b");
        assert_eq!(log_container_id(&looping, "c", true).unwrap(), "b");
        let creating = pod(
            json!({"name": "c", "image": "x", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}),
        );
        assert_eq!(
            log_container_id(&creating, "c", false).unwrap_err(),
            r#"container "c" in pod "p" is waiting to start: ContainerCreating"#
        );
    }
}
