//! Pods and pod templates (upstream's `ValidatePodCreate`, `ValidatePodUpdate`,
//! `ValidatePodSpec`, `ValidatePodTemplateSpec` and the container checks they share).

use super::meta::{self, validate_label_name, validate_label_selector, validate_labels};
use super::names::{self, NameRule};
use super::quantity::{FORMAT_ERROR, Quantity};
use super::volumes::{self, VolumeMap};
use super::{Errors, Path, decode, go_strings, json_of, jstr, nonnegative, or_default, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, HTTPGetAction, LifecycleHandler, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm, PodSpec, PodTemplateSpec,
    Probe, ResourceFieldSelector, ResourceRequirements, SeccompProfile, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
const MAX_UID: i64 = 4_294_967_295;

/// Options that differ between a real pod and a pod template embedded in a workload.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SpecOpts<'a> {
    /// The pod's own name when validating a Pod (not a template).
    pub pod_name: Option<&'a str>,
    /// Whether the spec belongs to a Pod (stricter hostNetwork port checks).
    pub is_pod: bool,
    /// Extra volume names that mounts may refer to (StatefulSet volumeClaimTemplates).
    pub extra_volumes: &'a [String],
}

/// Validation of a new Pod.
pub fn validate_pod_create(obj: &Value) -> Errors {
    let Some(pod) = decode::<Pod>(obj) else {
        return super::undecodable("Pod");
    };
    let mut errs = validate_pod_metadata_and_spec(&pod);
    let spec = or_default(&pod.spec);
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldCause::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !s(&spec.node_name).is_empty()
        && spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        errs.push(FieldCause::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

fn validate_pod_metadata_and_spec(pod: &Pod) -> Errors {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let spec = or_default(&pod.spec);
    let mut errs = meta::validate_object_meta(&pod.metadata, true, NameRule::Subdomain, &meta_path);
    errs.extend(pod_specific_annotations(
        pod.metadata.annotations.as_ref(),
        &spec,
        &meta_path.child("annotations"),
    ));
    errs.extend(validate_pod_spec(
        &spec,
        &spec_path,
        SpecOpts {
            pod_name: Some(s(&pod.metadata.name)),
            is_pod: true,
            extra_volumes: &[],
        },
    ));
    if s(&spec.service_account_name).is_empty() {
        for (vi, v) in spec.volumes.iter().flatten().enumerate() {
            if let Some(p) = &v.projected {
                for (si, src) in p.sources.iter().flatten().enumerate() {
                    if src.service_account_token.is_some() {
                        errs.push(FieldCause::forbidden(
                            spec_path
                                .child("volumes")
                                .index(vi)
                                .child("projected")
                                .child("sources")
                                .index(si)
                                .child("serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        ));
                    }
                }
            }
        }
    }
    for (field, list) in [
        ("containers", Some(&spec.containers)),
        ("initContainers", spec.init_containers.as_ref()),
    ] {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = s(&c.image);
            if image.len() != image.trim().len() {
                errs.push(FieldCause::invalid(
                    spec_path.child(field).index(i).child("image"),
                    &jstr(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errs
}

/// Annotation rules specific to pods (mirror pods, deletion cost).
pub(crate) fn pod_specific_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    spec: &PodSpec,
    path: &Path,
) -> Errors {
    let mut errs = Vec::new();
    let Some(annotations) = annotations else {
        return errs;
    };
    if let Some(v) = annotations.get("kubernetes.io/config.mirror")
        && s(&spec.node_name).is_empty()
    {
        errs.push(FieldCause::invalid(
            path.key("kubernetes.io/config.mirror"),
            &jstr(v),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    let cost_key = "controller.kubernetes.io/pod-deletion-cost";
    if let Some(v) = annotations.get(cost_key)
        && v.parse::<i32>().is_err()
    {
        errs.push(FieldCause::invalid(
            path.key(cost_key),
            &jstr(v),
            "must be a 32bit integer",
        ));
    }
    errs
}

/// Validation of a pod template (labels, annotations, and the pod spec as upstream's
/// `ValidatePodTemplateSpec`). `path` is the template's path, e.g. `spec.template`.
pub(crate) fn validate_pod_template_spec(
    t: &PodTemplateSpec,
    path: &Path,
    extra_volumes: &[String],
) -> Errors {
    let meta = or_default(&t.metadata);
    let spec = or_default(&t.spec);
    let mut errs = validate_labels(meta.labels.as_ref(), &path.child("labels"));
    errs.extend(meta::validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(pod_specific_annotations(
        meta.annotations.as_ref(),
        &spec,
        &path.child("annotations"),
    ));
    errs.extend(validate_pod_spec(
        &spec,
        &path.child("spec"),
        SpecOpts {
            pod_name: None,
            is_pod: false,
            extra_volumes,
        },
    ));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldCause::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Validation of a pod spec (upstream's `ValidatePodSpec`).
pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &Path, opts: SpecOpts<'_>) -> Errors {
    let mut errs = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldCause::required(
            path.child("terminationGracePeriodSeconds"),
        ));
    }
    let grace = spec.termination_grace_period_seconds;
    let host_users = spec.host_users.unwrap_or(true);
    let (mut vols, verrs) = volumes::validate_volumes(
        spec.volumes.as_deref().unwrap_or_default(),
        opts.pod_name,
        &path.child("volumes"),
    );
    errs.extend(verrs);
    for extra in opts.extra_volumes {
        vols.entry(extra.clone()).or_insert(volumes::VolumeInfo {
            pvc_like: true,
            image: false,
        });
    }
    let claim_names: BTreeSet<String> = spec
        .resource_claims
        .iter()
        .flatten()
        .filter(|c| !c.name.is_empty())
        .map(|c| c.name.clone())
        .collect();
    errs.extend(validate_pod_resource_claims(
        spec,
        &path.child("resourceClaims"),
    ));
    let restart_policy = s(&spec.restart_policy);
    errs.extend(validate_containers(
        &spec.containers,
        &vols,
        &claim_names,
        grace,
        &path.child("containers"),
        restart_policy,
        host_users,
    ));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or_default(),
        &spec.containers,
        &vols,
        &claim_names,
        grace,
        &path.child("initContainers"),
        restart_policy,
        host_users,
    ));
    errs.extend(validate_ephemeral_containers(
        spec,
        &vols,
        &claim_names,
        &path.child("ephemeralContainers"),
        host_users,
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if (opts.is_pod || hp != 0) && hp != p.container_port {
                    errs.push(FieldCause::invalid(
                        path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        &Value::from(hp),
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errs.extend(one_of(
        restart_policy,
        &path.child("restartPolicy"),
        &["Always", "OnFailure", "Never"],
    ));
    errs.extend(one_of(
        s(&spec.dns_policy),
        &path.child("dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    ));
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    errs.extend(pod_security_context(
        spec,
        path,
        &path.child("securityContext"),
    ));
    errs.extend(affinity(spec, &path.child("affinity")));
    errs.extend(dns_config(spec, &path.child("dnsConfig")));
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(validate_label_name(
            &g.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(validate_label_name(&g.name, &p));
        if !gates.insert(g.name.clone()) {
            errs.push(FieldCause::duplicate(&p, &jstr(&g.name)));
        }
    }
    errs.extend(topology_spread(
        spec,
        &path.child("topologySpreadConstraints"),
    ));
    if !host_users {
        if spec.host_network == Some(true) {
            errs.push(FieldCause::forbidden(
                path.child("hostNetwork"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_pid == Some(true) {
            errs.push(FieldCause::forbidden(
                path.child("HostPID"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_ipc == Some(true) {
            errs.push(FieldCause::forbidden(
                path.child("HostIPC"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    for (field, value) in [
        ("serviceAccountName", s(&spec.service_account_name)),
        ("nodeName", s(&spec.node_name)),
        ("priorityClassName", s(&spec.priority_class_name)),
    ] {
        if !value.is_empty() {
            for msg in names::dns1123_subdomain(value) {
                errs.push(FieldCause::invalid(path.child(field), &jstr(value), msg));
            }
        }
    }
    if let Some(v) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&v)
    {
        errs.push(FieldCause::invalid(
            path.child("activeDeadlineSeconds"),
            &Value::from(v),
            names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for (field, value) in [
        ("hostname", s(&spec.hostname)),
        ("subdomain", s(&spec.subdomain)),
    ] {
        if !value.is_empty() {
            for msg in names::dns1123_label(value) {
                errs.push(FieldCause::invalid(path.child(field), &jstr(value), msg));
            }
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &path.child("tolerations"),
    ));
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        for msg in names::ip(&ha.ip) {
            errs.push(FieldCause::invalid(p.child("ip"), &jstr(&ha.ip), msg));
        }
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            for msg in names::dns1123_subdomain(h) {
                errs.push(FieldCause::invalid(
                    p.child("hostnames").index(j),
                    &jstr(h),
                    msg,
                ));
            }
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        for msg in names::dns1123_subdomain(rc) {
            errs.push(FieldCause::invalid(
                path.child("runtimeClassName"),
                &jstr(rc),
                msg,
            ));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        errs.extend(one_of(
            pp,
            &path.child("preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
        ));
    }
    if let Some(overhead) = &spec.overhead {
        errs.extend(validate_resource_requirements(
            &ResourceRequirements {
                limits: Some(overhead.clone()),
                ..Default::default()
            },
            &claim_names,
            &path.child("overhead"),
        ));
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(FieldCause::required_detail(
                path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(FieldCause::not_supported(
                path.child("os"),
                &jstr(&os.name),
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// `Required value` for empty, `Unsupported value` outside `allowed`.
pub(crate) fn one_of(value: &str, path: &Path, allowed: &[&str]) -> Errors {
    if value.is_empty() {
        vec![FieldCause::required(path)]
    } else if !allowed.contains(&value) {
        vec![FieldCause::not_supported(path, &jstr(value), allowed)]
    } else {
        Vec::new()
    }
}

/// An image pull policy: Always, IfNotPresent or Never.
pub(crate) fn validate_pull_policy(policy: &str, path: &Path) -> Errors {
    one_of(policy, path, &["Always", "IfNotPresent", "Never"])
}

fn validate_pod_resource_claims(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in spec.resource_claims.iter().flatten().enumerate() {
        let p = path.index(i);
        if c.name.is_empty() {
            errs.push(FieldCause::required(p.child("name")));
        } else if !seen.insert(c.name.clone()) {
            errs.push(FieldCause::duplicate(p.child("name"), &jstr(&c.name)));
        } else {
            for msg in names::dns1123_label(&c.name) {
                errs.push(FieldCause::invalid(p.child("name"), &jstr(&c.name), msg));
            }
        }
        match (&c.resource_claim_name, &c.resource_claim_template_name) {
            (Some(_), Some(_)) => errs.push(FieldCause::invalid_rendered(
                &p,
                json_of(c),
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            )),
            (None, None) => errs.push(FieldCause::invalid_rendered(
                &p,
                json_of(c),
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            )),
            _ => {}
        }
    }
    errs
}

fn validate_container_common(
    c: &Container,
    vols: &VolumeMap,
    claims: &BTreeSet<String>,
    path: &Path,
    pod_restart_policy: &str,
    host_users: bool,
) -> Errors {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldCause::required(path.child("name")));
    } else {
        for msg in names::dns1123_label(&c.name) {
            errs.push(FieldCause::invalid(path.child("name"), &jstr(&c.name), msg));
        }
    }
    if s(&c.image).is_empty() {
        errs.push(FieldCause::required(path.child("image")));
    }
    errs.extend(one_of(
        s(&c.termination_message_policy),
        &path.child("terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
    ));
    errs.extend(container_ports(c, &path.child("ports")));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or_default(),
        &path.child("envFrom"),
    ));
    errs.extend(volume_mounts(
        c,
        vols,
        &path.child("volumeMounts"),
        host_users,
    ));
    errs.extend(volume_devices(c, vols, &path.child("volumeDevices")));
    errs.extend(validate_pull_policy(
        s(&c.image_pull_policy),
        &path.child("imagePullPolicy"),
    ));
    errs.extend(validate_resource_requirements(
        &or_default(&c.resources),
        claims,
        &path.child("resources"),
    ));
    errs.extend(resize_policy(
        c,
        &path.child("resizePolicy"),
        pod_restart_policy,
    ));
    errs.extend(container_security_context(
        c,
        &path.child("securityContext"),
        host_users,
    ));
    errs
}

#[allow(clippy::too_many_arguments)]
fn validate_containers(
    containers: &[Container],
    vols: &VolumeMap,
    claims: &BTreeSet<String>,
    grace: Option<i64>,
    path: &Path,
    pod_restart_policy: &str,
    host_users: bool,
) -> Errors {
    if containers.is_empty() {
        return vec![FieldCause::required(path)];
    }
    let mut errs = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(
            c,
            vols,
            claims,
            &p,
            pod_restart_policy,
            host_users,
        ));
        if !names_seen.insert(c.name.clone()) {
            errs.push(FieldCause::duplicate(p.child("name"), &jstr(&c.name)));
        }
        if let Some(l) = &c.lifecycle {
            errs.extend(lifecycle(l, grace, &p.child("lifecycle")));
        }
        errs.extend(probes(c, grace, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldCause::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

#[allow(clippy::too_many_arguments)]
fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    vols: &VolumeMap,
    claims: &BTreeSet<String>,
    grace: Option<i64>,
    path: &Path,
    pod_restart_policy: &str,
    host_users: bool,
) -> Errors {
    let mut errs = Vec::new();
    let mut names_seen: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    for (i, c) in inits.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(
            c,
            vols,
            claims,
            &p,
            pod_restart_policy,
            host_users,
        ));
        let mut always = false;
        if let Some(rp) = &c.restart_policy {
            if rp != "Always" {
                errs.push(FieldCause::not_supported(
                    p.child("restartPolicy"),
                    &jstr(rp),
                    &["Always"],
                ));
            }
            always = rp == "Always";
        }
        if names_seen.contains(&c.name) {
            errs.push(FieldCause::duplicate(p.child("name"), &jstr(&c.name)));
        } else if !c.name.is_empty() {
            names_seen.insert(c.name.clone());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if always {
            if let Some(l) = &c.lifecycle {
                errs.extend(lifecycle(l, grace, &p.child("lifecycle")));
            }
            errs.extend(probes(c, grace, &p));
        } else {
            let msg = "may not be set for init containers without restartPolicy=Always";
            if c.lifecycle.is_some() {
                errs.push(FieldCause::forbidden(p.child("lifecycle"), msg));
            }
            for (field, set) in [
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(FieldCause::forbidden(p.child(field), msg));
                }
            }
        }
    }
    errs
}

fn validate_ephemeral_containers(
    spec: &PodSpec,
    vols: &VolumeMap,
    claims: &BTreeSet<String>,
    path: &Path,
    host_users: bool,
) -> Errors {
    let mut errs = Vec::new();
    let Some(ecs) = &spec.ephemeral_containers else {
        return errs;
    };
    let others: BTreeSet<String> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    let mut all = others.clone();
    for (i, ec) in ecs.iter().enumerate() {
        let p = path.index(i);
        let c: Container = serde_json::to_value(ec)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        errs.extend(validate_container_common(
            &c,
            vols,
            claims,
            &p,
            s(&spec.restart_policy),
            host_users,
        ));
        let image = s(&c.image);
        if image.len() != image.trim().len() {
            errs.push(FieldCause::invalid(
                p.child("image"),
                &jstr(image),
                "must not have leading or trailing whitespace",
            ));
        }
        if !all.insert(ec.name.clone()) {
            errs.push(FieldCause::duplicate(p.child("name"), &jstr(&ec.name)));
        }
        let target = s(&ec.target_container_name);
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldCause::not_found(
                p.child("targetContainerName"),
                &jstr(target),
            ));
        }
        for (field, set) in [
            ("ports", ec.ports.is_some()),
            (
                "resources",
                ec.resources
                    .as_ref()
                    .is_some_and(|r| r != &Default::default()),
            ),
            ("livenessProbe", ec.liveness_probe.is_some()),
            ("readinessProbe", ec.readiness_probe.is_some()),
            ("startupProbe", ec.startup_probe.is_some()),
            ("lifecycle", ec.lifecycle.is_some()),
            ("resizePolicy", ec.resize_policy.is_some()),
            ("restartPolicy", ec.restart_policy.is_some()),
        ] {
            if set {
                errs.push(FieldCause::forbidden(
                    p.child(field),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, vm) in ec.volume_mounts.iter().flatten().enumerate() {
            let mp = p.child("volumeMounts").index(j);
            if !s(&vm.sub_path).is_empty() {
                errs.push(FieldCause::forbidden(
                    mp.child("subPath"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
            if !s(&vm.sub_path_expr).is_empty() {
                errs.push(FieldCause::forbidden(
                    mp.child("subPathExpr"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
    errs
}

fn container_ports(c: &Container, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let ip = path.index(i);
        let name = s(&p.name);
        if !name.is_empty() {
            let msgs = names::port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldCause::invalid(ip.child("name"), &jstr(name), msg));
                }
            } else if !seen.insert(name.to_string()) {
                errs.push(FieldCause::duplicate(ip.child("name"), &jstr(name)));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldCause::required(ip.child("containerPort")));
        } else {
            for msg in names::port_num(i64::from(p.container_port)) {
                errs.push(FieldCause::invalid(
                    ip.child("containerPort"),
                    &Value::from(p.container_port),
                    msg,
                ));
            }
        }
        if let Some(hp) = p.host_port
            && hp != 0
        {
            for msg in names::port_num(i64::from(hp)) {
                errs.push(FieldCause::invalid(
                    ip.child("hostPort"),
                    &Value::from(hp),
                    msg,
                ));
            }
        }
        errs.extend(one_of(s(&p.protocol), &ip.child("protocol"), PROTOCOLS));
    }
    errs
}

fn host_port_conflicts(containers: &[Container], path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", s(&p.protocol), s(&p.host_ip));
            if !seen.insert(key.clone()) {
                errs.push(FieldCause::duplicate(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    &jstr(&key),
                ));
            }
        }
    }
    errs
}

/// Environment variables: names and `valueFrom` sources.
pub(crate) fn validate_env(vars: &[EnvVar], path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let ip = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldCause::required(ip.child("name")));
        } else {
            for msg in names::env_var_name(&ev.name) {
                errs.push(FieldCause::invalid(ip.child("name"), &jstr(&ev.name), msg));
            }
        }
        let Some(vf) = &ev.value_from else {
            continue;
        };
        let vp = ip.child("valueFrom");
        let mut n = 0;
        if let Some(fr) = &vf.field_ref {
            n += 1;
            errs.extend(volumes::object_field_selector(
                fr,
                ENV_FIELD_PATHS,
                &vp.child("fieldRef"),
            ));
        }
        if let Some(rf) = &vf.resource_field_ref {
            n += 1;
            errs.extend(resource_field_selector(
                rf,
                &vp.child("resourceFieldRef"),
                false,
            ));
        }
        for (field, sel) in [
            (
                "configMapKeyRef",
                vf.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
            (
                "secretKeyRef",
                vf.secret_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
        ] {
            let Some((name, key)) = sel else {
                continue;
            };
            n += 1;
            let p = vp.child(field);
            for msg in names::dns1123_subdomain(name) {
                errs.push(FieldCause::invalid(p.child("name"), &jstr(name), msg));
            }
            if key.is_empty() {
                errs.push(FieldCause::required(p.child("key")));
            } else {
                for msg in names::config_map_key(key) {
                    errs.push(FieldCause::invalid(p.child("key"), &jstr(key), msg));
                }
            }
        }
        if n == 0 {
            errs.push(FieldCause::invalid(
                &vp,
                &jstr(""),
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !s(&ev.value).is_empty() {
            errs.push(FieldCause::invalid(
                &vp,
                &jstr(""),
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(FieldCause::invalid(
                &vp,
                &jstr(""),
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (i, ef) in sources.iter().enumerate() {
        let ip = path.index(i);
        let prefix = s(&ef.prefix);
        if !prefix.is_empty() {
            for msg in names::env_var_name(prefix) {
                errs.push(FieldCause::invalid(ip.child("prefix"), &jstr(prefix), msg));
            }
        }
        let mut n = 0;
        for (field, name) in [
            ("configMapRef", ef.config_map_ref.as_ref().map(|r| &r.name)),
            ("secretRef", ef.secret_ref.as_ref().map(|r| &r.name)),
        ] {
            let Some(name) = name else {
                continue;
            };
            n += 1;
            let p = ip.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldCause::required(&p));
            } else {
                for msg in NameRule::Subdomain.check(name, true) {
                    errs.push(FieldCause::invalid(&p, &jstr(name), msg));
                }
            }
        }
        if n == 0 {
            errs.push(FieldCause::invalid(
                path,
                &jstr(""),
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldCause::invalid(
                path,
                &jstr(""),
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

/// A downward API resource reference (`limits.cpu` etc.) and its divisor.
pub(crate) fn resource_field_selector(
    rf: &ResourceFieldSelector,
    path: &Path,
    volume: bool,
) -> Errors {
    let mut errs = Vec::new();
    if volume && s(&rf.container_name).is_empty() {
        errs.push(FieldCause::required(path.child("containerName")));
    } else if rf.resource.is_empty() {
        errs.push(FieldCause::required(path.child("resource")));
    } else if !RESOURCE_FIELD_PATHS.contains(&rf.resource.as_str())
        && !rf.resource.starts_with("requests.hugepages-")
        && !rf.resource.starts_with("limits.hugepages-")
    {
        errs.push(FieldCause::not_supported(
            path.child("resource"),
            &jstr(&rf.resource),
            RESOURCE_FIELD_PATHS,
        ));
    }
    let Some(divisor) = rf
        .divisor
        .as_ref()
        .and_then(|d| Quantity::parse(&d.0).ok().flatten())
        .filter(|q| !q.is_zero())
    else {
        return errs;
    };
    let d = divisor.canonical();
    const MEM: &[&str] = &[
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let r = rf.resource.as_str();
    let bad = match r {
        "limits.cpu" | "requests.cpu" => {
            (!["1m", "1"].contains(&d.as_str())).then_some("only divisor's values 1m and 1 are supported with the cpu resource")
        }
        "limits.memory" | "requests.memory" => (!MEM.contains(&d.as_str())).then_some(
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        ),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => (!MEM.contains(&d.as_str())).then_some(
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
        ),
        _ if r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-") => {
            (!MEM.contains(&d.as_str())).then_some(
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource",
            )
        }
        _ => None,
    };
    if let Some(msg) = bad {
        errs.push(FieldCause::invalid(path.child("divisor"), &jstr(r), msg));
    }
    errs
}

fn volume_mounts(c: &Container, vols: &VolumeMap, path: &Path, _host_users: bool) -> Errors {
    let mut errs = Vec::new();
    let devices: Vec<(&str, &str)> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    let privileged = c
        .security_context
        .as_ref()
        .and_then(|sc| sc.privileged)
        .unwrap_or(false);
    let mut mount_points = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let ip = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldCause::required(ip.child("name")));
        }
        if !vols.contains_key(&m.name) {
            errs.push(FieldCause::not_found(ip.child("name"), &jstr(&m.name)));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldCause::required(ip.child("mountPath")));
        }
        if !mount_points.insert(m.mount_path.clone()) {
            errs.push(FieldCause::invalid(
                ip.child("mountPath"),
                &jstr(&m.mount_path),
                "must be unique",
            ));
        }
        if devices.iter().any(|(n, _)| *n == m.name) {
            errs.push(FieldCause::invalid(
                ip.child("name"),
                &jstr(&m.name),
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|(_, p)| *p == m.mount_path) {
            errs.push(FieldCause::invalid(
                ip.child("mountPath"),
                &jstr(&m.mount_path),
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = s(&m.sub_path);
        let sub_expr = s(&m.sub_path_expr);
        if vols.get(&m.name).is_some_and(|v| v.image) {
            if !sub_path.is_empty() {
                errs.push(FieldCause::invalid(
                    ip.child("subPath"),
                    &jstr(sub_path),
                    "not allowed in image volume sources",
                ));
            }
            if !sub_expr.is_empty() {
                errs.push(FieldCause::invalid(
                    ip.child("subPathExpr"),
                    &jstr(sub_expr),
                    "not allowed in image volume sources",
                ));
            }
        }
        if !sub_path.is_empty() {
            errs.extend(volumes::local_descending_path(
                sub_path,
                &path.child("subPath"),
            ));
        }
        if !sub_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldCause::invalid(
                    ip.child("subPathExpr"),
                    &jstr(sub_expr),
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(volumes::local_descending_path(
                sub_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(mp) = &m.mount_propagation {
            let p = path.child("mountPropagation");
            if !["Bidirectional", "HostToContainer", "None"].contains(&mp.as_str()) {
                errs.push(FieldCause::not_supported(
                    &p,
                    &jstr(mp),
                    &["Bidirectional", "HostToContainer", "None"],
                ));
            }
            if mp == "Bidirectional" && !privileged {
                errs.push(FieldCause::forbidden(
                    &p,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = &m.recursive_read_only {
            let p = path.child("recursiveReadOnly");
            match rro.as_str() {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if m.read_only != Some(true) {
                        errs.push(FieldCause::forbidden(
                            &p,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if m.mount_propagation
                        .as_deref()
                        .is_some_and(|mp| mp != "None")
                    {
                        errs.push(FieldCause::forbidden(
                            &p,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errs.push(FieldCause::not_supported(
                    &p,
                    &jstr(other),
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
    errs
}

fn volume_devices(c: &Container, vols: &VolumeMap, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mounts: Vec<(&str, &str)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    let mut dev_paths = BTreeSet::new();
    let mut dev_names = BTreeSet::new();
    for (i, d) in c.volume_devices.iter().flatten().enumerate() {
        let ip = path.index(i);
        if d.name.is_empty() {
            errs.push(FieldCause::required(ip.child("name")));
        }
        if dev_names.contains(&d.name) {
            errs.push(FieldCause::invalid(
                ip.child("name"),
                &jstr(&d.name),
                "must be unique",
            ));
        }
        match vols.get(&d.name) {
            Some(v) if !v.pvc_like => errs.push(FieldCause::invalid(
                ip.child("name"),
                &jstr(&d.name),
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            None => errs.push(FieldCause::not_found(ip.child("name"), &jstr(&d.name))),
            _ => {}
        }
        if d.device_path.is_empty() {
            errs.push(FieldCause::required(ip.child("devicePath")));
        }
        if dev_paths.contains(&d.device_path) {
            errs.push(FieldCause::invalid(
                ip.child("devicePath"),
                &jstr(&d.device_path),
                "must be unique",
            ));
        }
        if !d.device_path.is_empty()
            && !volumes::no_backsteps(&d.device_path, &path.child("devicePath")).is_empty()
        {
            errs.push(FieldCause::invalid(
                ip.child("devicePath"),
                &jstr(&d.device_path),
                "can not contain backsteps ('..')",
            ));
        } else {
            dev_paths.insert(d.device_path.clone());
        }
        if mounts.iter().any(|(n, _)| *n == d.name) {
            errs.push(FieldCause::invalid(
                ip.child("name"),
                &jstr(&d.name),
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.iter().any(|(_, p)| *p == d.device_path) {
            errs.push(FieldCause::invalid(
                ip.child("devicePath"),
                &jstr(&d.device_path),
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !d.name.is_empty() {
            dev_names.insert(d.name.clone());
        }
    }
    errs
}

/// Whether a resource name is a built-in one (no `/`, or a `kubernetes.io/` prefix).
pub(crate) fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Whether a resource name is a huge-pages size (`hugepages-2Mi`).
pub(crate) fn is_huge_page_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Whether a resource name is an extended resource (`example.com/gpu`).
pub(crate) fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    names::qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether requests may be lower than limits for this resource.
pub(crate) fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_huge_page_resource(name)
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

/// Upstream's `validateResourceName`: a qualified name, standard when unprefixed.
pub(crate) fn validate_resource_name(name: &str, path: &Path) -> Errors {
    let mut errs: Errors = names::qualified_name(name)
        .into_iter()
        .map(|m| FieldCause::invalid(path, &jstr(name), m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/')
        && !STANDARD_RESOURCES.contains(&name)
        && !is_huge_page_resource(name)
        && !name.starts_with("requests.hugepages-")
        && !name.starts_with("limits.hugepages-")
    {
        errs.push(FieldCause::invalid(
            path,
            &jstr(name),
            "must be a standard resource type or fully qualified",
        ));
    }
    errs
}

fn validate_container_resource_name(name: &str, path: &Path) -> Errors {
    let mut errs = validate_resource_name(name, path);
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_huge_page_resource(name) {
            errs.push(FieldCause::invalid(
                path,
                &jstr(name),
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldCause::invalid(
            path,
            &jstr(name),
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// Parses a quantity for validation: a format error, or the value when representable.
pub(crate) fn parse_quantity(q: &KQuantity, path: &Path) -> Result<Option<Quantity>, FieldCause> {
    Quantity::parse(&q.0).map_err(|e| {
        let msg = if e == FORMAT_ERROR { FORMAT_ERROR } else { e };
        FieldCause::invalid(path, &jstr(&q.0), msg)
    })
}

/// Upstream's `ValidateResourceQuantityValue`: non-negative, whole for countable resources.
pub(crate) fn validate_quantity_value(resource: &str, q: &KQuantity, path: &Path) -> Errors {
    let parsed = match parse_quantity(q, path) {
        Err(e) => return vec![e],
        Ok(None) => return Vec::new(),
        Ok(Some(p)) => p,
    };
    let mut errs = Vec::new();
    if parsed.signum() < 0 {
        errs.push(FieldCause::invalid(
            path,
            &jstr(&parsed.canonical()),
            "must be greater than or equal to 0",
        ));
    }
    if (INTEGER_RESOURCES.contains(&resource) || is_extended_resource(resource))
        && !parsed.is_integer()
    {
        errs.push(FieldCause::invalid(
            path,
            &jstr(&parsed.canonical()),
            "must be an integer",
        ));
    }
    errs
}

/// A hugepage amount that is not a whole number of pages of the size its name states.
fn huge_page_multiple(name: &str, v: &Quantity, p: &Path) -> Option<FieldCause> {
    (!huge_page_divisible(name, v)).then(|| {
        FieldCause::invalid(
            p,
            &jstr(&v.canonical()),
            format!(
                "{} is not positive integer multiple of {name}",
                v.canonical()
            ),
        )
    })
}

fn huge_page_divisible(name: &str, q: &Quantity) -> bool {
    let Some(size) = name
        .strip_prefix("hugepages-")
        .and_then(|s| Quantity::parse(s).ok().flatten())
    else {
        return false;
    };
    if size.signum() <= 0 || !size.is_integer() {
        return false;
    }
    q.is_multiple_of(&size).unwrap_or(true)
}

/// Container (or pod overhead) resources: names, quantities, requests ≤ limits.
pub(crate) fn validate_resource_requirements(
    req: &ResourceRequirements,
    claims: &BTreeSet<String>,
    path: &Path,
) -> Errors {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = req.limits.as_ref().unwrap_or(&empty);
    let requests = req.requests.as_ref().unwrap_or(&empty);
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) =
        (false, false, false, false);
    for (name, q) in limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, q, &p));
        if is_huge_page_resource(name) {
            lim_huge = true;
            if let Ok(Some(v)) = Quantity::parse(&q.0) {
                errs.extend(huge_page_multiple(name, &v, &p));
            }
        }
        if name == "cpu" || name == "memory" {
            lim_cpu_mem = true;
        }
    }
    for (name, q) in requests {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, q, &p));
        let parsed = Quantity::parse(&q.0).ok().flatten();
        match limits.get(name) {
            Some(lq) => {
                if let (Some(rv), Some(lv)) = (parsed, Quantity::parse(&lq.0).ok().flatten()) {
                    let ord = rv.cmp_value(&lv);
                    if ord != std::cmp::Ordering::Equal && !overcommit_allowed(name) {
                        errs.push(FieldCause::invalid(
                            &req_path,
                            &jstr(&rv.canonical()),
                            format!("must be equal to {name} limit of {}", lv.canonical()),
                        ));
                    } else if ord == std::cmp::Ordering::Greater {
                        errs.push(FieldCause::invalid(
                            &req_path,
                            &jstr(&rv.canonical()),
                            format!(
                                "must be less than or equal to {name} limit of {}",
                                lv.canonical()
                            ),
                        ));
                    }
                }
            }
            None if !overcommit_allowed(name) => errs.push(FieldCause::required_detail(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
        if is_huge_page_resource(name) {
            req_huge = true;
            if let Some(v) = parsed {
                errs.extend(huge_page_multiple(name, &v, &p));
            }
        }
        if name == "cpu" || name == "memory" {
            req_cpu_mem = true;
        }
    }
    if !lim_cpu_mem && !req_cpu_mem && (lim_huge || req_huge) {
        errs.push(FieldCause::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    let claims_path = path.child("claims");
    let mut seen = BTreeSet::new();
    for (i, c) in req.claims.iter().flatten().enumerate() {
        let p = claims_path.index(i);
        if c.name.is_empty() {
            errs.push(FieldCause::required(&p));
            continue;
        }
        let key = match s(&c.request) {
            "" => c.name.clone(),
            r => format!("{}/{r}", c.name),
        };
        if !seen.insert(key.clone()) {
            errs.push(FieldCause::duplicate(&p, &jstr(&key)));
        }
        if !claims.contains(&c.name) {
            let detail = if claims.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                let list: Vec<&str> = claims.iter().map(String::as_str).collect();
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    list.join(", ")
                )
            };
            let mut cause = FieldCause::not_found(&p, &jstr(&c.name));
            cause.message = format!("{}: {detail}", cause.message);
            errs.push(cause);
        }
    }
    errs
}

fn resize_policy(c: &Container, path: &Path, pod_restart_policy: &str) -> Errors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        if !seen.insert(p.resource_name.clone()) {
            errs.push(FieldCause::duplicate(
                path.index(i),
                &jstr(&p.resource_name),
            ));
        }
        match p.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(FieldCause::required(path)),
            other => errs.push(FieldCause::not_supported(
                path,
                &jstr(other),
                &["cpu", "memory"],
            )),
        }
        match p.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(FieldCause::required(path)),
            other => errs.push(FieldCause::not_supported(
                path,
                &jstr(other),
                &["NotRequired", "RestartContainer"],
            )),
        }
        if pod_restart_policy == "Never" && p.restart_policy != "NotRequired" {
            errs.push(FieldCause::invalid(
                path,
                &jstr(&p.restart_policy),
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    errs
}

fn user_id(v: Option<i64>, path: &Path) -> Errors {
    match v {
        Some(id) if !(0..=MAX_UID).contains(&id) => vec![FieldCause::invalid(
            path,
            &Value::from(id),
            names::inclusive_range_error(0, MAX_UID),
        )],
        _ => Vec::new(),
    }
}

fn seccomp(sp: Option<&SeccompProfile>, path: &Path) -> Errors {
    let Some(sp) = sp else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let tp = path.child("type");
    match sp.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(FieldCause::required_detail(
            &tp,
            "type is required when seccompProfile is set",
        )),
        other => errs.push(FieldCause::not_supported(
            &tp,
            &jstr(other),
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    if sp.type_ == "Localhost" {
        match &sp.localhost_profile {
            None => errs.push(FieldCause::required_detail(
                path.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(p) => errs.extend(volumes::local_descending_path(
                p,
                &path.child("localhostProfile"),
            )),
        }
    } else if sp.localhost_profile.is_some() {
        errs.push(FieldCause::invalid_rendered(
            path.child("localhostProfile"),
            json_of(sp),
            "can only be set when seccomp type is Localhost",
        ));
    }
    errs
}

fn app_armor(ap: Option<&k8s_openapi::api::core::v1::AppArmorProfile>, path: &Path) -> Errors {
    let Some(ap) = ap else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    match ap.type_.as_str() {
        "Localhost" => match &ap.localhost_profile {
            None => errs.push(FieldCause::required_detail(
                path.child("localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(p) => {
                if p.trim() != p {
                    errs.push(FieldCause::invalid(
                        path.child("localhostProfile"),
                        &jstr(p),
                        "must not be padded with whitespace",
                    ));
                } else if p.is_empty() {
                    errs.push(FieldCause::required_detail(
                        path.child("localhostProfile"),
                        "must be set when AppArmor type is Localhost",
                    ));
                }
                if p.len() > 4095 {
                    errs.push(FieldCause::too_long(path.child("localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(p) = &ap.localhost_profile {
                errs.push(FieldCause::invalid(
                    path.child("localhostProfile"),
                    &jstr(p),
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errs.push(FieldCause::required_detail(
            path.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => errs.push(FieldCause::not_supported(
            path.child("type"),
            &jstr(other),
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    errs
}

fn sysctl_name_ok(name: &str) -> bool {
    if name.len() > 253 {
        return false;
    }
    let seg_ok = |seg: &str| {
        let b = seg.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
    };
    name.split(['.', '/']).all(seg_ok)
}

fn pod_security_context(spec: &PodSpec, spec_path: &Path, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let sc = or_default(&spec.security_context);
    errs.extend(user_id(sc.fs_group, &path.child("fsGroup")));
    errs.extend(user_id(sc.run_as_user, &path.child("runAsUser")));
    errs.extend(user_id(sc.run_as_group, &path.child("runAsGroup")));
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        errs.extend(user_id(
            Some(*g),
            &path.child("supplementalGroups").index(i),
        ));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(FieldCause::invalid(
            path.child("shareProcessNamespace"),
            &Value::Bool(true),
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, sysctl) in sc.sysctls.iter().flatten().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        if sysctl.name.is_empty() {
            errs.push(FieldCause::required(&p));
        } else if !sysctl_name_ok(&sysctl.name) {
            errs.push(FieldCause::invalid(
                &p,
                &jstr(&sysctl.name),
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if seen.contains(&sysctl.name) {
            errs.push(FieldCause::duplicate(&p, &jstr(&sysctl.name)));
        }
        let n = sysctl.name.replace('/', ".");
        const IPC: &[&str] = &[
            "kernel.sem",
            "kernel.shmall",
            "kernel.shmmax",
            "kernel.shmmni",
            "kernel.shm_rmid_forced",
            "kernel.msgmax",
            "kernel.msgmnb",
            "kernel.msgmni",
        ];
        if spec.host_network == Some(true) && n.starts_with("net.") {
            errs.push(FieldCause::invalid(
                &p,
                &jstr(&sysctl.name),
                "may not be specified when 'hostNetwork' is true",
            ));
        } else if spec.host_ipc == Some(true)
            && (IPC.contains(&n.as_str()) || n.starts_with("fs.mqueue."))
        {
            errs.push(FieldCause::invalid(
                &p,
                &jstr(&sysctl.name),
                "may not be specified when 'hostIPC' is true",
            ));
        }
        seen.insert(sysctl.name.clone());
    }
    if let Some(p) = &sc.fs_group_change_policy
        && p != "OnRootMismatch"
        && p != "Always"
    {
        errs.push(FieldCause::not_supported(
            path.child("fsGroupChangePolicy"),
            &jstr(p),
            &["Always", "OnRootMismatch"],
        ));
    }
    errs.extend(seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    errs.extend(app_armor(
        sc.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    if let Some(p) = &sc.supplemental_groups_policy
        && p != "Merge"
        && p != "Strict"
    {
        errs.push(FieldCause::not_supported(
            path.child("supplementalGroupsPolicy"),
            &jstr(p),
            &["Merge", "Strict"],
        ));
    }
    if let Some(p) = &sc.se_linux_change_policy
        && p != "Recursive"
    {
        errs.push(FieldCause::not_supported(
            path.child("seLinuxChangePolicy"),
            &jstr(p),
            &["Recursive"],
        ));
    }
    let _ = spec_path;
    errs
}

fn container_security_context(c: &Container, path: &Path, host_users: bool) -> Errors {
    let Some(sc) = &c.security_context else {
        return Vec::new();
    };
    let mut errs = user_id(sc.run_as_user, &path.child("runAsUser"));
    errs.extend(user_id(sc.run_as_group, &path.child("runAsGroup")));
    if let Some(pm) = &sc.proc_mount {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(FieldCause::not_supported(
                path.child("procMount"),
                &jstr(pm),
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(FieldCause::invalid(
                path.child("procMount"),
                &jstr(pm),
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errs.extend(seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errs.push(FieldCause::invalid_rendered(
                path,
                json_of(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|a| a.iter().any(|c| c == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            errs.push(FieldCause::invalid_rendered(
                path,
                json_of(sc),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    errs.extend(app_armor(
        sc.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    errs
}

fn port_num_or_name(port: &IntOrString, path: &Path) -> Errors {
    match port {
        IntOrString::Int(i) => names::port_num(i64::from(*i))
            .into_iter()
            .map(|m| FieldCause::invalid(path, &Value::from(*i), m))
            .collect(),
        IntOrString::String(s) => names::port_name(s)
            .into_iter()
            .map(|m| FieldCause::invalid(path, &jstr(s), m))
            .collect(),
    }
}

/// Service and probe ports: a number 1–65535 or an IANA port name.
pub(crate) fn validate_port_num_or_name(port: &IntOrString, path: &Path) -> Errors {
    port_num_or_name(port, path)
}

fn http_get(h: &HTTPGetAction, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if s(&h.path).is_empty() {
        errs.push(FieldCause::required(path.child("path")));
    }
    errs.extend(port_num_or_name(&h.port, &path.child("port")));
    let scheme = s(&h.scheme);
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(FieldCause::not_supported(
            path.child("scheme"),
            &jstr(scheme),
            &["HTTP", "HTTPS"],
        ));
    }
    for hdr in h.http_headers.iter().flatten() {
        for msg in names::http_header_name(&hdr.name) {
            errs.push(FieldCause::invalid(
                path.child("httpHeaders"),
                &jstr(&hdr.name),
                msg,
            ));
        }
    }
    errs
}

struct Handler<'a> {
    exec: Option<&'a k8s_openapi::api::core::v1::ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp: Option<&'a k8s_openapi::api::core::v1::TCPSocketAction>,
    grpc: Option<&'a k8s_openapi::api::core::v1::GRPCAction>,
    sleep: Option<&'a k8s_openapi::api::core::v1::SleepAction>,
}

fn handler(h: Handler<'_>, grace: Option<i64>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut n = 0;
    let mut take = |present: bool, field: &str, errs: &mut Errors| -> bool {
        if !present {
            return false;
        }
        if n > 0 {
            errs.push(FieldCause::forbidden(
                path.child(field),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            n += 1;
            true
        }
    };
    if take(h.exec.is_some(), "exec", &mut errs)
        && h.exec
            .and_then(|e| e.command.as_ref())
            .is_none_or(|c| c.is_empty())
    {
        errs.push(FieldCause::required(path.child("exec").child("command")));
    }
    if take(h.http_get.is_some(), "httpGet", &mut errs)
        && let Some(hg) = h.http_get
    {
        errs.extend(http_get(hg, &path.child("httpGet")));
    }
    if take(h.tcp.is_some(), "tcpSocket", &mut errs)
        && let Some(t) = h.tcp
    {
        errs.extend(port_num_or_name(
            &t.port,
            &path.child("tcpSocket").child("port"),
        ));
    }
    if take(h.grpc.is_some(), "grpc", &mut errs)
        && let Some(g) = h.grpc
    {
        errs.extend(port_num_or_name(
            &IntOrString::Int(g.port),
            &path.child("grpc").child("port"),
        ));
    }
    if take(h.sleep.is_some(), "sleep", &mut errs)
        && let Some(sl) = h.sleep
        && let Some(g) = grace
        && (sl.seconds < 0 || sl.seconds > g)
    {
        errs.push(FieldCause::invalid(
            path.child("sleep"),
            &Value::from(sl.seconds),
            format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
        ));
    }
    if n == 0 {
        errs.push(FieldCause::required_detail(
            path,
            "must specify a handler type",
        ));
    }
    errs
}

fn lifecycle_handler(h: &LifecycleHandler, grace: Option<i64>, path: &Path) -> Errors {
    handler(
        Handler {
            exec: h.exec.as_ref(),
            http_get: h.http_get.as_ref(),
            tcp: h.tcp_socket.as_ref(),
            grpc: None,
            sleep: h.sleep.as_ref(),
        },
        grace,
        path,
    )
}

fn lifecycle(l: &k8s_openapi::api::core::v1::Lifecycle, grace: Option<i64>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if let Some(h) = &l.post_start {
        errs.extend(lifecycle_handler(h, grace, &path.child("postStart")));
    }
    if let Some(h) = &l.pre_stop {
        errs.extend(lifecycle_handler(h, grace, &path.child("preStop")));
    }
    errs
}

fn probe(p: &Probe, grace: Option<i64>, path: &Path) -> Errors {
    let mut errs = handler(
        Handler {
            exec: p.exec.as_ref(),
            http_get: p.http_get.as_ref(),
            tcp: p.tcp_socket.as_ref(),
            grpc: p.grpc.as_ref(),
            sleep: None,
        },
        grace,
        path,
    );
    for (field, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        errs.extend(nonnegative(i64::from(v.unwrap_or(0)), &path.child(field)));
    }
    if let Some(t) = p.termination_grace_period_seconds
        && t <= 0
    {
        errs.push(FieldCause::invalid(
            path.child("terminationGracePeriodSeconds"),
            &Value::from(t),
            "must be greater than 0",
        ));
    }
    errs
}

fn probes(c: &Container, grace: Option<i64>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (field, p) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(p) = p else {
            continue;
        };
        let pp = path.child(field);
        errs.extend(probe(p, grace, &pp));
        if field == "readinessProbe" {
            if let Some(t) = p.termination_grace_period_seconds {
                errs.push(FieldCause::invalid(
                    pp.child("terminationGracePeriodSeconds"),
                    &Value::from(t),
                    "must not be set for readinessProbes",
                ));
            }
        } else {
            let st = p.success_threshold.unwrap_or(0);
            if st != 1 {
                errs.push(FieldCause::invalid(
                    pp.child("successThreshold"),
                    &Value::from(st),
                    "must be 1",
                ));
            }
        }
    }
    errs
}

/// Tolerations: key, operator/value consistency, effect.
pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let ip = path.index(i);
        let key = s(&t.key);
        let op = s(&t.operator);
        let value = s(&t.value);
        let effect = s(&t.effect);
        if !key.is_empty() {
            errs.extend(validate_label_name(key, &ip.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldCause::invalid(
                ip.child("operator"),
                &jstr(op),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldCause::invalid(
                ip.child("effect"),
                &jstr(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = names::label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldCause::invalid(
                        ip.child("operator"),
                        &jstr(value),
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldCause::invalid(
                        ip.child("operator"),
                        &jstr(value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldCause::not_supported(
                ip.child("operator"),
                &jstr(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(taint_effect(effect, &ip.child("effect")));
        }
    }
    errs
}

/// A taint effect: NoSchedule, PreferNoSchedule or NoExecute.
pub(crate) fn taint_effect(effect: &str, path: &Path) -> Errors {
    if ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        Vec::new()
    } else {
        vec![FieldCause::not_supported(
            path,
            &jstr(effect),
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )]
    }
}

/// One node selector requirement (node affinity, PV node affinity).
pub(crate) fn node_selector_requirement(
    r: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    path: &Path,
) -> Errors {
    let mut errs = Vec::new();
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldCause::required_detail(
                    path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldCause::forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(FieldCause::required_detail(
                    path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldCause::invalid(
            path.child("operator"),
            &jstr(other),
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&r.key, &path.child("key")));
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            for msg in names::label_value(v) {
                errs.push(FieldCause::invalid(
                    path.child("values").index(i),
                    &jstr(v),
                    msg,
                ));
            }
        }
    }
    errs
}

fn node_selector_term(t: &NodeSelectorTerm, allow_invalid_values: bool, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (j, r) in t.match_expressions.iter().flatten().enumerate() {
        errs.extend(node_selector_requirement(
            r,
            allow_invalid_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, r) in t.match_fields.iter().flatten().enumerate() {
        let p = path.child("matchFields").index(j);
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if r.values.as_ref().is_none_or(|v| v.len() != 1) {
                    errs.push(FieldCause::required_detail(
                        p.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            other => errs.push(FieldCause::invalid(
                p.child("operator"),
                &jstr(other),
                "not a valid selector operator",
            )),
        }
        if r.key != "metadata.name" {
            errs.push(FieldCause::invalid(
                p.child("key"),
                &jstr(&r.key),
                "not a valid field selector key",
            ));
        } else {
            for (i, v) in r.values.iter().flatten().enumerate() {
                for msg in names::dns1123_subdomain(v) {
                    errs.push(FieldCause::invalid(
                        p.child("values").index(i),
                        &jstr(v),
                        msg,
                    ));
                }
            }
        }
    }
    errs
}

/// A required node selector: at least one term, each term valid.
pub(crate) fn node_selector(ns: &NodeSelector, path: &Path) -> Errors {
    let tp = path.child("nodeSelectorTerms");
    if ns.node_selector_terms.is_empty() {
        return vec![FieldCause::required_detail(
            &tp,
            "must have at least one node selector term",
        )];
    }
    let mut errs = Vec::new();
    for (i, t) in ns.node_selector_terms.iter().enumerate() {
        errs.extend(node_selector_term(t, false, &tp.index(i)));
    }
    errs
}

fn pod_affinity_term(t: &PodAffinityTerm, path: &Path) -> Errors {
    let mut errs = validate_label_selector(t.label_selector.as_ref(), &path.child("labelSelector"));
    errs.extend(validate_label_selector(
        t.namespace_selector.as_ref(),
        &path.child("namespaceSelector"),
    ));
    for ns in t.namespaces.iter().flatten() {
        for msg in names::dns1123_label(ns) {
            errs.push(FieldCause::invalid(path.child("namespace"), &jstr(ns), msg));
        }
    }
    for (field, keys) in [
        ("matchLabelKeys", t.match_label_keys.as_deref()),
        ("mismatchLabelKeys", t.mismatch_label_keys.as_deref()),
    ] {
        let keys = keys.unwrap_or_default();
        if keys.is_empty() {
            continue;
        }
        if t.label_selector.is_none() {
            errs.push(FieldCause::forbidden(
                path.child(field),
                "must not be specified when labelSelector is not set",
            ));
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            errs.extend(validate_label_name(k, &path.child(field).index(i)));
        }
    }
    if let Some(mismatch) = &t.mismatch_label_keys {
        for (i, k) in t.match_label_keys.iter().flatten().enumerate() {
            if mismatch.contains(k) {
                errs.push(FieldCause::invalid(
                    path.child("matchLabelKeys").index(i),
                    &jstr(k),
                    "exists in both matchLabelKeys and mismatchLabelKeys",
                ));
            }
        }
    }
    if t.topology_key.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(validate_label_name(
        &t.topology_key,
        &path.child("topologyKey"),
    ));
    errs
}

fn affinity(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let Some(a) = &spec.affinity else {
        return errs;
    };
    if let Some(na) = &a.node_affinity {
        let np = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errs.extend(node_selector(
                req,
                &np.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        for (i, t) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let p = np
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&t.weight) {
                errs.push(FieldCause::invalid(
                    p.child("weight"),
                    &Value::from(t.weight),
                    "must be in the range 1-100",
                ));
            }
            errs.extend(node_selector_term(
                &t.preference,
                true,
                &p.child("preference"),
            ));
        }
    }
    for (field, pa) in [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ] {
        let Some((required, preferred)) = pa else {
            continue;
        };
        let pp = path.child(field);
        for (i, t) in required.iter().flatten().enumerate() {
            errs.extend(pod_affinity_term(
                t,
                &pp.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            ));
        }
        for (i, t) in preferred.iter().flatten().enumerate() {
            let p = pp
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&t.weight) {
                errs.push(FieldCause::invalid(
                    p.child("weight"),
                    &Value::from(t.weight),
                    "must be in the range 1-100",
                ));
            }
            errs.extend(pod_affinity_term(
                &t.pod_affinity_term,
                &p.child("podAffinityTerm"),
            ));
        }
    }
    errs
}

fn dns_config(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let policy = s(&spec.dns_policy);
    if policy == "None" {
        match &spec.dns_config {
            None => {
                return vec![FieldCause::required_detail(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )];
            }
            Some(c) if c.nameservers.as_ref().is_none_or(|n| n.is_empty()) => {
                return vec![FieldCause::required_detail(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )];
            }
            _ => {}
        }
    }
    let Some(c) = &spec.dns_config else {
        return errs;
    };
    let nameservers = c.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        errs.push(FieldCause::invalid_rendered(
            path.child("nameservers"),
            go_strings(Some(nameservers)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        for msg in names::ip(ns) {
            errs.push(FieldCause::invalid(
                path.child("nameservers").index(i),
                &jstr(ns),
                msg,
            ));
        }
    }
    let searches = c.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(FieldCause::invalid_rendered(
            path.child("searches"),
            go_strings(Some(searches)),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(FieldCause::invalid_rendered(
            path.child("searches"),
            go_strings(Some(searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if search == "." {
            continue;
        }
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        for msg in names::dns1123_subdomain_with_underscore(trimmed) {
            errs.push(FieldCause::invalid(
                path.child("searches").index(i),
                &jstr(trimmed),
                msg,
            ));
        }
    }
    for (i, o) in c.options.iter().flatten().enumerate() {
        if s(&o.name).is_empty() {
            errs.push(FieldCause::required_detail(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn topology_spread(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let list = spec
        .topology_spread_constraints
        .as_deref()
        .unwrap_or_default();
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldCause::invalid(
                p.child("maxSkew"),
                &Value::from(c.max_skew),
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldCause::required_detail(
                p.child("topologyKey"),
                "can not be empty",
            ));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errs.push(FieldCause::not_supported(
                p.child("whenUnsatisfiable"),
                &jstr(&c.when_unsatisfiable),
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if list[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(FieldCause::duplicate(
                p.child("{topologyKey, whenUnsatisfiable}"),
                &jstr(&format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable)),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(FieldCause::invalid(
                    p.child("minDomains"),
                    &Value::from(md),
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(FieldCause::invalid(
                    p.child("minDomains"),
                    &Value::from(md),
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (field, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = policy
                && v != "Honor"
                && v != "Ignore"
            {
                errs.push(FieldCause::not_supported(
                    p.child(field),
                    &jstr(v),
                    &["Honor", "Ignore"],
                ));
            }
        }
        let keys = c.match_label_keys.as_deref().unwrap_or_default();
        if !keys.is_empty() {
            let mp = p.child("matchLabelKeys");
            let mut selector_keys: BTreeSet<&str> = BTreeSet::new();
            match &c.label_selector {
                Some(sel) => {
                    for k in sel.match_labels.iter().flatten().map(|(k, _)| k) {
                        selector_keys.insert(k);
                    }
                    for r in sel.match_expressions.iter().flatten() {
                        selector_keys.insert(&r.key);
                    }
                }
                None => errs.push(FieldCause::forbidden(
                    &mp,
                    "must not be specified when labelSelector is not set",
                )),
            }
            for (j, k) in keys.iter().enumerate() {
                errs.extend(validate_label_name(k, &mp.index(j)));
                if selector_keys.contains(k.as_str()) {
                    errs.push(FieldCause::invalid(
                        mp.index(j),
                        &jstr(k),
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        errs.extend(validate_label_selector(
            c.label_selector.as_ref(),
            &p.child("labelSelector"),
        ));
    }
    errs
}

const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// A short, upstream-like description of what differs between two specs (upstream prints a
/// `cmp.Diff`; this prints the changed top-level fields).
pub(crate) fn spec_diff<T: serde::Serialize>(type_name: &str, old: &T, new: &T) -> String {
    let o = serde_json::to_value(old).unwrap_or_default();
    let n = serde_json::to_value(new).unwrap_or_default();
    let empty = serde_json::Map::new();
    let om = o.as_object().unwrap_or(&empty);
    let nm = n.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
    let mut out = format!("  {type_name}{{\n");
    for k in keys {
        let (a, b) = (om.get(k), nm.get(k));
        if a == b {
            continue;
        }
        let field = {
            let mut c = k.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        };
        let show = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "nil".into());
        out.push_str(&format!("- \t{field}: {},\n", show(a)));
        out.push_str(&format!("+ \t{field}: {},\n", show(b)));
    }
    out.push_str("  }\n");
    out
}

/// Validation of a Pod update: the new pod's own checks, plus the mostly-immutable spec.
pub fn validate_pod_update(new: &Value, old: &Value) -> Errors {
    let (Some(new), Some(old)) = (decode::<Pod>(new), decode::<Pod>(old)) else {
        return super::undecodable("Pod");
    };
    let mut errs =
        meta::validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errs.extend(validate_pod_metadata_and_spec(&new));
    errs.extend(annotation_updates(&new, &old));
    let spec_path = Path::new("spec");
    let ns = new.spec.clone().unwrap_or_default();
    let os = old.spec.clone().unwrap_or_default();
    let empty = Vec::new();
    for (field, nc, oc) in [
        ("containers", &ns.containers, &os.containers),
        (
            "initContainers",
            ns.init_containers.as_ref().unwrap_or(&empty),
            os.init_containers.as_ref().unwrap_or(&empty),
        ),
    ] {
        let p = spec_path.child(field);
        if nc.len() != oc.len() {
            errs.push(FieldCause::forbidden(
                &p,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in nc.iter().enumerate() {
            let image = s(&c.image);
            if image.is_empty() {
                errs.push(FieldCause::required(p.index(i).child("image")));
            }
            if image.trim().len() != image.len() {
                errs.push(FieldCause::invalid(
                    p.index(i).child("image"),
                    &jstr(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let adp = spec_path.child("activeDeadlineSeconds");
    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (Some(n), o) => {
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                errs.push(FieldCause::invalid(
                    &adp,
                    &Value::from(n),
                    names::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
                return errs;
            }
            if let Some(o) = o
                && o < n
            {
                errs.push(FieldCause::invalid(
                    &adp,
                    &Value::from(n),
                    "must be less than or equal to previous value",
                ));
                return errs;
            }
        }
        (None, Some(_)) => errs.push(FieldCause::invalid(
            &adp,
            &Value::Null,
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }
    let new_tol = ns.tolerations.clone().unwrap_or_default();
    for old_t in os.tolerations.iter().flatten() {
        let found = new_tol.iter().any(|t| {
            let mut o = old_t.clone();
            o.toleration_seconds = t.toleration_seconds;
            &o == t
        });
        if !found {
            errs.push(FieldCause::forbidden(
                spec_path.child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    let old_gates: BTreeSet<&str> = os
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in ns.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(FieldCause::forbidden(
                spec_path.child("schedulingGates").index(i).child("name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    if ns == os {
        return errs;
    }
    let mut munged = ns.clone();
    for (c, o) in munged.containers.iter_mut().zip(&os.containers) {
        c.image = o.image.clone();
    }
    if let (Some(ic), Some(oc)) = (munged.init_containers.as_mut(), os.init_containers.as_ref()) {
        for (c, o) in ic.iter_mut().zip(oc) {
            c.image = o.image.clone();
        }
    }
    munged.active_deadline_seconds = os.active_deadline_seconds;
    munged.scheduling_gates = os.scheduling_gates.clone();
    munged.tolerations = os.tolerations.clone();
    if os.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = os.termination_grace_period_seconds;
    }
    if !old_gates.is_empty() {
        let old_sel = os.node_selector.clone().unwrap_or_default();
        let new_sel = munged.node_selector.clone().unwrap_or_default();
        if old_sel.iter().all(|(k, v)| new_sel.get(k) == Some(v)) {
            munged.node_selector = os.node_selector.clone();
        } else {
            errs.push(FieldCause::invalid_rendered(
                spec_path.child("nodeSelector"),
                super::go_map(munged.node_selector.as_ref()),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
            munged.node_selector = os.node_selector.clone();
        }
    }
    if munged != os {
        errs.push(FieldCause::forbidden(
            &spec_path,
            format!(
                "pod updates may not change fields other than {UPDATABLE}\n{}",
                spec_diff("core.PodSpec", &os, &munged)
            ),
        ));
    }
    errs
}

fn annotation_updates(new: &Pod, old: &Pod) -> Errors {
    let mut errs = Vec::new();
    let p = Path::new("metadata").child("annotations");
    let empty = BTreeMap::new();
    let na = new.metadata.annotations.as_ref().unwrap_or(&empty);
    let oa = old.metadata.annotations.as_ref().unwrap_or(&empty);
    let mirror = "kubernetes.io/config.mirror";
    let apparmor = "container.apparmor.security.beta.kubernetes.io/";
    for (k, v) in oa {
        if na.get(k) == Some(v) {
            continue;
        }
        if k.starts_with(apparmor) {
            errs.push(FieldCause::forbidden(
                p.key(k),
                "may not remove or update AppArmor annotations",
            ));
        }
        if k == mirror {
            errs.push(FieldCause::forbidden(
                p.key(k),
                "may not remove or update mirror pod annotation",
            ));
        }
    }
    for k in na.keys() {
        if oa.contains_key(k) {
            continue;
        }
        if k.starts_with(apparmor) {
            errs.push(FieldCause::forbidden(
                p.key(k),
                "may not add AppArmor annotations",
            ));
        }
        if k == mirror {
            errs.push(FieldCause::forbidden(
                p.key(k),
                "may not add mirror pod annotation",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults;
    use serde_json::json;

    fn pod(spec: Value) -> Value {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        defaults::apply("", "Pod", &mut p);
        p
    }

    fn create(spec: Value) -> Errors {
        validate_pod_create(&pod(spec))
    }

    #[test]
    fn huge_pages_must_be_whole_pages_in_limits_and_requests() {
        let errs = create(
            json!({"containers": [{"name": "c", "image": "i", "resources": {
            "limits": {"hugepages-2Mi": "3Mi", "memory": "1Gi"},
            "requests": {"hugepages-2Mi": "3Mi", "memory": "1Gi"}}}]}),
        );
        let r = "spec.containers[0].resources";
        for side in ["limits", "requests"] {
            assert_has(
                &errs,
                &format!("{r}.{side}[hugepages-2Mi]"),
                "Invalid value: \"3Mi\": 3Mi is not positive integer multiple of hugepages-2Mi",
            );
        }
    }

    #[test]
    fn minimal_defaulted_pod_is_valid() {
        assert_valid(&create(
            json!({"containers": [{"name": "c", "image": "nginx"}]}),
        ));
    }

    #[test]
    fn undefaulted_pod_reports_required_fields() {
        let p = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let errs = validate_pod_create(&p);
        assert_has(
            &errs,
            "spec.terminationGracePeriodSeconds",
            "Required value",
        );
        assert_has(&errs, "spec.restartPolicy", "Required value");
        assert_has(&errs, "spec.dnsPolicy", "Required value");
        assert_has(
            &errs,
            "spec.containers[0].imagePullPolicy",
            "Required value",
        );
        assert_has(
            &errs,
            "spec.containers[0].terminationMessagePolicy",
            "Required value",
        );
    }

    #[test]
    fn containers_required_and_named() {
        let errs = create(json!({"containers": []}));
        assert_eq!(lines(&errs), vec!["spec.containers: Required value"]);
        let errs = create(json!({"containers": [
            {"name": "c", "image": "x"}, {"name": "c", "image": "x"}, {"name": "Bad", "image": ""}]}));
        assert_has(&errs, "spec.containers[1].name", "Duplicate value: \"c\"");
        assert_has_prefix(
            &errs,
            "spec.containers[2].name",
            "Invalid value: \"Bad\": a lowercase RFC 1123 label",
        );
        assert_has(&errs, "spec.containers[2].image", "Required value");
    }

    #[test]
    fn ports() {
        let errs = create(json!({"containers": [{"name": "c", "image": "x", "ports": [
            {"containerPort": 0},
            {"containerPort": 70000, "hostPort": 80, "name": "http"},
            {"containerPort": 80, "name": "http", "protocol": "ICMP"},
            {"containerPort": 81, "hostPort": 80, "name": "http-2"}]}]}));
        assert_has(
            &errs,
            "spec.containers[0].ports[0].containerPort",
            "Required value",
        );
        assert_has(
            &errs,
            "spec.containers[0].ports[1].containerPort",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        );
        assert_has(
            &errs,
            "spec.containers[0].ports[2].name",
            "Duplicate value: \"http\"",
        );
        assert_has(
            &errs,
            "spec.containers[0].ports[2].protocol",
            "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        );
        assert_has(
            &errs,
            "spec.containers[0].ports[3].hostPort",
            "Duplicate value: \"TCP//80\"",
        );
    }

    #[test]
    fn restart_policy_and_dns_policy_values() {
        let errs = create(json!({"restartPolicy": "Sometimes", "dnsPolicy": "Cluster",
            "containers": [{"name": "c", "image": "x"}]}));
        assert_has(
            &errs,
            "spec.restartPolicy",
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        );
        assert_has(
            &errs,
            "spec.dnsPolicy",
            "Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        );
    }

    #[test]
    fn resources() {
        let errs = create(
            json!({"containers": [{"name": "c", "image": "x", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi", "example.com/gpu": "1"},
            "requests": {"cpu": "2", "memory": "-1", "example.com/gpu": "2", "bogus": "1", "storage": "x"}}}]}),
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests",
            "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests[memory]",
            "Invalid value: \"-1\": must be greater than or equal to 0",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests",
            "Invalid value: \"2\": must be equal to example.com/gpu limit of 1",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests[bogus]",
            "Invalid value: \"bogus\": must be a standard resource type or fully qualified",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests[bogus]",
            "Invalid value: \"bogus\": must be a standard resource for containers",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests[storage]",
            "Invalid value: \"storage\": must be a standard resource for containers",
        );
        assert_has(
            &errs,
            "spec.containers[0].resources.requests[storage]",
            &format!("Invalid value: \"x\": {FORMAT_ERROR}"),
        );
        let ok = create(
            json!({"containers": [{"name": "c", "image": "x", "resources": {
            "limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "0.25"}}}]}),
        );
        assert_valid(&ok);
    }

    #[test]
    fn volume_mounts_need_volumes() {
        let errs = create(json!({
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "x", "volumeMounts": [
                {"name": "data", "mountPath": "/d"},
                {"name": "missing", "mountPath": "/d"},
                {"name": "data", "mountPath": "", "subPath": "../x"}]}]}));
        assert_has(
            &errs,
            "spec.containers[0].volumeMounts[1].name",
            "Not found: \"missing\"",
        );
        assert_has(
            &errs,
            "spec.containers[0].volumeMounts[1].mountPath",
            "Invalid value: \"/d\": must be unique",
        );
        assert_has(
            &errs,
            "spec.containers[0].volumeMounts[2].mountPath",
            "Required value",
        );
        assert_has(
            &errs,
            "spec.containers[0].volumeMounts.subPath",
            "Invalid value: \"../x\": must not contain '..'",
        );
        assert_eq!(
            errs.iter()
                .find(|e| e.field.ends_with("[1].name"))
                .unwrap()
                .reason,
            "FieldValueNotFound"
        );
    }

    #[test]
    fn env_vars() {
        let errs = create(json!({"containers": [{"name": "c", "image": "x", "env": [
            {"name": ""},
            {"name": "A=B", "value": "x"},
            {"name": "OK", "valueFrom": {}},
            {"name": "BOTH", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "FIELD", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "bad key"}}}]}]}));
        assert_has(&errs, "spec.containers[0].env[0].name", "Required value");
        assert_has(
            &errs,
            "spec.containers[0].env[1].name",
            "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
        );
        assert_has(
            &errs,
            "spec.containers[0].env[2].valueFrom",
            "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        );
        assert_has(
            &errs,
            "spec.containers[0].env[3].valueFrom",
            "Invalid value: \"\": may not be specified when `value` is not empty",
        );
        assert_has_prefix(
            &errs,
            "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath",
            "Unsupported value: \"status.phase\"",
        );
        assert_has_prefix(
            &errs,
            "spec.containers[0].env[5].valueFrom.configMapKeyRef.key",
            "Invalid value: \"bad key\": a valid config key",
        );
    }

    #[test]
    fn probes_and_lifecycle() {
        let errs = create(json!({"containers": [{"name": "c", "image": "x",
            "livenessProbe": {"successThreshold": 2, "httpGet": {"port": 0}},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": "http"}, "terminationGracePeriodSeconds": 5},
            "startupProbe": {},
            "lifecycle": {"preStop": {"sleep": {"seconds": 100}}}}]}));
        assert_has(
            &errs,
            "spec.containers[0].livenessProbe.successThreshold",
            "Invalid value: 2: must be 1",
        );
        assert_has(
            &errs,
            "spec.containers[0].livenessProbe.httpGet.port",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        );
        assert_has(
            &errs,
            "spec.containers[0].readinessProbe.tcpSocket",
            "Forbidden: may not specify more than 1 handler type",
        );
        assert_has(
            &errs,
            "spec.containers[0].readinessProbe.terminationGracePeriodSeconds",
            "Invalid value: 5: must not be set for readinessProbes",
        );
        assert_has(
            &errs,
            "spec.containers[0].startupProbe",
            "Required value: must specify a handler type",
        );
        assert_has(
            &errs,
            "spec.containers[0].lifecycle.preStop.sleep",
            "Invalid value: 100: must be non-negative and less than terminationGracePeriodSeconds (30)",
        );
    }

    #[test]
    fn init_containers() {
        let errs = create(json!({
            "initContainers": [
                {"name": "c", "image": "x"},
                {"name": "i", "image": "x", "livenessProbe": {"exec": {"command": ["a"]}}},
                {"name": "s", "image": "x", "restartPolicy": "OnFailure"}],
            "containers": [{"name": "c", "image": "x", "restartPolicy": "Always"}]}));
        assert_has(
            &errs,
            "spec.initContainers[0].name",
            "Duplicate value: \"c\"",
        );
        assert_has(
            &errs,
            "spec.initContainers[1].livenessProbe",
            "Forbidden: may not be set for init containers without restartPolicy=Always",
        );
        assert_has(
            &errs,
            "spec.initContainers[2].restartPolicy",
            "Unsupported value: \"OnFailure\": supported values: \"Always\"",
        );
        assert_has(
            &errs,
            "spec.containers[0].restartPolicy",
            "Forbidden: may not be set for non-init containers",
        );
    }

    #[test]
    fn spec_level_fields() {
        let errs = create(json!({
            "containers": [{"name": "c", "image": "x"}],
            "hostname": "Host", "nodeName": "node_1", "activeDeadlineSeconds": 0,
            "nodeSelector": {"disk": "-ssd"},
            "tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v", "effect": "Bad"}],
            "dnsPolicy": "None",
            "ephemeralContainers": [{"name": "dbg", "image": "busybox"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
            "topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]}));
        assert_has_prefix(
            &errs,
            "spec.hostname",
            "Invalid value: \"Host\": a lowercase RFC 1123 label",
        );
        assert_has_prefix(
            &errs,
            "spec.nodeName",
            "Invalid value: \"node_1\": a lowercase RFC 1123 subdomain",
        );
        assert_has(
            &errs,
            "spec.activeDeadlineSeconds",
            "Invalid value: 0: must be between 1 and 2147483647, inclusive",
        );
        assert_has_prefix(
            &errs,
            "spec.nodeSelector",
            "Invalid value: \"-ssd\": a valid label must be",
        );
        assert_has(
            &errs,
            "spec.tolerations[0].operator",
            "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        );
        assert_has(
            &errs,
            "spec.tolerations[1].operator",
            "Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        );
        assert_has(
            &errs,
            "spec.tolerations[1].effect",
            "Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
        );
        assert_has(
            &errs,
            "spec.dnsConfig",
            "Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        );
        assert_has(
            &errs,
            "spec.ephemeralContainers",
            "Forbidden: cannot be set on create",
        );
        assert_has(
            &errs,
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
            "Required value: must have at least one node selector term",
        );
        assert_has(
            &errs,
            "spec.topologySpreadConstraints[0].maxSkew",
            "Invalid value: 0: must be greater than zero",
        );
        assert_has(
            &errs,
            "spec.topologySpreadConstraints[0].whenUnsatisfiable",
            "Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
        );
    }

    #[test]
    fn host_network_ports_must_match() {
        let mut p = pod(
            json!({"hostNetwork": true, "containers": [{"name": "c", "image": "x",
            "ports": [{"containerPort": 80}]}]}),
        );
        assert_valid(&validate_pod_create(&p));
        p["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(81);
        assert_has(
            &validate_pod_create(&p),
            "spec.containers[0].ports[0].hostPort",
            "Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
        );
    }

    #[test]
    fn update_rules() {
        let mut old = pod(json!({"containers": [{"name": "c", "image": "nginx:1"}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]}));
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["activeDeadlineSeconds"] = json!(30);
        new["spec"]["tolerations"][0]["tolerationSeconds"] = json!(5);
        assert_valid(&validate_pod_update(&new, &old));

        let mut bad = old.clone();
        bad["spec"]["restartPolicy"] = json!("Never");
        let errs = validate_pod_update(&bad, &old);
        assert_eq!(errs.len(), 1, "{:#?}", lines(&errs));
        assert!(errs[0].message.starts_with("Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"));
        assert!(errs[0].message.contains("RestartPolicy"));
        assert_eq!(errs[0].field, "spec");

        let mut more = old.clone();
        more["spec"]["containers"] =
            json!([{"name": "c", "image": "x"}, {"name": "d", "image": "x"}]);
        defaults::apply("", "Pod", &mut more);
        assert_has(
            &validate_pod_update(&more, &old),
            "spec.containers",
            "Forbidden: pod updates may not add or remove containers",
        );

        let mut tol = old.clone();
        tol["spec"]["tolerations"][0]["key"] = json!("other");
        assert_has(
            &validate_pod_update(&tol, &old),
            "spec.tolerations",
            "Forbidden: existing toleration can not be modified except its tolerationSeconds",
        );

        let mut deadline = old.clone();
        deadline["spec"]["activeDeadlineSeconds"] = json!(10);
        let mut longer = old.clone();
        longer["spec"]["activeDeadlineSeconds"] = json!(20);
        assert_has(
            &validate_pod_update(&longer, &deadline),
            "spec.activeDeadlineSeconds",
            "Invalid value: 20: must be less than or equal to previous value",
        );
    }

    #[test]
    fn pod_annotations() {
        let mut p = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
        p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x",
            "controller.kubernetes.io/pod-deletion-cost": "abc"});
        let errs = validate_pod_create(&p);
        assert_has(
            &errs,
            "metadata.annotations[kubernetes.io/config.mirror]",
            "Invalid value: \"x\": must set spec.nodeName if mirror pod annotation is set",
        );
        assert_has(
            &errs,
            "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
            "Invalid value: \"abc\": must be a 32bit integer",
        );
    }
}
