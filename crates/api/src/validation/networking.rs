//! `networking.k8s.io/v1`: Ingress, IngressClass, NetworkPolicy.

use super::meta::{validate_label_selector, validate_object_meta, validate_object_meta_update};
use super::names::{self, NameRule};
use super::{Errors, Path, decode_pair, go_strings, json_of, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::api::networking::v1::{
    Ingress, IngressBackend, IngressClass, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

fn meta(
    new: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    old: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    namespaced: bool,
) -> Errors {
    let p = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = old {
        errs.extend(validate_object_meta_update(new, o, &p));
    }
    errs.extend(validate_object_meta(
        new,
        namespaced,
        NameRule::Subdomain,
        &p,
    ));
    errs
}

fn typed_ref(r: &TypedLocalObjectReference, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if let Some(g) = &r.api_group {
        for msg in names::dns1123_subdomain(g) {
            errs.push(FieldCause::invalid(path.child("apiGroup"), &jstr(g), msg));
        }
    }
    for (field, v) in [("kind", &r.kind), ("name", &r.name)] {
        if v.is_empty() {
            errs.push(FieldCause::required(path.child(field)));
        } else {
            for msg in names::path_segment_name(v) {
                errs.push(FieldCause::invalid(path.child(field), &jstr(v), msg));
            }
        }
    }
    errs
}

fn backend(b: &IngressBackend, path: &Path) -> Errors {
    let mut errs = Vec::new();
    match (&b.resource, &b.service) {
        (Some(_), Some(_)) => {
            errs.push(FieldCause::invalid(
                path,
                &jstr(""),
                "cannot set both resource and service backends",
            ));
        }
        (Some(r), None) => errs.extend(typed_ref(r, &path.child("resource"))),
        (None, Some(svc)) => {
            let np = path.child("service").child("name");
            if svc.name.is_empty() {
                errs.push(FieldCause::required(&np));
            } else {
                for msg in names::dns1035_label(&svc.name) {
                    errs.push(FieldCause::invalid(&np, &jstr(&svc.name), msg));
                }
            }
            let port = svc.port.clone().unwrap_or_default();
            let name = s(&port.name);
            let number = port.number.unwrap_or(0);
            let pp = path.child("service").child("port");
            if !name.is_empty() && number != 0 {
                errs.push(FieldCause::invalid(
                    path,
                    &jstr(""),
                    "cannot set both port name & port number",
                ));
            } else if !name.is_empty() {
                for msg in names::port_name(name) {
                    errs.push(FieldCause::invalid(pp.child("name"), &jstr(name), msg));
                }
            } else if number != 0 {
                for msg in names::port_num(i64::from(number)) {
                    errs.push(FieldCause::invalid(
                        pp.child("number"),
                        &Value::from(number),
                        msg,
                    ));
                }
            } else {
                errs.push(FieldCause::required_detail(
                    path,
                    "port name or number is required",
                ));
            }
        }
        (None, None) => {
            errs.push(FieldCause::invalid(
                path,
                &jstr(""),
                "resource or service backend is required",
            ));
        }
    }
    errs
}

fn host_rules(host: &str, path: &Path) -> Errors {
    if host.contains('*') {
        names::wildcard_dns1123_subdomain(host)
    } else {
        names::dns1123_subdomain(host)
    }
    .into_iter()
    .map(|m| FieldCause::invalid(path, &jstr(host), m))
    .collect()
}

/// Ingress: metadata, rules (hosts, paths, backends), default backend, TLS, class name.
pub fn validate_ingress(new: &Value, old: Option<&Value>) -> Errors {
    let (ing, o) = match decode_pair::<Ingress>("Ingress", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&ing.metadata, o.as_ref().map(|o| &o.metadata), true);
    let spec = ing.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let rules = spec.rules.clone().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        errs.push(FieldCause::invalid_rendered(
            &path,
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &spec.default_backend {
        errs.extend(backend(b, &path.child("defaultBackend")));
    }
    for (i, r) in rules.iter().enumerate() {
        let rp = path.child("rules").index(i);
        let host = s(&r.host);
        if !host.is_empty() {
            if names::parse_ip(host).is_some() {
                errs.push(FieldCause::invalid(
                    rp.child("host"),
                    &jstr(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            errs.extend(host_rules(host, &rp.child("host")));
        }
        if let Some(http) = &r.http {
            let hp = rp.child("http");
            if http.paths.is_empty() {
                errs.push(FieldCause::required(hp.child("paths")));
            }
            for (j, p) in http.paths.iter().enumerate() {
                let pp = hp.child("paths").index(j);
                let path_str = s(&p.path);
                match p.path_type.as_str() {
                    "" => {
                        errs.push(FieldCause::required_detail(
                            pp.child("pathType"),
                            "pathType must be specified",
                        ));
                        continue;
                    }
                    "Exact" | "Prefix" => {
                        if !path_str.starts_with('/') {
                            errs.push(FieldCause::invalid(
                                pp.child("path"),
                                &jstr(path_str),
                                "must be an absolute path",
                            ));
                        }
                        if !path_str.is_empty() {
                            for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                                if path_str.contains(seq) {
                                    errs.push(FieldCause::invalid(
                                        pp.child("path"),
                                        &jstr(path_str),
                                        format!("must not contain '{seq}'"),
                                    ));
                                }
                            }
                            for suffix in ["/..", "/."] {
                                if path_str.ends_with(suffix) {
                                    errs.push(FieldCause::invalid(
                                        pp.child("path"),
                                        &jstr(path_str),
                                        format!("cannot end with '{suffix}'"),
                                    ));
                                }
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !path_str.is_empty() && !path_str.starts_with('/') {
                            errs.push(FieldCause::invalid(
                                pp.child("path"),
                                &jstr(path_str),
                                "must be an absolute path",
                            ));
                        }
                    }
                    other => errs.push(FieldCause::not_supported(
                        pp.child("pathType"),
                        &jstr(other),
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    )),
                }
                errs.extend(backend(&p.backend, &pp.child("backend")));
            }
        }
    }
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        let tp = path.child("tls").index(i);
        for (j, h) in tls.hosts.iter().flatten().enumerate() {
            errs.extend(host_rules(h, &tp.child("hosts").index(j)));
        }
        let secret = s(&tls.secret_name);
        if !secret.is_empty() {
            for msg in names::dns1123_subdomain(secret) {
                errs.push(FieldCause::invalid(
                    tp.child("secretName"),
                    &jstr(secret),
                    msg,
                ));
            }
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        for msg in names::dns1123_subdomain(class) {
            errs.push(FieldCause::invalid(
                path.child("ingressClassName"),
                &jstr(class),
                msg,
            ));
        }
    }
    if o.is_none()
        && let Some(annotation) = ing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/ingress.class"))
        && let Some(class) = &spec.ingress_class_name
        && annotation != class
    {
        errs.push(FieldCause::invalid(
            Path::new("annotations").child("kubernetes.io/ingress.class"),
            &jstr(annotation),
            "must match `ingressClassName` when both are specified",
        ));
    }
    errs
}

/// IngressClass: metadata (not namespaced), controller (a domain-prefixed path, immutable),
/// parameters reference.
pub fn validate_ingress_class(new: &Value, old: Option<&Value>) -> Errors {
    let (ic, o) = match decode_pair::<IngressClass>("IngressClass", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&ic.metadata, o.as_ref().map(|o| &o.metadata), false);
    let spec = ic.spec.clone().unwrap_or_default();
    let cp = Path::new("spec").child("controller");
    let controller = s(&spec.controller);
    if controller.len() > 250 {
        errs.push(FieldCause::too_long(&cp, 250));
    }
    if controller.is_empty() {
        errs.push(FieldCause::required(&cp));
    } else {
        match controller.split_once('/') {
            Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
                for msg in names::dns1123_subdomain(host) {
                    errs.push(FieldCause::invalid(&cp, &jstr(host), msg));
                }
                let ok = rest
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
                if !ok {
                    errs.push(FieldCause::invalid(
                        &cp,
                        &jstr(rest),
                        names::regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]),
                    ));
                }
            }
            _ => errs.push(FieldCause::invalid(
                &cp,
                &jstr(controller),
                "must be a domain-prefixed path (such as \"acme.io/foo\")",
            )),
        }
    }
    if let Some(p) = &spec.parameters {
        let pp = Path::new("spec").child("parameters");
        errs.extend(typed_ref(
            &TypedLocalObjectReference {
                api_group: p.api_group.clone(),
                kind: p.kind.clone(),
                name: p.name.clone(),
            },
            &pp,
        ));
        match p.scope.as_deref() {
            None => errs.push(FieldCause::required(pp.child("scope"))),
            Some("Namespace") => match &p.namespace {
                None => errs.push(FieldCause::required_detail(
                    pp.child("namespace"),
                    "`parameters.scope` is set to 'Namespace'",
                )),
                Some(ns) => {
                    for msg in names::dns1123_label(ns) {
                        errs.push(FieldCause::invalid(pp.child("namespace"), &jstr(ns), msg));
                    }
                }
            },
            Some("Cluster") => {
                if p.namespace.is_some() {
                    errs.push(FieldCause::forbidden(
                        pp.child("namespace"),
                        "`parameters.scope` is set to 'Cluster'",
                    ));
                }
            }
            Some(other) => errs.push(FieldCause::not_supported(
                pp.child("scope"),
                &jstr(other),
                &["Cluster", "Namespace"],
            )),
        }
    }
    if let Some(o) = &o {
        let old_controller = o
            .spec
            .as_ref()
            .and_then(|s| s.controller.clone())
            .unwrap_or_default();
        if controller != old_controller {
            errs.push(FieldCause::invalid(
                &cp,
                &jstr(controller),
                "field is immutable",
            ));
        }
    }
    errs
}

fn np_port(p: &NetworkPolicyPort, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if let Some(proto) = &p.protocol
        && !["TCP", "UDP", "SCTP"].contains(&proto.as_str())
    {
        errs.push(FieldCause::not_supported(
            path.child("protocol"),
            &jstr(proto),
            &["TCP", "UDP", "SCTP"],
        ));
    }
    match &p.port {
        Some(IntOrString::Int(port)) => {
            for msg in names::port_num(i64::from(*port)) {
                errs.push(FieldCause::invalid(
                    path.child("port"),
                    &Value::from(*port),
                    msg,
                ));
            }
            if let Some(end) = p.end_port {
                if end < *port {
                    errs.push(FieldCause::invalid(
                        path.child("endPort"),
                        &Value::from(*port),
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in names::port_num(i64::from(end)) {
                    errs.push(FieldCause::invalid(
                        path.child("endPort"),
                        &Value::from(end),
                        msg,
                    ));
                }
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(end) = p.end_port {
                errs.push(FieldCause::invalid(
                    path.child("endPort"),
                    &Value::from(end),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in names::port_name(name) {
                errs.push(FieldCause::invalid(path.child("port"), &jstr(name), msg));
            }
        }
        None => {
            if let Some(end) = p.end_port {
                errs.push(FieldCause::invalid(
                    path.child("endPort"),
                    &Value::from(end),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errs
}

fn contains(net: (std::net::IpAddr, u8), ip: std::net::IpAddr) -> bool {
    match (net.0, ip) {
        (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(net.1))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(net.1))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn np_peer(peer: &NetworkPolicyPeer, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut n = 0;
    if let Some(sel) = &peer.pod_selector {
        n += 1;
        errs.extend(validate_label_selector(
            Some(sel),
            &path.child("podSelector"),
        ));
    }
    if let Some(sel) = &peer.namespace_selector {
        n += 1;
        errs.extend(validate_label_selector(
            Some(sel),
            &path.child("namespaceSelector"),
        ));
    }
    if let Some(ipb) = &peer.ip_block {
        n += 1;
        let bp = path.child("ipBlock");
        if ipb.cidr.is_empty() {
            errs.push(FieldCause::required(bp.child("cidr")));
        } else {
            for msg in names::cidr(&ipb.cidr) {
                errs.push(FieldCause::invalid(bp.child("cidr"), &jstr(&ipb.cidr), msg));
            }
            if let Some(net) = names::parse_cidr(&ipb.cidr) {
                for (i, ex) in ipb.except.iter().flatten().enumerate() {
                    let ep = bp.child("except").index(i);
                    for msg in names::cidr(ex) {
                        errs.push(FieldCause::invalid(&ep, &jstr(ex), msg));
                    }
                    if let Some(e) = names::parse_cidr(ex)
                        && (!contains(net, e.0) || net.1 >= e.1)
                    {
                        errs.push(FieldCause::invalid(
                            &ep,
                            &jstr(ex),
                            "must be a strict subset of `cidr`",
                        ));
                    }
                }
            }
        }
    }
    if n == 0 {
        errs.push(FieldCause::required_detail(path, "must specify a peer"));
    } else if n > 1 && peer.ip_block.is_some() {
        errs.push(FieldCause::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// NetworkPolicy: metadata, pod selector, rules' ports and peers, policy types.
pub fn validate_network_policy(new: &Value, old: Option<&Value>) -> Errors {
    let (np, o) = match decode_pair::<NetworkPolicy>("NetworkPolicy", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&np.metadata, o.as_ref().map(|o| &o.metadata), true);
    let spec = np.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    errs.extend(validate_label_selector(
        Some(&spec.pod_selector.clone().unwrap_or_default()),
        &path.child("podSelector"),
    ));
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let rp = path.child("ingress").index(i);
        for (j, p) in rule.ports.iter().flatten().enumerate() {
            errs.extend(np_port(p, &rp.child("ports").index(j)));
        }
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            errs.extend(np_peer(peer, &rp.child("from").index(j)));
        }
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let rp = path.child("egress").index(i);
        for (j, p) in rule.ports.iter().flatten().enumerate() {
            errs.extend(np_port(p, &rp.child("ports").index(j)));
        }
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            errs.extend(np_peer(peer, &rp.child("to").index(j)));
        }
    }
    let types = spec.policy_types.clone().unwrap_or_default();
    if types.len() > 2 {
        errs.push(FieldCause::invalid_rendered(
            path.child("policyTypes"),
            go_strings(Some(&types)),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldCause::not_supported(
                path.child("policyTypes").index(i),
                &jstr(t),
                &["Ingress", "Egress"],
            ));
        }
    }
    let _ = json_of(&spec);
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn ingresses() {
        let ok = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"ingressClassName": "traefik",
            "rules": [{"host": "example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
            "tls": [{"hosts": ["*.example.com"], "secretName": "tls"}]}});
        assert_valid(&validate_ingress(&ok, None));
        let bad = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {
            "rules": [{"host": "1.2.3.4", "http": {"paths": [
                {"path": "rel", "pathType": "Exact", "backend": {"service": {"name": "web"}}},
                {"path": "/a//b", "pathType": "Weird", "backend": {}},
                {"path": "/", "backend": {"service": {"name": "w", "port": {"name": "http", "number": 80}}}}]}}]}});
        let errs = validate_ingress(&bad, None);
        assert_has(
            &errs,
            "spec.rules[0].host",
            "Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
        );
        assert_has(
            &errs,
            "spec.rules[0].http.paths[0].path",
            "Invalid value: \"rel\": must be an absolute path",
        );
        assert_has(
            &errs,
            "spec.rules[0].http.paths[0].backend",
            "Required value: port name or number is required",
        );
        assert_has(
            &errs,
            "spec.rules[0].http.paths[1].pathType",
            "Unsupported value: \"Weird\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
        );
        assert_has(
            &errs,
            "spec.rules[0].http.paths[1].backend",
            "Invalid value: \"\": resource or service backend is required",
        );
        assert_has(
            &errs,
            "spec.rules[0].http.paths[2].pathType",
            "Required value: pathType must be specified",
        );
        let empty = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {}});
        assert_has(
            &validate_ingress(&empty, None),
            "spec",
            "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
        );
    }

    #[test]
    fn ingress_classes() {
        let mut ok = json!({"metadata": {"name": "traefik"}, "spec": {"controller": "traefik.io/ingress-controller"}});
        apply("networking.k8s.io", "IngressClass", &mut ok);
        assert_valid(&validate_ingress_class(&ok, None));
        let bad = json!({"metadata": {"name": "x"}, "spec": {"controller": "nodomain",
            "parameters": {"kind": "K", "name": "n", "scope": "Namespace"}}});
        let errs = validate_ingress_class(&bad, None);
        assert_has(
            &errs,
            "spec.controller",
            "Invalid value: \"nodomain\": must be a domain-prefixed path (such as \"acme.io/foo\")",
        );
        assert_has(
            &errs,
            "spec.parameters.namespace",
            "Required value: `parameters.scope` is set to 'Namespace'",
        );
    }

    #[test]
    fn network_policies() {
        let mut ok = json!({"metadata": {"name": "deny", "namespace": "d"}, "spec": {"podSelector": {},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 80}]}]}});
        apply("networking.k8s.io", "NetworkPolicy", &mut ok);
        assert_valid(&validate_network_policy(&ok, None));
        let bad = json!({"metadata": {"name": "x", "namespace": "d"}, "spec": {"podSelector": {},
            "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]}, "podSelector": {}}],
                "ports": [{"port": "http", "endPort": 90}, {"port": 100, "endPort": 90, "protocol": "ICMP"}]}],
            "policyTypes": ["Sideways"]}});
        let errs = validate_network_policy(&bad, None);
        assert_has(
            &errs,
            "spec.ingress[0].from[0]",
            "Required value: must specify a peer",
        );
        assert_has(
            &errs,
            "spec.ingress[0].from[1].ipBlock.except[0]",
            "Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`",
        );
        assert_has(
            &errs,
            "spec.ingress[0].from[1]",
            "Forbidden: may not specify both ipBlock and another peer",
        );
        assert_has(
            &errs,
            "spec.ingress[0].ports[0].endPort",
            "Invalid value: 90: may not be specified when `port` is non-numeric",
        );
        assert_has(
            &errs,
            "spec.ingress[0].ports[1].endPort",
            "Invalid value: 100: must be greater than or equal to `port`",
        );
        assert_has(
            &errs,
            "spec.ingress[0].ports[1].protocol",
            "Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
        );
        assert_has(
            &errs,
            "spec.policyTypes[0]",
            "Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        );
    }
}
