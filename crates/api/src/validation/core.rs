//! The core group's kinds other than Pod and Service: PodTemplate, ReplicationController,
//! ConfigMap, Secret, Namespace, Node, ServiceAccount, Endpoints, Event, LimitRange,
//! ResourceQuota, PersistentVolume, PersistentVolumeClaim, Binding.

use super::meta::{
    validate_label_name, validate_label_selector, validate_object_meta,
    validate_object_meta_update, validate_qualified_name,
};
use super::names::{self, NameRule};
use super::pod::{
    self, node_selector, one_of, parse_quantity, taint_effect, validate_pod_template_spec,
    validate_quantity_value, validate_resource_name,
};
use super::quantity::Quantity;
use super::{Errors, Path, decode, decode_pair, go_map, go_strings, json_of, jstr, nonnegative, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::{
    Binding, ConfigMap, EndpointAddress, Endpoints, Event, LimitRange, Namespace, Node,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplate,
    ReplicationController, ResourceQuota, Secret, ServiceAccount, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Upper bound on the data of a Secret or ConfigMap, in bytes.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

macro_rules! decode_or_return {
    ($t:ty, $kind:literal, $new:expr, $old:expr) => {
        match decode_pair::<$t>($kind, $new, $old) {
            Ok(pair) => pair,
            Err(e) => return e,
        }
    };
}

fn meta_path() -> Path {
    Path::new("metadata")
}

/// PodTemplate: metadata and the template (create and update alike).
pub fn validate_pod_template(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(PodTemplate, "PodTemplate", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    } else {
        errs.extend(validate_object_meta(
            &n.metadata,
            true,
            NameRule::Subdomain,
            &meta_path(),
        ));
    }
    errs.extend(validate_pod_template_spec(
        &n.template.clone().unwrap_or_default(),
        &Path::new("template"),
        &[],
    ));
    errs
}

/// ReplicationController: metadata, non-empty selector matching the template's labels,
/// replicas, and a template whose pods restart Always.
pub fn validate_replication_controller(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(ReplicationController, "ReplicationController", new, old);
    let mut errs = Vec::new();
    match &o {
        Some(o) => errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        )),
        None => errs.extend(validate_object_meta(
            &n.metadata,
            true,
            NameRule::Subdomain,
            &meta_path(),
        )),
    }
    let spec = n.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    errs.extend(nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        errs.push(FieldCause::required(path.child("selector")));
    }
    errs.extend(nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    let tp = path.child("template");
    match &spec.template {
        None => errs.push(FieldCause::required(&tp)),
        Some(t) => {
            let labels = t.metadata.as_ref().and_then(|m| m.labels.as_ref());
            if !selector.is_empty() {
                let empty = BTreeMap::new();
                let l = labels.unwrap_or(&empty);
                if !selector.iter().all(|(k, v)| l.get(k) == Some(v)) {
                    errs.push(FieldCause::invalid_rendered(
                        tp.child("metadata").child("labels"),
                        go_map(labels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            errs.extend(validate_pod_template_spec(t, &tp, &[]));
            errs.extend(template_restart_always(t, &tp, "ReplicationController"));
        }
    }
    errs
}

/// Workload templates: restartPolicy must be Always; activeDeadlineSeconds is forbidden.
pub(crate) fn template_restart_always(
    t: &k8s_openapi::api::core::v1::PodTemplateSpec,
    tp: &Path,
    kind: &str,
) -> Errors {
    let mut errs = Vec::new();
    let spec = t.spec.clone().unwrap_or_default();
    let rp = s(&spec.restart_policy);
    if rp != "Always" {
        errs.push(FieldCause::not_supported(
            tp.child("spec").child("restartPolicy"),
            &jstr(rp),
            &["Always"],
        ));
    }
    if let Some(ads) = spec.active_deadline_seconds {
        let p = tp.child("spec").child("activeDeadlineSeconds");
        let msg = format!("activeDeadlineSeconds in {kind} is not Supported");
        if kind == "ReplicationController" || kind == "StatefulSet" {
            errs.push(FieldCause::forbidden(p, msg));
        } else {
            errs.push(FieldCause::invalid(p, &Value::from(ads), msg));
        }
    }
    errs
}

/// ConfigMap: metadata, valid keys, no key in both data and binaryData, at most 1 MiB; an
/// immutable ConfigMap's data cannot change.
pub fn validate_config_map(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(ConfigMap, "ConfigMap", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
        if o.immutable == Some(true) {
            if n.immutable != Some(true) {
                errs.push(FieldCause::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if n.data != o.data {
                errs.push(FieldCause::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
            if n.binary_data != o.binary_data {
                errs.push(FieldCause::forbidden(
                    "binaryData",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let mut total = 0;
    let data_path = Path::new("data");
    for (k, v) in n.data.iter().flatten() {
        for msg in names::config_map_key(k) {
            errs.push(FieldCause::invalid(data_path.key(k), &jstr(k), msg));
        }
        if n.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldCause::invalid(
                data_path.key(k),
                &jstr(k),
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    for (k, v) in n.binary_data.iter().flatten() {
        for msg in names::config_map_key(k) {
            errs.push(FieldCause::invalid(
                Path::new("binaryData").key(k),
                &jstr(k),
                msg,
            ));
        }
        total += v.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldCause::too_long("", MAX_SECRET_SIZE));
    }
    errs
}

/// Secret: metadata, valid keys, at most 1 MiB, and each built-in type's required keys; the
/// type is immutable, and so is an immutable Secret's data.
pub fn validate_secret(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(Secret, "Secret", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
        if s(&n.type_) != s(&o.type_) {
            errs.push(FieldCause::invalid(
                "type",
                &jstr(s(&n.type_)),
                "field is immutable",
            ));
        }
        if o.immutable == Some(true) {
            if n.immutable != Some(true) {
                errs.push(FieldCause::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if n.data != o.data {
                errs.push(FieldCause::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let data_path = Path::new("data");
    let empty = BTreeMap::new();
    let data = n.data.as_ref().unwrap_or(&empty);
    let mut total = 0;
    for (k, v) in data {
        for msg in names::config_map_key(k) {
            errs.push(FieldCause::invalid(data_path.key(k), &jstr(k), msg));
        }
        total += v.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldCause::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let json_key = |key: &str, errs: &mut Errors| match data.get(key) {
        None => errs.push(FieldCause::required(data_path.key(key))),
        Some(bytes) => {
            if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes.0) {
                errs.push(FieldCause::invalid(
                    data_path.key(key),
                    &jstr("<secret contents redacted>"),
                    e.to_string(),
                ));
            }
        }
    };
    match s(&n.type_) {
        "kubernetes.io/service-account-token" => {
            let name = n
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map(String::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldCause::required(
                    Path::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                ));
            }
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg", &mut errs),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson", &mut errs),
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errs.push(FieldCause::required(data_path.key("username")));
            errs.push(FieldCause::required(data_path.key("password")));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errs.push(FieldCause::required(data_path.key("ssh-privatekey")));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errs.push(FieldCause::required(data_path.key(key)));
                }
            }
        }
        _ => {}
    }
    errs
}

/// Namespace: metadata (a DNS label, not namespaced) and finalizer names.
pub fn validate_namespace(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(Namespace, "Namespace", new, old);
    let mut errs = validate_object_meta(&n.metadata, false, NameRule::Label, &meta_path());
    let fp = Path::new("spec").child("finalizers");
    for f in n.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        errs.extend(validate_qualified_name(f, &fp));
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f.as_str())
        {
            errs.push(FieldCause::invalid(
                &fp,
                &jstr(f),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs
}

fn validate_taints(taints: &[Taint], path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let ip = path.index(i);
        errs.extend(validate_label_name(&t.key, &ip.child("key")));
        let value = s(&t.value);
        let msgs = names::label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldCause::invalid(
                ip.child("value"),
                &jstr(value),
                msgs.join(";"),
            ));
        }
        if t.effect.is_empty() {
            errs.push(FieldCause::required(ip.child("effect")));
        } else {
            errs.extend(taint_effect(&t.effect, &ip.child("effect")));
        }
        if !seen.insert((t.effect.clone(), t.key.clone())) {
            let mut cause = FieldCause::duplicate_rendered(&ip, json_of(t));
            cause.message = format!(
                "{}: taints must be unique by key and effect pair",
                cause.message
            );
            errs.push(cause);
        }
    }
    errs
}

fn node_resources(node: &Node) -> Errors {
    let mut errs = Vec::new();
    for (field, list) in node
        .status
        .iter()
        .flat_map(|s| [("capacity", &s.capacity), ("allocatable", &s.allocatable)])
    {
        for (k, v) in list.iter().flatten() {
            errs.extend(validate_quantity_value(
                k,
                v,
                &Path::new("status").child(field).child(k),
            ));
        }
    }
    errs
}

/// Node: metadata (not namespaced), taints, resources, pod CIDRs; updates may not change
/// podCIDRs or providerID once set.
pub fn validate_node(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(Node, "Node", new, old);
    let mut errs = Vec::new();
    let spec = n.spec.clone().unwrap_or_default();
    let taints_path = meta_path().child("taints");
    // Upstream's strategy runs ValidateNode and then, on update, ValidateNodeUpdate (which
    // checks taints and resources again).
    errs.extend(validate_object_meta(
        &n.metadata,
        false,
        NameRule::Subdomain,
        &meta_path(),
    ));
    errs.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &taints_path,
    ));
    errs.extend(node_resources(&n));
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
    let cp = Path::new("spec").child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        for msg in names::cidr(c) {
            errs.push(FieldCause::invalid(cp.index(i), &jstr(c), msg));
        }
    }
    if cidrs.len() > 1 {
        let v4 = cidrs
            .iter()
            .filter_map(|c| names::parse_cidr(c))
            .filter(|(a, _)| a.is_ipv4())
            .count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(FieldCause::invalid_rendered(
                &cp,
                go_strings(Some(cidrs)),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c) {
                errs.push(FieldCause::duplicate(cp.index(i), &jstr(c)));
            }
        }
    }
    let Some(o) = &o else {
        return errs;
    };
    errs.extend(validate_object_meta_update(
        &n.metadata,
        &o.metadata,
        &meta_path(),
    ));
    errs.extend(node_resources(&n));
    let mut seen = Vec::new();
    for (i, a) in n
        .status
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .enumerate()
    {
        if seen.contains(&a) {
            errs.push(FieldCause::duplicate_rendered(
                Path::new("status").child("addresses").index(i),
                json_of(a),
            ));
        }
        seen.push(a);
    }
    let ospec = o.spec.clone().unwrap_or_default();
    let old_cidrs = ospec.pod_cidrs.clone().unwrap_or_default();
    let new_cidrs = spec.pod_cidrs.clone().unwrap_or_default();
    if !old_cidrs.is_empty() {
        let msg = "node updates may not change podCIDR except from \"\" to valid";
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(FieldCause::forbidden("spec.podCIDRs", msg));
        } else {
            for (a, b) in old_cidrs.iter().zip(&new_cidrs) {
                if a != b {
                    errs.push(FieldCause::forbidden("spec.podCIDRs", msg));
                }
            }
        }
    }
    let old_pid = s(&ospec.provider_id);
    if !old_pid.is_empty() && old_pid != s(&spec.provider_id) {
        errs.push(FieldCause::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errs.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &taints_path,
    ));
    if s(&spec.external_id) != s(&ospec.external_id) {
        errs.push(FieldCause::forbidden(
            "spec.externalID",
            "may not be updated",
        ));
    }
    errs
}

/// ServiceAccount: metadata only.
pub fn validate_service_account(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(ServiceAccount, "ServiceAccount", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    errs
}

/// Upstream's `ValidateNonSpecialIP`: no unspecified, loopback or link-local addresses.
pub(crate) fn non_special_ip(ip: &str, path: &Path) -> Errors {
    let Some(addr) = names::parse_ip(ip) else {
        return vec![FieldCause::invalid(
            path,
            &jstr(ip),
            "must be a valid IP address",
        )];
    };
    let mut errs = Vec::new();
    let (unspecified, loopback, ll_unicast, ll_multicast) = match addr {
        std::net::IpAddr::V4(a) => {
            let o = a.octets();
            (
                a.is_unspecified(),
                a.is_loopback(),
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        std::net::IpAddr::V6(a) => {
            let seg = a.segments();
            (
                a.is_unspecified(),
                a.is_loopback(),
                seg[0] & 0xffc0 == 0xfe80,
                seg[0] & 0xff0f == 0xff02,
            )
        }
    };
    if unspecified {
        errs.push(FieldCause::invalid(
            path,
            &jstr(ip),
            format!("may not be unspecified ({ip})"),
        ));
    }
    if loopback {
        errs.push(FieldCause::invalid(
            path,
            &jstr(ip),
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if ll_unicast {
        errs.push(FieldCause::invalid(
            path,
            &jstr(ip),
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if ll_multicast {
        errs.push(FieldCause::invalid(
            path,
            &jstr(ip),
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

fn endpoint_address(a: &EndpointAddress, path: &Path) -> Errors {
    let mut errs: Errors = names::ip(&a.ip)
        .into_iter()
        .map(|m| FieldCause::invalid(path.child("ip"), &jstr(&a.ip), m))
        .collect();
    let hostname = s(&a.hostname);
    if !hostname.is_empty() {
        for msg in names::dns1123_label(hostname) {
            errs.push(FieldCause::invalid(
                path.child("hostname"),
                &jstr(hostname),
                msg,
            ));
        }
    }
    if let Some(node) = &a.node_name {
        for msg in names::dns1123_subdomain(node) {
            errs.push(FieldCause::invalid(
                path.child("nodeName"),
                &jstr(node),
                msg,
            ));
        }
    }
    errs.extend(non_special_ip(&a.ip, &path.child("ip")));
    errs
}

/// Endpoints: metadata and subsets (addresses, ports).
pub fn validate_endpoints(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(Endpoints, "Endpoints", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let sp = Path::new("subsets");
    for (i, ss) in n.subsets.iter().flatten().enumerate() {
        let ip = sp.index(i);
        let addrs = ss.addresses.as_deref().unwrap_or_default();
        let not_ready = ss.not_ready_addresses.as_deref().unwrap_or_default();
        if addrs.is_empty() && not_ready.is_empty() {
            errs.push(FieldCause::required_detail(
                &ip,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, a) in addrs.iter().enumerate() {
            errs.extend(endpoint_address(a, &ip.child("addresses").index(j)));
        }
        for (j, a) in not_ready.iter().enumerate() {
            errs.extend(endpoint_address(a, &ip.child("notReadyAddresses").index(j)));
        }
        let ports = ss.ports.as_deref().unwrap_or_default();
        for (j, p) in ports.iter().enumerate() {
            let pp = ip.child("ports").index(j);
            let name = s(&p.name);
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldCause::required(pp.child("name")));
            } else if !name.is_empty() {
                for msg in names::dns1123_label(name) {
                    errs.push(FieldCause::invalid(pp.child("name"), &jstr(name), msg));
                }
            }
            for msg in names::port_num(i64::from(p.port)) {
                errs.push(FieldCause::invalid(
                    pp.child("port"),
                    &Value::from(p.port),
                    msg,
                ));
            }
            errs.extend(one_of(
                s(&p.protocol),
                &pp.child("protocol"),
                &["SCTP", "TCP", "UDP"],
            ));
            if let Some(ap) = &p.app_protocol {
                errs.extend(validate_qualified_name(ap, &pp.child("appProtocol")));
            }
        }
    }
    errs
}

/// Event (core/v1): upstream's legacy checks — involvedObject namespace agreement and, for
/// new-style events (eventTime set), reporting fields and lengths — then, when those pass,
/// the generic registry's metadata checks (path-segment names).
pub fn validate_event(new: &Value, old: Option<&Value>) -> Errors {
    let Some(e) = decode::<Event>(new) else {
        return super::undecodable("Event");
    };
    let mut errs = Vec::new();
    let ns = s(&e.metadata.namespace);
    let involved_ns = s(&e.involved_object.namespace);
    let mismatch = || {
        FieldCause::invalid(
            "involvedObject.namespace",
            &jstr(involved_ns),
            "does not match event.namespace",
        )
    };
    if e.event_time.is_none() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != involved_ns {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let rc = s(&e.reporting_component);
        if rc.is_empty() {
            errs.push(FieldCause::required("reportingComponent"));
        }
        errs.extend(validate_qualified_name(
            rc,
            &Path::new("reportingComponent"),
        ));
        let limits: [(&str, &str, usize, bool); 4] = [
            ("reportingInstance", s(&e.reporting_instance), 128, true),
            ("action", s(&e.action), 128, true),
            ("reason", s(&e.reason), 128, true),
            ("message", s(&e.message), 1024, false),
        ];
        for (field, value, limit, required) in limits {
            if required && value.is_empty() {
                errs.push(FieldCause::required(field));
            }
            if value.len() > limit {
                errs.push(FieldCause::invalid(
                    field,
                    &jstr(""),
                    format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    for msg in names::dns1123_subdomain(ns) {
        errs.push(FieldCause::invalid("namespace", &jstr(ns), msg));
    }
    // The generic registry's metadata check (path-segment names) runs when the event passed.
    if errs.is_empty() {
        errs.extend(validate_object_meta(
            &e.metadata,
            true,
            NameRule::PathSegment,
            &meta_path(),
        ));
        if let Some(o) = old.and_then(decode::<Event>) {
            errs.extend(validate_object_meta_update(
                &e.metadata,
                &o.metadata,
                &meta_path(),
            ));
        }
    }
    errs
}

fn limit_range_resource_name(limit_type: &str, name: &str, path: &Path) -> Errors {
    let mut errs = validate_resource_name(name, path);
    if limit_type == "Pod" || limit_type == "Container" {
        if !name.contains('/') {
            if !["cpu", "memory", "ephemeral-storage"].contains(&name)
                && !pod::is_huge_page_resource(name)
            {
                errs.push(FieldCause::invalid(
                    path,
                    &jstr(name),
                    "must be a standard resource for containers",
                ));
            }
        } else if !pod::is_native_resource(name) && !pod::is_extended_resource(name) {
            errs.push(FieldCause::invalid(
                path,
                &jstr(name),
                "doesn't follow extended resource name standard",
            ));
        }
    }
    errs
}

fn parsed(list: &Option<BTreeMap<String, KQuantity>>) -> BTreeMap<String, Quantity> {
    list.iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().flatten().map(|q| (k.clone(), q)))
        .collect()
}

/// LimitRange: metadata, limit types, resource names, and min ≤ default request ≤ default ≤
/// max consistency.
pub fn validate_limit_range(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(LimitRange, "LimitRange", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let lp = Path::new("spec").child("limits");
    let mut types = BTreeSet::new();
    for (i, item) in n.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
        let ip = lp.index(i);
        let t = item.type_.as_str();
        let type_errs: Errors = names::qualified_name(t)
            .into_iter()
            .map(|m| FieldCause::invalid(ip.child("type"), &jstr(t), m))
            .collect();
        if type_errs.is_empty()
            && !t.contains('/')
            && !["Pod", "Container", "PersistentVolumeClaim"].contains(&t)
        {
            errs.push(FieldCause::invalid(
                ip.child("type"),
                &jstr(t),
                "must be a standard limit type or fully qualified",
            ));
        }
        errs.extend(type_errs);
        if !types.insert(t.to_string()) {
            errs.push(FieldCause::duplicate(ip.child("type"), &jstr(t)));
        }
        for (field, list) in [
            ("max", &item.max),
            ("min", &item.min),
            ("default", &item.default),
            ("defaultRequest", &item.default_request),
            ("maxLimitRequestRatio", &item.max_limit_request_ratio),
        ] {
            if t == "Pod" && (field == "default" || field == "defaultRequest") {
                if list.as_ref().is_some_and(|l| !l.is_empty()) {
                    errs.push(FieldCause::forbidden(
                        ip.child(field),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
                continue;
            }
            for (k, q) in list.iter().flatten() {
                errs.extend(limit_range_resource_name(t, k, &ip.child(field).key(k)));
                if let Err(e) = parse_quantity(q, &ip.child(field).key(k)) {
                    errs.push(e);
                }
            }
        }
        if t == "PersistentVolumeClaim" {
            let has = |l: &Option<BTreeMap<String, KQuantity>>| {
                l.as_ref().is_some_and(|m| m.contains_key("storage"))
            };
            if !has(&item.min) && !has(&item.max) {
                errs.push(FieldCause::required_detail(
                    ip.child("limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                ));
            }
        }
        let (min, max) = (parsed(&item.min), parsed(&item.max));
        let (def, def_req) = if t == "Pod" {
            (BTreeMap::new(), BTreeMap::new())
        } else {
            (parsed(&item.default), parsed(&item.default_request))
        };
        let ratio = parsed(&item.max_limit_request_ratio);
        let keys: BTreeSet<&String> = min
            .keys()
            .chain(max.keys())
            .chain(def.keys())
            .chain(def_req.keys())
            .chain(ratio.keys())
            .collect();
        use std::cmp::Ordering::{Greater, Less};
        for k in keys {
            let (mn, mx, d, dr, r) = (
                min.get(k),
                max.get(k),
                def.get(k),
                def_req.get(k),
                ratio.get(k),
            );
            // Each bound must not exceed the next: (lower, its name, upper, its name, the field
            // reported, and which of the two values the message shows), in upstream's order.
            let (min_v, max_v, def_v, req_v) = (
                "min value",
                "max value",
                "default value",
                "default request value",
            );
            let orderings = [
                (mn, min_v, mx, max_v, "min", mn),
                (mn, min_v, dr, req_v, "defaultRequest", dr),
                (dr, req_v, mx, max_v, "defaultRequest", dr),
                (dr, req_v, d, "default limit value", "defaultRequest", dr),
                (mn, min_v, d, def_v, "default", mn),
                (d, def_v, mx, max_v, "default", mx),
            ];
            for (lower, lower_name, upper, upper_name, field, shown) in orderings {
                if let (Some(x), Some(y), Some(shown)) = (lower, upper, shown)
                    && x.cmp_value(y) == Greater
                {
                    errs.push(FieldCause::invalid(
                        ip.child(field).key(k),
                        &jstr(&shown.canonical()),
                        format!("{lower_name} {x} is greater than {upper_name} {y}"),
                    ));
                }
            }
            if let Some(r) = r
                && r.cmp_value(&Quantity::from_int(1)) == Less
            {
                errs.push(FieldCause::invalid(
                    ip.child("maxLimitRequestRatio").key(k),
                    &jstr(&r.canonical()),
                    format!("ratio {r} is less than 1"),
                ));
            }
        }
    }
    errs
}

const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
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
    "services.nodeports",
    "services.loadbalancers",
];

fn quota_list(list: &Option<BTreeMap<String, KQuantity>>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (k, q) in list.iter().flatten() {
        let p = path.key(k);
        let name_errs = validate_resource_name(k, &p);
        let standard = STANDARD_QUOTA_RESOURCES.contains(&k.as_str())
            || k.starts_with("requests.hugepages-")
            || k.starts_with("hugepages-");
        errs.extend(name_errs);
        if !k.contains('/') && !standard {
            errs.push(FieldCause::invalid(
                &p,
                &jstr(k),
                "must be a standard resource for quota",
            ));
        }
        errs.extend(validate_quantity_value(k, q, &p));
    }
    errs
}

/// ResourceQuota: metadata, resource names and quantities, scopes; scopes are immutable.
pub fn validate_resource_quota(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(ResourceQuota, "ResourceQuota", new, old);
    let mut errs = Vec::new();
    let spec = n.spec.clone().unwrap_or_default();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
        let a: BTreeSet<&String> = spec.scopes.iter().flatten().collect();
        let ospec = o.spec.clone().unwrap_or_default();
        let b: BTreeSet<&String> = ospec.scopes.iter().flatten().collect();
        if a != b {
            errs.push(FieldCause::invalid_rendered(
                "spec.scopes",
                go_strings(spec.scopes.as_deref()),
                "field is immutable",
            ));
        }
    } else {
        errs.extend(validate_object_meta(
            &n.metadata,
            true,
            NameRule::Subdomain,
            &meta_path(),
        ));
    }
    errs.extend(quota_list(&spec.hard, &Path::new("spec").child("hard")));
    const SCOPES: &[&str] = &[
        "Terminating",
        "NotTerminating",
        "BestEffort",
        "NotBestEffort",
        "PriorityClass",
        "CrossNamespacePodAffinity",
        "VolumeAttributesClass",
    ];
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    for sc in scopes {
        if !SCOPES.contains(&sc.as_str()) {
            errs.push(FieldCause::invalid_rendered(
                "spec.scopes",
                go_strings(Some(scopes)),
                "unsupported scope",
            ));
        }
    }
    let has = |x: &str| scopes.iter().any(|s| s == x);
    if (has("BestEffort") && has("NotBestEffort")) || (has("Terminating") && has("NotTerminating"))
    {
        errs.push(FieldCause::invalid_rendered(
            "spec.scopes",
            go_strings(Some(scopes)),
            "conflicting scopes",
        ));
    }
    if o.is_none()
        && let Some(status) = &n.status
    {
        errs.extend(quota_list(&status.hard, &Path::new("status").child("hard")));
        errs.extend(quota_list(&status.used, &Path::new("status").child("used")));
    }
    errs
}

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn access_modes(modes: &[String], path: &Path) -> Errors {
    let mut errs = Vec::new();
    let (mut rwop, mut other) = (false, false);
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldCause::not_supported(path, &jstr(m), ACCESS_MODES));
        }
        if m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(&m.as_str()) {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldCause::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

/// A PVC spec (also used by ephemeral volumes and StatefulSet claim templates).
pub(crate) fn validate_pvc_spec(spec: &PersistentVolumeClaimSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("accessModes"),
            "at least 1 access mode is required",
        ));
    }
    errs.extend(validate_label_selector(
        spec.selector.as_ref(),
        &path.child("selector"),
    ));
    errs.extend(access_modes(modes, &path.child("accessModes")));
    let sp = path.child("resources").key("storage");
    match spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldCause::required(&sp)),
        Some(q) => match parse_quantity(q, &sp) {
            Err(e) => errs.push(e),
            Ok(Some(v)) if v.signum() <= 0 => errs.push(FieldCause::invalid(
                &sp,
                &jstr(&v.canonical()),
                "must be greater than zero",
            )),
            Ok(_) => {}
        },
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        for msg in names::dns1123_subdomain(sc) {
            errs.push(FieldCause::invalid(
                path.child("storageClassName"),
                &jstr(sc),
                msg,
            ));
        }
    }
    if let Some(vm) = &spec.volume_mode
        && vm != "Block"
        && vm != "Filesystem"
    {
        errs.push(FieldCause::not_supported(
            path.child("volumeMode"),
            &jstr(vm),
            &["Block", "Filesystem"],
        ));
    }
    for (field, r) in [
        (
            "dataSource",
            spec.data_source
                .as_ref()
                .map(|d| (&d.name, &d.kind, &d.api_group)),
        ),
        (
            "dataSourceRef",
            spec.data_source_ref
                .as_ref()
                .map(|d| (&d.name, &d.kind, &d.api_group)),
        ),
    ] {
        let Some((name, kind, group)) = r else {
            continue;
        };
        let p = path.child(field);
        if name.is_empty() {
            errs.push(FieldCause::required(p.child("name")));
        }
        if kind.is_empty() {
            errs.push(FieldCause::required(p.child("kind")));
        }
        let group = s(group);
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errs.push(FieldCause::invalid(
                &p,
                &jstr(kind),
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ));
        }
        if !group.is_empty() {
            for msg in names::dns1123_subdomain(group) {
                errs.push(FieldCause::invalid(p.child("apiGroup"), &jstr(group), msg));
            }
        }
    }
    errs
}

/// PersistentVolumeClaim: metadata and spec; the spec is immutable except for a bound
/// claim's storage request (which may grow) and a first `volumeName`.
pub fn validate_persistent_volume_claim(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(PersistentVolumeClaim, "PersistentVolumeClaim", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        true,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let spec = n.spec.clone().unwrap_or_default();
    errs.extend(validate_pvc_spec(&spec, &Path::new("spec")));
    let Some(o) = &o else {
        return errs;
    };
    let ospec = o.spec.clone().unwrap_or_default();
    let mut new_clone = spec.clone();
    let mut old_clone = ospec.clone();
    if s(&ospec.volume_name).is_empty() {
        old_clone.volume_name = new_clone.volume_name.clone();
    }
    let bound = n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let storage = |spec: &PersistentVolumeClaimSpec| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .cloned()
    };
    if bound {
        if let Some(req) = new_clone
            .resources
            .as_mut()
            .and_then(|r| r.requests.as_mut())
        {
            match storage(&ospec) {
                Some(q) => {
                    req.insert("storage".into(), q);
                }
                None => {
                    req.remove("storage");
                }
            }
        }
        if new_clone.volume_attributes_class_name.is_some() {
            new_clone.volume_attributes_class_name = old_clone.volume_attributes_class_name.clone();
        }
    }
    if new_clone != old_clone {
        errs.push(FieldCause::forbidden(
            "spec",
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                pod::spec_diff("core.PersistentVolumeClaimSpec", &old_clone, &new_clone)
            ),
        ));
    }
    let q = |k: Option<KQuantity>| k.and_then(|k| Quantity::parse(&k.0).ok().flatten());
    if let (Some(new_size), Some(old_size)) = (q(storage(&spec)), q(storage(&ospec)))
        && new_size.cmp_value(&old_size) == std::cmp::Ordering::Less
    {
        let status_size = q(o
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .cloned())
        .unwrap_or_else(Quantity::zero);
        if new_size.cmp_value(&status_size) != std::cmp::Ordering::Greater {
            errs.push(FieldCause::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than status.capacity",
            ));
        }
    }
    if spec.volume_mode != ospec.volume_mode {
        errs.push(FieldCause::invalid(
            "volumeMode",
            &spec
                .volume_mode
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
    errs
}

fn pv_source_count(spec: &k8s_openapi::api::core::v1::PersistentVolumeSpec) -> Vec<&'static str> {
    let mut set = Vec::new();
    let fields: [(&'static str, bool); 24] = [
        ("hostPath", spec.host_path.is_some()),
        ("gcePersistentDisk", spec.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            spec.aws_elastic_block_store.is_some(),
        ),
        ("glusterfs", spec.glusterfs.is_some()),
        ("flocker", spec.flocker.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("rbd", spec.rbd.is_some()),
        ("quobyte", spec.quobyte.is_some()),
        ("cephFS", spec.cephfs.is_some()),
        ("iscsi", spec.iscsi.is_some()),
        ("cinder", spec.cinder.is_some()),
        ("fc", spec.fc.is_some()),
        ("flexVolume", spec.flex_volume.is_some()),
        ("azureFile", spec.azure_file.is_some()),
        ("vsphereVolume", spec.vsphere_volume.is_some()),
        (
            "photonPersistentDisk",
            spec.photon_persistent_disk.is_some(),
        ),
        ("portworxVolume", spec.portworx_volume.is_some()),
        ("azureDisk", spec.azure_disk.is_some()),
        ("scaleIO", spec.scale_io.is_some()),
        ("local", spec.local.is_some()),
        ("storageos", spec.storageos.is_some()),
        ("csi", spec.csi.is_some()),
        ("", false),
        ("", false),
    ];
    for (name, present) in fields {
        if present {
            set.push(name);
        }
    }
    set
}

/// The volume source fields of a PV spec, for immutability checks.
fn pv_source(spec: &k8s_openapi::api::core::v1::PersistentVolumeSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for k in [
            "accessModes",
            "capacity",
            "claimRef",
            "mountOptions",
            "nodeAffinity",
            "persistentVolumeReclaimPolicy",
            "storageClassName",
            "volumeAttributesClassName",
            "volumeMode",
        ] {
            m.remove(k);
        }
    }
    v
}

/// PersistentVolume: metadata (not namespaced), access modes, capacity, reclaim policy,
/// exactly one volume source, node affinity; the source is immutable.
pub fn validate_persistent_volume(new: &Value, old: Option<&Value>) -> Errors {
    let (n, o) = decode_or_return!(PersistentVolume, "PersistentVolume", new, old);
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(
            &n.metadata,
            &o.metadata,
            &meta_path(),
        ));
    }
    errs.extend(validate_object_meta(
        &n.metadata,
        false,
        NameRule::Subdomain,
        &meta_path(),
    ));
    let spec = n.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errs.push(FieldCause::required(path.child("accessModes")));
    }
    errs.extend(access_modes(modes, &path.child("accessModes")));
    let cp = path.child("capacity");
    let empty = BTreeMap::new();
    let capacity = spec.capacity.as_ref().unwrap_or(&empty);
    if capacity.is_empty() {
        errs.push(FieldCause::required(&cp));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        errs.push(FieldCause::not_supported_rendered(
            &cp,
            json_of(&capacity),
            &["storage"],
        ));
    }
    for (k, q) in capacity {
        match parse_quantity(q, &cp.key(k)) {
            Err(e) => errs.push(e),
            Ok(Some(v)) if v.signum() <= 0 => errs.push(FieldCause::invalid(
                cp.key(k),
                &jstr(&v.canonical()),
                "must be greater than zero",
            )),
            Ok(_) => {}
        }
    }
    let rp = s(&spec.persistent_volume_reclaim_policy);
    if !rp.is_empty() && !["Delete", "Recycle", "Retain"].contains(&rp) {
        errs.push(FieldCause::not_supported(
            path.child("persistentVolumeReclaimPolicy"),
            &jstr(rp),
            &["Delete", "Recycle", "Retain"],
        ));
    }
    if let Some(na) = &spec.node_affinity {
        match &na.required {
            Some(req) => errs.extend(node_selector(
                req,
                &path.child("nodeAffinity").child("required"),
            )),
            None => errs.push(FieldCause::required_detail(
                path.child("nodeAffinity").child("required"),
                "must specify required node constraints",
            )),
        }
    }
    let sources = pv_source_count(&spec);
    for extra in sources.iter().skip(1) {
        errs.push(FieldCause::forbidden(
            path.child(extra),
            "may not specify more than 1 volume type",
        ));
    }
    if sources.is_empty() {
        errs.push(FieldCause::required_detail(
            &path,
            "must specify a volume type",
        ));
    }
    if let Some(hp) = &spec.host_path {
        errs.extend(super::volumes::validate_host_path(
            &hp.path,
            hp.type_.as_deref(),
            &path.child("hostPath"),
        ));
    }
    if let Some(local) = &spec.local {
        if local.path.is_empty() {
            errs.push(FieldCause::required(path.child("local").child("path")));
        } else {
            errs.extend(super::volumes::no_backsteps(
                &local.path,
                &path.child("local").child("path"),
            ));
        }
        if spec.node_affinity.is_none() {
            errs.push(FieldCause::required_detail(
                path.child("nodeAffinity"),
                "Local volume requires node affinity",
            ));
        }
    }
    if let Some(csi) = &spec.csi {
        errs.extend(super::volumes::csi_driver_name(
            &csi.driver,
            &path.child("csi").child("driver"),
        ));
        if csi.volume_handle.is_empty() {
            errs.push(FieldCause::required(
                path.child("csi").child("volumeHandle"),
            ));
        }
    }
    if let Some(nfs) = &spec.nfs {
        let p = path.child("nfs");
        if nfs.server.is_empty() {
            errs.push(FieldCause::required(p.child("server")));
        }
        if nfs.path.is_empty() {
            errs.push(FieldCause::required(p.child("path")));
        }
        if !nfs.path.starts_with('/') {
            errs.push(FieldCause::invalid(
                p.child("path"),
                &jstr(&nfs.path),
                "must be an absolute path",
            ));
        }
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        for msg in names::dns1123_subdomain(sc) {
            errs.push(FieldCause::invalid(
                path.child("storageClassName"),
                &jstr(sc),
                msg,
            ));
        }
    }
    if let Some(vm) = &spec.volume_mode
        && vm != "Block"
        && vm != "Filesystem"
    {
        errs.push(FieldCause::not_supported(
            path.child("volumeMode"),
            &jstr(vm),
            &["Block", "Filesystem"],
        ));
    }
    if let Some(o) = &o {
        let ospec = o.spec.clone().unwrap_or_default();
        let (mut a, b) = (pv_source(&spec), pv_source(&ospec));
        if let (Some(nc), Some(oc)) = (a.get_mut("csi"), b.get("csi"))
            && oc.get("controllerExpandSecretRef").is_none()
            && let Some(m) = nc.as_object_mut()
        {
            m.remove("controllerExpandSecretRef");
        }
        if a != b {
            errs.push(FieldCause::forbidden(
                "spec.persistentvolumesource",
                format!(
                    "spec.persistentvolumesource is immutable after creation\n{}",
                    pod::spec_diff("core.PersistentVolumeSource", &b, &a)
                ),
            ));
        }
        if spec.volume_mode != ospec.volume_mode {
            errs.push(FieldCause::invalid(
                "volumeMode",
                &spec
                    .volume_mode
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        if ospec.node_affinity.is_some() && spec.node_affinity != ospec.node_affinity {
            errs.push(FieldCause::invalid_rendered(
                "nodeAffinity",
                json_of(&spec.node_affinity),
                "field is immutable, except for updating from beta label to GA",
            ));
        }
    }
    errs
}

/// Binding (pods/binding): the target must be a Node (or unset kind) with a name.
pub fn validate_binding(obj: &Value) -> Errors {
    let Some(b) = decode::<Binding>(obj) else {
        return super::undecodable("Binding");
    };
    let mut errs = Vec::new();
    let kind = s(&b.target.kind);
    if !kind.is_empty() && kind != "Node" {
        errs.push(FieldCause::not_supported(
            "target.kind",
            &jstr(kind),
            &["Node", "<empty>"],
        ));
    }
    if s(&b.target.name).is_empty() {
        errs.push(FieldCause::required("target.name"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{validate_create, validate_update};
    use crate::defaults::apply;
    use serde_json::json;

    fn defaulted(kind: &str, mut v: serde_json::Value) -> serde_json::Value {
        apply("", kind, &mut v);
        v
    }

    #[test]
    fn replication_controller() {
        let rc = defaulted(
            "ReplicationController",
            json!({"metadata": {"name": "mysql", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "mysql"}},
                "spec": {"containers": [{"name": "mysql", "image": "mysql"}]}}}}),
        );
        assert_valid(&validate_create("", "ReplicationController", &rc));

        let mut bad = rc.clone();
        bad["spec"]["selector"] = json!({"app": "other"});
        bad["spec"]["replicas"] = json!(-1);
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        let errs = validate_create("", "ReplicationController", &bad);
        assert_has(
            &errs,
            "spec.template.metadata.labels",
            "Invalid value: map[string]string{\"app\":\"mysql\"}: `selector` does not match template `labels`",
        );
        assert_has(
            &errs,
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
        );
        assert_has(
            &errs,
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"Never\": supported values: \"Always\"",
        );

        let no_template =
            json!({"metadata": {"name": "x", "namespace": "d"}, "spec": {"selector": {}}});
        let errs = validate_create("", "ReplicationController", &no_template);
        assert_has(&errs, "spec.selector", "Required value");
        assert_has(&errs, "spec.template", "Required value");
    }

    #[test]
    fn config_maps() {
        let cm = json!({"metadata": {"name": "cfg", "namespace": "d"},
            "data": {"ok.key": "v", "bad key": "v", "dup": "x"}, "binaryData": {"dup": "eA=="}});
        let errs = validate_create("", "ConfigMap", &cm);
        assert_has_prefix(
            &errs,
            "data[bad key]",
            "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters",
        );
        assert_has(
            &errs,
            "data[dup]",
            "Invalid value: \"dup\": duplicate of key present in binaryData",
        );
        let big = json!({"metadata": {"name": "cfg", "namespace": "d"}, "data": {"a": "x".repeat(1024 * 1024 + 1)}});
        assert_eq!(
            lines(&validate_create("", "ConfigMap", &big)),
            vec![": Too long: may not be more than 1048576 bytes"]
        );

        let old = json!({"metadata": {"name": "cfg", "namespace": "d", "resourceVersion": "1"},
            "immutable": true, "data": {"a": "1"}});
        let mut new = old.clone();
        new["data"]["a"] = json!("2");
        new["immutable"] = json!(false);
        let errs = validate_update("", "ConfigMap", &new, &old);
        assert_has(
            &errs,
            "immutable",
            "Forbidden: field is immutable when `immutable` is set",
        );
        assert_has(
            &errs,
            "data",
            "Forbidden: field is immutable when `immutable` is set",
        );
    }

    #[test]
    fn secrets() {
        let tls = defaulted(
            "Secret",
            json!({"metadata": {"name": "t", "namespace": "d"},
            "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
        );
        assert_eq!(
            lines(&validate_create("", "Secret", &tls)),
            vec!["data[tls.key]: Required value"]
        );
        let docker = json!({"metadata": {"name": "t", "namespace": "d"},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "bm90IGpzb24="}});
        assert_has_prefix(
            &validate_create("", "Secret", &docker),
            "data[.dockerconfigjson]",
            "Invalid value: \"<secret contents redacted>\": ",
        );
        let sa = json!({"metadata": {"name": "t", "namespace": "d"}, "type": "kubernetes.io/service-account-token"});
        assert_has(
            &validate_create("", "Secret", &sa),
            "metadata.annotations[kubernetes.io/service-account.name]",
            "Required value",
        );

        let old = defaulted(
            "Secret",
            json!({"metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"}}),
        );
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/tls");
        new["data"] = json!({"tls.crt": "", "tls.key": ""});
        assert_has(
            &validate_update("", "Secret", &new, &old),
            "type",
            "Invalid value: \"kubernetes.io/tls\": field is immutable",
        );
    }

    #[test]
    fn namespaces_and_nodes() {
        let errs = validate_create("", "Namespace", &json!({"metadata": {"name": "a.b"}}));
        assert_eq!(
            lines(&errs),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
        let errs = validate_create(
            "",
            "Namespace",
            &json!({"metadata": {"name": "ok"}, "spec": {"finalizers": ["custom"]}}),
        );
        assert_has(
            &errs,
            "spec.finalizers",
            "Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
        );

        let node = json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.42.0.0/24", "bad"],
            "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}, {"key": "x", "effect": ""}]},
            "status": {"capacity": {"cpu": "-1"}}});
        let errs = validate_create("", "Node", &node);
        assert_has_prefix(
            &errs,
            "spec.podCIDRs[1]",
            "Invalid value: \"bad\": must be a valid CIDR value",
        );
        assert_has_prefix(&errs, "metadata.taints[1]", "Duplicate value: ");
        assert_has(&errs, "metadata.taints[2].effect", "Required value");
        assert_has(
            &errs,
            "status.capacity.cpu",
            "Invalid value: \"-1\": must be greater than or equal to 0",
        );

        let old = json!({"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.42.0.0/24"], "providerID": "p"}});
        let new = json!({"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.42.1.0/24"], "providerID": "q"}});
        let errs = validate_update("", "Node", &new, &old);
        assert_has(
            &errs,
            "spec.podCIDRs",
            "Forbidden: node updates may not change podCIDR except from \"\" to valid",
        );
        assert_has(
            &errs,
            "spec.providerID",
            "Forbidden: node updates may not change providerID except from \"\" to valid",
        );
    }

    #[test]
    fn endpoints_and_events() {
        let ep = defaulted(
            "Endpoints",
            json!({"metadata": {"name": "svc", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}, {"ip": "nope"}], "ports": [{"port": 80}, {"port": 0, "name": "b"}]}, {}]}),
        );
        let errs = validate_create("", "Endpoints", &ep);
        assert_has(
            &errs,
            "subsets[0].addresses[0].ip",
            "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
        );
        assert_has(
            &errs,
            "subsets[0].addresses[1].ip",
            "Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        );
        assert_has(&errs, "subsets[0].ports[0].name", "Required value");
        assert_has(
            &errs,
            "subsets[0].ports[1].port",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        );
        assert_has(
            &errs,
            "subsets[1]",
            "Required value: must specify `addresses` or `notReadyAddresses`",
        );

        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(
            lines(&validate_create("", "Event", &ev)),
            vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
        );
        let ok = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"kind": "Pod", "namespace": "a"}});
        assert_valid(&validate_create("", "Event", &ok));
        let new_style = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "a"},
            "eventTime": "2024-01-01T00:00:00.000000Z"});
        let errs = validate_create("", "Event", &new_style);
        assert_has(&errs, "reportingComponent", "Required value");
        assert_has(&errs, "reportingInstance", "Required value");
        assert_has(&errs, "action", "Required value");
        assert_has(&errs, "reason", "Required value");
    }

    #[test]
    fn pvcs_and_pvs() {
        let pvc = defaulted(
            "PersistentVolumeClaim",
            json!({"metadata": {"name": "data", "namespace": "d"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        );
        assert_valid(&validate_create("", "PersistentVolumeClaim", &pvc));
        let bad = defaulted(
            "PersistentVolumeClaim",
            json!({"metadata": {"name": "data", "namespace": "d"},
            "spec": {"accessModes": ["ReadWriteOncePod", "ReadWriteOnce", "Sideways"]}}),
        );
        let errs = validate_create("", "PersistentVolumeClaim", &bad);
        assert_has(
            &errs,
            "spec.accessModes",
            "Unsupported value: \"Sideways\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
        );
        assert_has(
            &errs,
            "spec.accessModes",
            "Forbidden: may not use ReadWriteOncePod with other access modes",
        );
        assert_has(&errs, "spec.resources[storage]", "Required value");

        let mut old = pvc.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut grow = old.clone();
        grow["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert_has_prefix(
            &validate_update("", "PersistentVolumeClaim", &grow, &old),
            "spec",
            "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n",
        );
        let mut bound_old = old.clone();
        bound_old["status"]["phase"] = json!("Bound");
        let mut bound_grow = grow.clone();
        bound_grow["status"]["phase"] = json!("Bound");
        assert_valid(&validate_update(
            "",
            "PersistentVolumeClaim",
            &bound_grow,
            &bound_old,
        ));
        let mut bind = old.clone();
        bind["spec"]["volumeName"] = json!("pv-1");
        assert_valid(&validate_update("", "PersistentVolumeClaim", &bind, &old));

        let pv = defaulted(
            "PersistentVolume",
            json!({"metadata": {"name": "pv"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}}),
        );
        assert_valid(&validate_create("", "PersistentVolume", &pv));
        let none = defaulted(
            "PersistentVolume",
            json!({"metadata": {"name": "pv"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi", "cpu": "1"}}}),
        );
        let errs = validate_create("", "PersistentVolume", &none);
        assert_has(&errs, "spec", "Required value: must specify a volume type");
        assert_has_prefix(&errs, "spec.capacity", "Unsupported value: ");
        let mut pv_old = pv.clone();
        pv_old["metadata"]["resourceVersion"] = json!("1");
        let mut moved = pv_old.clone();
        moved["spec"]["hostPath"]["path"] = json!("/other");
        assert_has_prefix(
            &validate_update("", "PersistentVolume", &moved, &pv_old),
            "spec.persistentvolumesource",
            "Forbidden: spec.persistentvolumesource is immutable after creation\n",
        );
    }

    #[test]
    fn limit_range_bounds_are_ordered() {
        // min 5 > defaultRequest 4 > max 3, default 2 below all of them but defaultRequest.
        let lr = json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"limits": [
            {"type": "Container", "min": {"cpu": "5"}, "max": {"cpu": "3"},
             "defaultRequest": {"cpu": "4"}, "default": {"cpu": "2"}}]}});
        let errs = validate_create("", "LimitRange", &lr);
        let p = "spec.limits[0]";
        assert_has(
            &errs,
            &format!("{p}.min[cpu]"),
            "Invalid value: \"5\": min value 5 is greater than max value 3",
        );
        assert_has(
            &errs,
            &format!("{p}.defaultRequest[cpu]"),
            "Invalid value: \"4\": min value 5 is greater than default request value 4",
        );
        assert_has(
            &errs,
            &format!("{p}.defaultRequest[cpu]"),
            "Invalid value: \"4\": default request value 4 is greater than max value 3",
        );
        assert_has(
            &errs,
            &format!("{p}.defaultRequest[cpu]"),
            "Invalid value: \"4\": default request value 4 is greater than default limit value 2",
        );
        assert_has(
            &errs,
            &format!("{p}.default[cpu]"),
            "Invalid value: \"5\": min value 5 is greater than default value 2",
        );
        // default ≤ max holds here: no message for it.
        assert!(
            !errs
                .iter()
                .any(|e| e.message.contains("default value 2 is greater")),
            "{errs:?}"
        );
        let over_max = json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}}]}});
        assert_has(
            &validate_create("", "LimitRange", &over_max),
            "spec.limits[0].default[cpu]",
            "Invalid value: \"1\": default value 2 is greater than max value 1",
        );
    }

    #[test]
    fn limit_ranges_quotas_and_bindings() {
        let lr = json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"limits": [
            {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
            {"type": "Pod", "default": {"cpu": "1"}},
            {"type": "Container"},
            {"type": "Weird"}]}});
        let errs = validate_create("", "LimitRange", &lr);
        assert_has(
            &errs,
            "spec.limits[0].min[cpu]",
            "Invalid value: \"2\": min value 2 is greater than max value 1",
        );
        assert_has(
            &errs,
            "spec.limits[1].default",
            "Forbidden: may not be specified when `type` is 'Pod'",
        );
        assert_has(
            &errs,
            "spec.limits[2].type",
            "Duplicate value: \"Container\"",
        );
        assert_has(
            &errs,
            "spec.limits[3].type",
            "Invalid value: \"Weird\": must be a standard limit type or fully qualified",
        );

        let rq = json!({"metadata": {"name": "q", "namespace": "d"}, "spec": {"hard": {"pods": "1.5", "cpu": "2", "gadgets": "1"},
            "scopes": ["BestEffort", "NotBestEffort"]}});
        let errs = validate_create("", "ResourceQuota", &rq);
        assert_has(
            &errs,
            "spec.hard[pods]",
            "Invalid value: \"1500m\": must be an integer",
        );
        assert_has(
            &errs,
            "spec.hard[gadgets]",
            "Invalid value: \"gadgets\": must be a standard resource for quota",
        );
        assert_has(
            &errs,
            "spec.scopes",
            "Invalid value: []string{\"BestEffort\", \"NotBestEffort\"}: conflicting scopes",
        );

        let b = json!({"metadata": {"name": "p"}, "target": {"kind": "Pod"}});
        let errs = validate_create("", "Binding", &b);
        assert_has(
            &errs,
            "target.kind",
            "Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
        );
        assert_has(&errs, "target.name", "Required value");
    }
}
