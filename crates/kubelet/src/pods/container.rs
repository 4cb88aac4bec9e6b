//! The CRI container config for one container of a pod: image, command, environment,
//! mounts, cgroup limits and security settings.

use std::collections::HashMap;
use std::path::Path;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod};

use super::expand::expand;
use super::{labels, resources};
use crate::volumes::Prepared;

/// Why a container's mounts could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A volumeMount names no volume of the pod.
    #[error("unable to find volume {0:?} for the container's volumeMount")]
    NoVolume(String),
    /// A subPath could not be created.
    #[error("failed to create subPath directory for volumeMount {name:?}: {source}")]
    SubPath {
        /// The mount's volume.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What the container config needs besides the pod.
pub struct ContainerInputs<'a> {
    /// The resolved environment.
    pub env: &'a [(String, String)],
    /// The pod's prepared volumes.
    pub volumes: &'a HashMap<String, Prepared>,
    /// The pod's hosts file, mounted at /etc/hosts (absent for host-network pods).
    pub hosts_file: Option<&'a Path>,
    /// The image reference to run (as resolved by the image service).
    pub image_ref: &'a str,
    /// The restart count this container is created with.
    pub attempt: u32,
    /// The node's memory capacity in bytes (for OOM score adjustment).
    pub memory_capacity: i64,
}

/// The CRI config for `container` of `pod`.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    inputs: &ContainerInputs<'_>,
) -> Result<cri::ContainerConfig, MountError> {
    let vars: HashMap<String, String> = inputs.env.iter().cloned().collect();
    let expand_all = |v: &Option<Vec<String>>| {
        v.iter()
            .flatten()
            .map(|s| expand(s, &vars))
            .collect::<Vec<_>>()
    };
    let mut mounts = Vec::new();
    for vm in container.volume_mounts.iter().flatten() {
        let vol = inputs
            .volumes
            .get(&vm.name)
            .ok_or_else(|| MountError::NoVolume(vm.name.clone()))?;
        let mut host = vol.host_path.clone();
        let sub = vm
            .sub_path_expr
            .as_deref()
            .map(|e| expand(e, &vars))
            .or_else(|| vm.sub_path.clone())
            .filter(|s| !s.is_empty());
        if let Some(sub) = sub {
            host = host.join(sub);
            if !host.exists() {
                std::fs::create_dir_all(&host).map_err(|source| MountError::SubPath {
                    name: vm.name.clone(),
                    source,
                })?;
            }
        }
        mounts.push(cri::Mount {
            container_path: vm.mount_path.clone(),
            host_path: host.to_string_lossy().into_owned(),
            readonly: vol.read_only || vm.read_only == Some(true),
            propagation: match vm.mount_propagation.as_deref() {
                Some("HostToContainer") => cri::MountPropagation::PropagationHostToContainer as i32,
                Some("Bidirectional") => cri::MountPropagation::PropagationBidirectional as i32,
                _ => cri::MountPropagation::PropagationPrivate as i32,
            },
            ..Default::default()
        });
    }
    if let Some(hosts) = inputs.hosts_file
        && !mounts.iter().any(|m| m.container_path == "/etc/hosts")
    {
        mounts.push(cri::Mount {
            container_path: "/etc/hosts".into(),
            host_path: hosts.to_string_lossy().into_owned(),
            ..Default::default()
        });
    }

    let spec = pod.spec.clone().unwrap_or_default();
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    let sc = container.security_context.clone().unwrap_or_default();
    let caps = sc.capabilities.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let ns_mode = |host: bool, private: cri::NamespaceMode| {
        if host {
            cri::NamespaceMode::Node as i32
        } else {
            private as i32
        }
    };
    let mut annotations = HashMap::from([
        (
            labels::RESTART_COUNT.to_string(),
            inputs.attempt.to_string(),
        ),
        (
            labels::TERMINATION_MESSAGE_PATH.to_string(),
            container
                .termination_message_path
                .clone()
                .unwrap_or_else(|| "/dev/termination-log".into()),
        ),
        (
            labels::GRACE_PERIOD.to_string(),
            spec.termination_grace_period_seconds
                .unwrap_or(30)
                .to_string(),
        ),
    ]);
    if let Some(exec) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.exec.as_ref())
    {
        annotations.insert(
            labels::PRE_STOP.into(),
            serde_json::to_string(&exec.command).unwrap_or_default(),
        );
    }
    Ok(cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: container.name.clone(),
            attempt: inputs.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: inputs.image_ref.into(),
            ..Default::default()
        }),
        command: expand_all(&container.command),
        args: expand_all(&container.args),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: inputs
            .env
            .iter()
            .map(|(key, value)| cri::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts,
        labels: labels::container_labels(pod, &container.name),
        annotations,
        log_path: format!("{}/{}.log", container.name, inputs.attempt),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(resources::linux_resources(
                container.resources.as_ref(),
                resources::oom_score_adj(pod, container, inputs.memory_capacity),
            )),
            security_context: Some(cri::LinuxContainerSecurityContext {
                capabilities: Some(cri::Capability {
                    add_capabilities: caps.add.unwrap_or_default(),
                    drop_capabilities: caps.drop.unwrap_or_default(),
                    ..Default::default()
                }),
                privileged: sc.privileged.unwrap_or(false),
                namespace_options: Some(cri::NamespaceOption {
                    network: ns_mode(host_network, cri::NamespaceMode::Pod),
                    pid: ns_mode(spec.host_pid == Some(true), cri::NamespaceMode::Container),
                    ipc: ns_mode(spec.host_ipc == Some(true), cri::NamespaceMode::Pod),
                    ..Default::default()
                }),
                run_as_user: sc
                    .run_as_user
                    .or(pod_sc.run_as_user)
                    .map(|value| cri::Int64Value { value }),
                run_as_group: sc
                    .run_as_group
                    .or(pod_sc.run_as_group)
                    .map(|value| cri::Int64Value { value }),
                readonly_rootfs: sc.read_only_root_filesystem.unwrap_or(false),
                supplemental_groups: pod_sc.supplemental_groups.unwrap_or_default(),
                no_new_privs: sc.allow_privilege_escalation == Some(false),
                ..Default::default()
            }),
        }),
        ..Default::default()
    })
}
