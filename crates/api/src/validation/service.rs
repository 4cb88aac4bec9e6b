//! Services (upstream's `ValidateService`, `ValidateServiceUpdate`): ports, selector, types,
//! session affinity, cluster IPs (when already allocated), traffic policies. NodePort ranges
//! and IP allocation are the allocator's business, not checked here.

use super::core::non_special_ip;
use super::meta::{
    validate_labels, validate_object_meta, validate_object_meta_update, validate_qualified_name,
};
use super::names::{self, NameRule};
use super::pod::{one_of, validate_port_num_or_name};
use super::{Errors, Path, decode_pair, go_strings, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use serde_json::Value;
use std::collections::BTreeSet;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ips
        .as_ref()
        .is_some_and(|ips| ips.len() == 1 && ips[0] == "None")
        || (spec.cluster_ips.as_ref().is_none_or(|i| i.is_empty()) && s(&spec.cluster_ip) == "None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    let t = s(&spec.type_);
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    s(&spec.type_) == "LoadBalancer" && s(&spec.external_traffic_policy) == "Local"
}

fn go_service_port(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{protocol:?}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"
    )
}

/// Service create/update validation.
pub fn validate_service(new: &Value, old: Option<&Value>) -> Errors {
    let (svc, old) = match decode_pair::<Service>("Service", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let meta_path = Path::new("metadata");
    let mut errs = Vec::new();
    let spec = svc.spec.clone().unwrap_or_default();
    if let Some(o) = &old {
        errs.extend(validate_object_meta_update(
            &svc.metadata,
            &o.metadata,
            &meta_path,
        ));
        errs.extend(update_rules(&spec, &o.spec.clone().unwrap_or_default()));
    }
    errs.extend(validate_object_meta(
        &svc.metadata,
        true,
        NameRule::Dns1035,
        &meta_path,
    ));
    let annotations = svc.metadata.annotations.clone().unwrap_or_default();
    let hints = annotations.get("service.kubernetes.io/topology-aware-hints");
    let mode = annotations.get("service.kubernetes.io/topology-mode");
    if let (Some(h), Some(m)) = (hints, mode)
        && h != m
    {
        errs.push(FieldCause::invalid(
            meta_path.child("annotations").key("service.kubernetes.io/topology-mode"),
            &jstr(m),
            "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
        ));
    }
    let path = Path::new("spec");
    let ports = spec.ports.clone().unwrap_or_default();
    let type_ = s(&spec.type_);
    let headless = is_headless(&spec);
    if ports.is_empty() && !headless && type_ != "ExternalName" {
        errs.push(FieldCause::required(path.child("ports")));
    }
    match type_ {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldCause::invalid(
            path.child("clusterIPs").index(0),
            &jstr("None"),
            format!("may not be set to 'None' for {type_} services"),
        )),
        "ExternalName" => {
            if spec.cluster_ips.as_ref().is_some_and(|i| !i.is_empty()) {
                errs.push(FieldCause::forbidden(
                    path.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldCause::forbidden(
                    path.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldCause::forbidden(
                    path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let en = s(&spec.external_name);
            let cname = en.strip_suffix('.').unwrap_or(en);
            if cname.is_empty() {
                errs.push(FieldCause::required(path.child("externalName")));
            } else {
                for msg in names::dns1123_subdomain(cname) {
                    errs.push(FieldCause::invalid(
                        path.child("externalName"),
                        &jstr(cname),
                        msg,
                    ));
                }
            }
        }
        _ => {}
    }
    let mut port_names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = path.child("ports").index(i);
        let name = s(&p.name);
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldCause::required(pp.child("name")));
        } else if !name.is_empty() {
            for msg in names::dns1123_label(name) {
                errs.push(FieldCause::invalid(pp.child("name"), &jstr(name), msg));
            }
            if !port_names.insert(name.to_string()) {
                errs.push(FieldCause::duplicate(pp.child("name"), &jstr(name)));
            }
        }
        for msg in names::port_num(i64::from(p.port)) {
            errs.push(FieldCause::invalid(
                pp.child("port"),
                &Value::from(p.port),
                msg,
            ));
        }
        errs.extend(one_of(s(&p.protocol), &pp.child("protocol"), PROTOCOLS));
        let target = p
            .target_port
            .clone()
            .unwrap_or(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0));
        errs.extend(validate_port_num_or_name(&target, &pp.child("targetPort")));
        if let Some(ap) = &p.app_protocol {
            errs.extend(validate_qualified_name(ap, &pp.child("appProtocol")));
        }
    }
    if spec.selector.is_some() {
        errs.extend(validate_labels(
            spec.selector.as_ref(),
            &path.child("selector"),
        ));
    }
    let affinity = s(&spec.session_affinity);
    if affinity.is_empty() {
        errs.push(FieldCause::required(path.child("sessionAffinity")));
    } else if affinity != "ClientIP" && affinity != "None" {
        errs.push(FieldCause::not_supported(
            path.child("sessionAffinity"),
            &jstr(affinity),
            &["ClientIP", "None"],
        ));
    }
    let sac = path.child("sessionAffinityConfig");
    if affinity == "ClientIP" {
        let detail = "when session affinity type is ClientIP";
        match &spec.session_affinity_config {
            None => errs.push(FieldCause::required_detail(&sac, detail)),
            Some(c) => match &c.client_ip {
                None => errs.push(FieldCause::required_detail(sac.child("clientIP"), detail)),
                Some(ip) => match ip.timeout_seconds {
                    None => errs.push(FieldCause::required_detail(
                        sac.child("clientIP").child("timeoutSeconds"),
                        detail,
                    )),
                    Some(t) if t <= 0 || t > 86400 => errs.push(FieldCause::invalid(
                        sac.child("clientIP").child("timeoutSeconds"),
                        &Value::from(t),
                        "must be greater than 0 and less than 86400",
                    )),
                    _ => {}
                },
            },
        }
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errs.push(FieldCause::forbidden(
            &sac,
            "must not be set when session affinity is None",
        ));
    }
    errs.extend(cluster_ips(&spec, &path));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let p = path.child("externalIPs").index(i);
        let msgs = names::ip(ip);
        if msgs.is_empty() {
            errs.extend(non_special_ip(ip, &p));
        } else {
            for msg in msgs {
                errs.push(FieldCause::invalid(&p, &jstr(ip), msg));
            }
        }
    }
    errs.extend(one_of(
        type_,
        &path.child("type"),
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
    ));
    if type_ == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.unwrap_or(0) != 0 {
                errs.push(FieldCause::forbidden(
                    path.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((s(&p.protocol).to_string(), np)) {
            errs.push(FieldCause::duplicate(
                path.child("ports").index(i).child("nodePort"),
                &Value::from(np),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let key = (s(&p.protocol).to_string(), p.port);
        if !seen.insert(key) {
            errs.push(FieldCause::duplicate_rendered(
                path.child("ports").index(i),
                go_service_port(s(&p.protocol), p.port),
            ));
        }
    }
    let ranges = spec.load_balancer_source_ranges.clone().unwrap_or_default();
    if !ranges.is_empty() {
        let fp = path.child("LoadBalancerSourceRanges");
        if type_ != "LoadBalancer" {
            errs.push(FieldCause::forbidden(
                &fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.trim();
            for msg in names::cidr(r) {
                errs.push(FieldCause::invalid(fp.index(i), &jstr(r), msg));
            }
        }
    } else if let Some(val) =
        annotations.get("service.beta.kubernetes.io/load-balancer-source-ranges")
    {
        let fp = meta_path
            .child("annotations")
            .key("service.beta.kubernetes.io/load-balancer-source-ranges");
        if type_ != "LoadBalancer" {
            errs.push(FieldCause::forbidden(
                &fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        let val = val.trim();
        if !val.is_empty() {
            for r in val.split(',') {
                let r = r.trim();
                for msg in names::cidr(r) {
                    errs.push(FieldCause::invalid(&fp, &jstr(r), msg));
                }
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && type_ != "LoadBalancer" {
        errs.push(FieldCause::forbidden(
            path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if type_ == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        errs.push(FieldCause::required("allocateLoadBalancerNodePorts"));
    }
    if let Some(class) = &spec.load_balancer_class {
        if type_ == "LoadBalancer" {
            errs.extend(validate_qualified_name(
                class,
                &path.child("loadBalancerClass"),
            ));
        } else {
            errs.push(FieldCause::forbidden(
                path.child("loadBalancerClass"),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }
    let etp = s(&spec.external_traffic_policy);
    if !externally_accessible(&spec) {
        if !etp.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("externalTrafficPolicy"),
                &jstr(etp),
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        errs.extend(one_of(
            etp,
            &path.child("externalTrafficPolicy"),
            &["Cluster", "Local"],
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(&spec) {
        if hc != 0 {
            errs.push(FieldCause::invalid(
                path.child("healthCheckNodePort"),
                &Value::from(hc),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldCause::required(path.child("healthCheckNodePort")));
    } else {
        for msg in names::port_num(i64::from(hc)) {
            errs.push(FieldCause::invalid(
                path.child("healthCheckNodePort"),
                &Value::from(hc),
                msg,
            ));
        }
    }
    match &spec.internal_traffic_policy {
        None if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&type_) => {
            errs.push(FieldCause::required(path.child("internalTrafficPolicy")));
        }
        Some(p) if p != "Cluster" && p != "Local" => errs.push(FieldCause::not_supported(
            path.child("internalTrafficPolicy"),
            &jstr(p),
            &["Cluster", "Local"],
        )),
        _ => {}
    }
    if let Some(td) = &spec.traffic_distribution
        && td != "PreferClose"
    {
        errs.push(FieldCause::not_supported(
            path.child("trafficDistribution"),
            &jstr(td),
            &["PreferClose"],
        ));
    }
    errs
}

/// clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy consistency, as far as they are set (the
/// allocator fills them in before upstream validates).
fn cluster_ips(spec: &ServiceSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if s(&spec.type_) == "ExternalName" {
        return errs;
    }
    let cip = s(&spec.cluster_ip);
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    let ips_path = path.child("clusterIPs");
    if !cip.is_empty() && !ips.is_empty() && ips[0] != cip {
        errs.push(FieldCause::invalid_rendered(
            &ips_path,
            go_strings(Some(&ips)),
            "first value must match `clusterIP`",
        ));
    }
    if cip.is_empty() && !ips.is_empty() {
        errs.push(FieldCause::invalid_rendered(
            &ips_path,
            go_strings(Some(&ips)),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    if ips.is_empty() && !cip.is_empty() && cip != "None" {
        for msg in names::ip(cip) {
            errs.push(FieldCause::invalid(
                path.child("clusterIP"),
                &jstr(cip),
                msg,
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, f) in spec.ip_families.iter().flatten().enumerate() {
        let p = path.child("ipFamilies").index(i);
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldCause::not_supported(&p, &jstr(f), &["IPv4", "IPv6"]));
        }
        if !seen.insert(f.clone()) {
            errs.push(FieldCause::duplicate(&p, &jstr(f)));
        }
    }
    if let Some(p) = &spec.ip_family_policy
        && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&p.as_str())
    {
        errs.push(FieldCause::not_supported(
            path.child("ipFamilyPolicy"),
            &jstr(p),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(FieldCause::invalid_rendered(
                    &ips_path,
                    go_strings(Some(&ips)),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        for msg in names::ip(ip) {
            invalid = true;
            errs.push(FieldCause::invalid(ips_path.index(i), &jstr(ip), msg));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldCause::invalid_rendered(
            &ips_path,
            go_strings(Some(&ips)),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v4 = ips
            .iter()
            .filter(|ip| names::parse_ip(ip).is_some_and(|a| a.is_ipv4()))
            .count();
        if v4 != 1 {
            errs.push(FieldCause::invalid_rendered(
                &ips_path,
                go_strings(Some(&ips)),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, fam)) in ips
            .iter()
            .zip(spec.ip_families.iter().flatten())
            .enumerate()
        {
            let v6 = names::parse_ip(ip).is_some_and(|a| a.is_ipv6());
            if fam == "IPv4" && v6 {
                errs.push(FieldCause::invalid(
                    ips_path.index(i),
                    &jstr(ip),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if fam == "IPv6" && !v6 {
                errs.push(FieldCause::invalid(
                    ips_path.index(i),
                    &jstr(ip),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

/// Update-only rules: cluster IPs and families may not change once set; loadBalancerClass
/// and healthCheckNodePort are immutable while they apply.
fn update_rules(new: &ServiceSpec, old: &ServiceSpec) -> Errors {
    let mut errs = Vec::new();
    let (nt, ot) = (s(&new.type_), s(&old.type_));
    if nt != "ExternalName" && ot != "ExternalName" && !(is_headless(new) && is_headless(old)) {
        let n_ips = new.cluster_ips.clone().unwrap_or_default();
        let o_ips = old.cluster_ips.clone().unwrap_or_default();
        if n_ips.is_empty() && o_ips.is_empty() {
            // clusterIPs not synced from clusterIP (pre-dual-stack shape): the single IP is
            // immutable once set.
            let (nc, oc) = (s(&new.cluster_ip), s(&old.cluster_ip));
            if !oc.is_empty() && nc != oc {
                errs.push(FieldCause::invalid(
                    "spec.clusterIP",
                    &Value::String(nc.to_string()),
                    "field is immutable",
                ));
            }
        }
        let p = Path::new("spec").child("clusterIPs");
        if n_ips.len() == o_ips.len() {
            for (i, (a, b)) in o_ips.iter().zip(&n_ips).enumerate() {
                if a != b {
                    errs.push(FieldCause::invalid_rendered(
                        p.index(i),
                        go_strings(Some(&n_ips)),
                        "may not change once set",
                    ));
                }
            }
        } else if o_ips.len() > n_ips.len() {
            if n_ips.is_empty() {
                errs.push(FieldCause::invalid_rendered(
                    p.index(0),
                    go_strings(Some(&n_ips)),
                    "primary clusterIP can not be unset",
                ));
            } else if n_ips[0] != o_ips[0] {
                errs.push(FieldCause::invalid_rendered(
                    p.index(0),
                    go_strings(Some(&n_ips)),
                    "may not change once set",
                ));
            }
            if n_ips.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
                errs.push(FieldCause::invalid(
                    "spec.ipFamilyPolicy",
                    &new.ip_family_policy
                        .clone()
                        .map(Value::String)
                        .unwrap_or(Value::Null),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !o_ips.is_empty() && n_ips[0] != o_ips[0] {
            errs.push(FieldCause::invalid_rendered(
                p.index(0),
                go_strings(Some(&n_ips)),
                "may not change once set",
            ));
        }
    }
    if nt != "ExternalName"
        && ot != "ExternalName"
        && is_headless(new) == is_headless(old)
        && !is_headless(new)
    {
        let nf = new.ip_families.clone().unwrap_or_default();
        let of = old.ip_families.clone().unwrap_or_default();
        if nf.len() == of.len() && nf != of {
            errs.push(FieldCause::invalid_rendered(
                Path::new("spec").child("ipFamilies").index(0),
                go_strings(Some(&nf)),
                "may not change once set",
            ));
        } else if !nf.is_empty() && !of.is_empty() && nf.len() != of.len() && nf[0] != of[0] {
            errs.push(FieldCause::invalid_rendered(
                Path::new("spec").child("ipFamilies").index(0),
                go_strings(new.cluster_ips.as_deref()),
                "may not change once set",
            ));
        }
    }
    if nt == "LoadBalancer"
        && ot == "LoadBalancer"
        && new.load_balancer_class != old.load_balancer_class
    {
        errs.push(FieldCause::invalid(
            "spec.loadBalancerClass",
            &new.load_balancer_class
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
            "may not change once set",
        ));
    }
    if needs_health_check(new)
        && needs_health_check(old)
        && new.health_check_node_port != old.health_check_node_port
    {
        errs.push(FieldCause::forbidden(
            "spec.healthCheckNodePort",
            "field is immutable",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults::apply;
    use serde_json::json;

    fn svc(spec: Value) -> Value {
        let mut v = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        apply("", "Service", &mut v);
        v
    }

    #[test]
    fn valid_services() {
        assert_valid(&validate_service(
            &svc(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})),
            None,
        ));
        assert_valid(&validate_service(
            &svc(json!({"clusterIP": "None", "selector": {"app": "db"}})),
            None,
        ));
        assert_valid(&validate_service(
            &svc(json!({"type": "ExternalName", "externalName": "example.com."})),
            None,
        ));
        assert_valid(&validate_service(
            &svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]})),
            None,
        ));
        assert_valid(&validate_service(
            &svc(json!({"type": "LoadBalancer", "ports": [{"port": 80}]})),
            None,
        ));
    }

    #[test]
    fn names_are_dns1035() {
        let mut v = svc(json!({"ports": [{"port": 80}]}));
        v["metadata"]["name"] = json!("1web");
        let errs = validate_service(&v, None);
        assert_has_prefix(
            &errs,
            "metadata.name",
            "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character",
        );
    }

    #[test]
    fn ports() {
        let errs = validate_service(&svc(json!({})), None);
        assert_eq!(lines(&errs), vec!["spec.ports: Required value"]);
        let errs = validate_service(
            &svc(json!({"ports": [
            {"port": 80}, {"port": 80, "name": "http"}, {"port": 0, "name": "http", "targetPort": "bad name"},
            {"port": 81, "name": "x", "protocol": "ICMP", "nodePort": 30000}]})),
            None,
        );
        assert_has(&errs, "spec.ports[0].name", "Required value");
        assert_has(&errs, "spec.ports[2].name", "Duplicate value: \"http\"");
        assert_has(
            &errs,
            "spec.ports[2].port",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        );
        assert_has(
            &errs,
            "spec.ports[2].targetPort",
            "Invalid value: \"bad name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        );
        assert_has(
            &errs,
            "spec.ports[3].protocol",
            "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        );
        assert_has(
            &errs,
            "spec.ports[3].nodePort",
            "Forbidden: may not be used when `type` is 'ClusterIP'",
        );
        assert_has(
            &errs,
            "spec.ports[1]",
            "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        );
    }

    #[test]
    fn types_and_policies() {
        let errs = validate_service(&svc(json!({"type": "Magic", "ports": [{"port": 1}]})), None);
        assert_has(
            &errs,
            "spec.type",
            "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        );
        let errs = validate_service(&svc(json!({"type": "ExternalName"})), None);
        assert_eq!(lines(&errs), vec!["spec.externalName: Required value"]);
        let errs = validate_service(
            &svc(
                json!({"type": "NodePort", "clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 1}]}),
            ),
            None,
        );
        assert_has(
            &errs,
            "spec.clusterIPs[0]",
            "Invalid value: \"None\": may not be set to 'None' for NodePort services",
        );
        let errs = validate_service(
            &svc(
                json!({"externalTrafficPolicy": "Local", "ports": [{"port": 1}], "selector": {"a": "-b"}}),
            ),
            None,
        );
        assert_has(
            &errs,
            "spec.externalTrafficPolicy",
            "Invalid value: \"Local\": may only be set for externally-accessible services",
        );
        assert_has_prefix(&errs, "spec.selector", "Invalid value: \"-b\"");
        let errs = validate_service(
            &svc(
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 1}]}),
            ),
            None,
        );
        assert_has(&errs, "spec.healthCheckNodePort", "Required value");
        let errs = validate_service(
            &svc(
                json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}, "ports": [{"port": 1}]}),
            ),
            None,
        );
        assert_has(
            &errs,
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            "Invalid value: 0: must be greater than 0 and less than 86400",
        );
    }

    #[test]
    fn cluster_ip_immutable() {
        let mut old = svc(json!({"ports": [{"port": 80}]}));
        old["metadata"]["resourceVersion"] = json!("1");
        old["spec"]["clusterIP"] = json!("10.43.0.10");
        old["spec"]["clusterIPs"] = json!(["10.43.0.10"]);
        old["spec"]["ipFamilies"] = json!(["IPv4"]);
        old["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        let mut new = old.clone();
        new["spec"]["ports"][0]["port"] = json!(8080);
        new["spec"]["ports"][0]["targetPort"] = json!(8080);
        assert_valid(&validate_service(&new, Some(&old)));
        new["spec"]["clusterIP"] = json!("10.43.0.11");
        new["spec"]["clusterIPs"] = json!(["10.43.0.11"]);
        let errs = validate_service(&new, Some(&old));
        assert_eq!(
            lines(&errs),
            vec![
                "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.11\"}: may not change once set"
            ]
        );
        let mut legacy_old = old.clone();
        legacy_old["spec"]
            .as_object_mut()
            .unwrap()
            .remove("clusterIPs");
        legacy_old["spec"]
            .as_object_mut()
            .unwrap()
            .remove("ipFamilies");
        let mut legacy_new = legacy_old.clone();
        legacy_new["spec"]["clusterIP"] = json!("10.43.0.12");
        assert_has(
            &validate_service(&legacy_new, Some(&legacy_old)),
            "spec.clusterIP",
            "Invalid value: \"10.43.0.12\": field is immutable",
        );
        let mut bad = old.clone();
        bad["spec"]["clusterIPs"] = json!(["10.43.0.12"]);
        assert_has(
            &validate_service(&bad, None),
            "spec.clusterIPs",
            "Invalid value: []string{\"10.43.0.12\"}: first value must match `clusterIP`",
        );
    }
}
