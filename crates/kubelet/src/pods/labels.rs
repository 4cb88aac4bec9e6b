//! The labels and annotations the kubelet puts on CRI sandboxes and containers (upstream's
//! keys, so runtime tools show the same thing), and reading them back after a restart.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;

/// Sandbox and container label: the pod's name.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Sandbox and container label: the pod's namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Sandbox and container label: the pod's UID.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Container label: the container's name in the pod spec.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Container annotation: how many times this container had been restarted.
pub const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Container annotation: the termination message path inside the container.
pub const TERMINATION_MESSAGE_PATH: &str = "io.kubernetes.container.terminationMessagePath";
/// Container annotation: the pod's termination grace period, for killing an orphan.
pub const GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Container annotation: the preStop exec command (JSON), for killing an orphan.
pub const PRE_STOP: &str = "io.kubernetes.container.preStopHandler";

/// Labels identifying `pod` on its sandbox (plus the pod's own labels, as upstream).
pub fn sandbox_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(pod_identity(pod));
    labels
}

/// Labels identifying container `name` of `pod`.
pub fn container_labels(pod: &Pod, name: &str) -> HashMap<String, String> {
    let mut labels = pod_identity(pod);
    labels.insert(CONTAINER_NAME.into(), name.into());
    labels
}

fn pod_identity(pod: &Pod) -> HashMap<String, String> {
    let m = &pod.metadata;
    HashMap::from([
        (POD_NAME.into(), m.name.clone().unwrap_or_default()),
        (
            POD_NAMESPACE.into(),
            m.namespace.clone().unwrap_or_default(),
        ),
        (POD_UID.into(), m.uid.clone().unwrap_or_default()),
    ])
}
