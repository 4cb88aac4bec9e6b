//! The CRI sandbox config for a pod: metadata, hostname, DNS, host ports, namespaces and the
//! pod cgroup.

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;

use super::dns::{HostResolv, dns_config};
use super::{hosts, labels, resources};
use crate::config::KubeletConfig;

/// The sandbox config for `pod`, attempt `attempt`.
pub fn sandbox_config(pod: &Pod, attempt: u32, config: &KubeletConfig) -> cri::PodSandboxConfig {
    let m = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let (name, ns, uid) = (
        m.name.clone().unwrap_or_default(),
        m.namespace.clone().unwrap_or_default(),
        m.uid.clone().unwrap_or_default(),
    );
    let host_network = spec.host_network.unwrap_or(false);
    let mut port_mappings = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            let Some(host_port) = p.host_port.filter(|hp| *hp > 0) else {
                continue;
            };
            let protocol = match p.protocol.as_deref() {
                Some("UDP") => cri::Protocol::Udp,
                Some("SCTP") => cri::Protocol::Sctp,
                _ => cri::Protocol::Tcp,
            };
            port_mappings.push(cri::PortMapping {
                protocol: protocol as i32,
                container_port: p.container_port,
                host_port,
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    let mode = |host: bool| {
        if host {
            cri::NamespaceMode::Node as i32
        } else {
            cri::NamespaceMode::Pod as i32
        }
    };
    let privileged = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true));
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: ns.clone(),
            attempt,
        }),
        // runc cannot set a hostname without its own UTS namespace.
        hostname: if host_network {
            String::new()
        } else {
            hosts::hostname(pod)
        },
        log_directory: config
            .pod_log_dir(&ns, &name, &uid)
            .to_string_lossy()
            .into_owned(),
        dns_config: Some(dns_config(
            pod,
            &config.cluster_dns,
            &config.cluster_domain,
            &HostResolv::read(),
        )),
        port_mappings,
        labels: labels::sandbox_labels(pod),
        annotations: m
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: resources::cgroup_parent(pod),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: mode(host_network),
                    pid: if spec.host_pid == Some(true) {
                        cri::NamespaceMode::Node as i32
                    } else {
                        cri::NamespaceMode::Container as i32
                    },
                    ipc: mode(spec.host_ipc == Some(true)),
                    ..Default::default()
                }),
                run_as_user: pod_sc.run_as_user.map(|value| cri::Int64Value { value }),
                run_as_group: pod_sc.run_as_group.map(|value| cri::Int64Value { value }),
                supplemental_groups: pod_sc.supplemental_groups.unwrap_or_default(),
                privileged,
                ..Default::default()
            }),
            sysctls: pod_sc
                .sysctls
                .unwrap_or_default()
                .into_iter()
                .map(|s| (s.name, s.value))
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}
