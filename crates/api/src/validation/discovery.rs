//! `discovery.k8s.io/v1` EndpointSlice.

use super::core::non_special_ip;
use super::meta::{
    validate_labels, validate_object_meta, validate_object_meta_update, validate_qualified_name,
};
use super::names::{self, NameRule};
use super::{Errors, Path, decode_pair, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;
use std::collections::BTreeSet;

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;
const MAX_TOPOLOGY_LABELS: usize = 16;
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

/// EndpointSlice: metadata, addresses of the slice's type, ports; addressType immutable.
pub fn validate_endpoint_slice(new: &Value, old: Option<&Value>) -> Errors {
    let (es, o) = match decode_pair::<EndpointSlice>("EndpointSlice", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&es.metadata, &o.metadata, &mp));
    }
    errs.extend(validate_object_meta(
        &es.metadata,
        true,
        NameRule::Subdomain,
        &mp,
    ));
    let ep = Path::new("endpoints");
    if es.endpoints.len() > MAX_ENDPOINTS {
        errs.push(FieldCause::too_many(&ep, es.endpoints.len(), MAX_ENDPOINTS));
    } else {
        for (i, e) in es.endpoints.iter().enumerate() {
            let ip = ep.index(i);
            let ap = ip.child("addresses");
            if e.addresses.is_empty() {
                errs.push(FieldCause::required_detail(
                    &ap,
                    "must contain at least 1 address",
                ));
            } else if e.addresses.len() > MAX_ADDRESSES {
                errs.push(FieldCause::too_many(&ap, e.addresses.len(), MAX_ADDRESSES));
            }
            for (j, a) in e.addresses.iter().enumerate() {
                let p = ap.index(j);
                match es.address_type.as_str() {
                    "IPv4" | "IPv6" => {
                        let v4 = es.address_type == "IPv4";
                        let ok = names::parse_ip(a).is_some_and(|x| x.is_ipv4() == v4);
                        if ok {
                            errs.extend(non_special_ip(a, &p));
                        } else {
                            let msg = if v4 {
                                "must be a valid IPv4 address"
                            } else {
                                "must be a valid IPv6 address"
                            };
                            errs.push(FieldCause::invalid(&p, &jstr(a), msg));
                        }
                    }
                    "FQDN" => {
                        let d = a.strip_suffix('.').unwrap_or(a);
                        let msgs = names::dns1123_subdomain(d);
                        if a.is_empty() {
                            errs.push(FieldCause::required(&p));
                        } else if !msgs.is_empty() {
                            errs.push(FieldCause::invalid(&p, &jstr(d), msgs.join(",")));
                        } else if d.split('.').count() < 2 {
                            errs.push(FieldCause::invalid(
                                &p,
                                &jstr(d),
                                "should be a domain with at least two segments separated by dots",
                            ));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(n) = &e.node_name {
                for msg in names::dns1123_subdomain(n) {
                    errs.push(FieldCause::invalid(ip.child("nodeName"), &jstr(n), msg));
                }
            }
            let tp = ip.child("deprecatedTopology");
            let topo = e.deprecated_topology.clone().unwrap_or_default();
            if topo.len() > MAX_TOPOLOGY_LABELS {
                errs.push(FieldCause::too_many(&tp, topo.len(), MAX_TOPOLOGY_LABELS));
            }
            errs.extend(validate_labels(e.deprecated_topology.as_ref(), &tp));
            if let Some(h) = &e.hostname {
                for msg in names::dns1123_label(h) {
                    errs.push(FieldCause::invalid(ip.child("hostname"), &jstr(h), msg));
                }
            }
        }
    }
    let pp = Path::new("ports");
    let ports = es.ports.clone().unwrap_or_default();
    if ports.len() > MAX_PORTS {
        errs.push(FieldCause::too_many(&pp, ports.len(), MAX_PORTS));
    } else {
        let mut seen = BTreeSet::new();
        for (i, p) in ports.iter().enumerate() {
            let ip = pp.index(i);
            let name = s(&p.name);
            if !name.is_empty() {
                for msg in names::dns1123_label(name) {
                    errs.push(FieldCause::invalid(ip.child("name"), &jstr(name), msg));
                }
            }
            if !seen.insert(name.to_string()) {
                errs.push(FieldCause::duplicate(ip.child("name"), &jstr(name)));
            }
            match p.protocol.as_deref() {
                None => errs.push(FieldCause::required(ip.child("protocol"))),
                Some("TCP" | "UDP" | "SCTP") => {}
                Some(other) => errs.push(FieldCause::not_supported(
                    ip.child("protocol"),
                    &jstr(other),
                    &["SCTP", "TCP", "UDP"],
                )),
            }
            if let Some(ap) = &p.app_protocol {
                errs.extend(validate_qualified_name(ap, &ip.child("appProtocol")));
            }
        }
    }
    match &o {
        None => {
            if es.address_type.is_empty() {
                errs.push(FieldCause::required("addressType"));
            } else if !ADDRESS_TYPES.contains(&es.address_type.as_str()) {
                errs.push(FieldCause::not_supported(
                    "addressType",
                    &jstr(&es.address_type),
                    ADDRESS_TYPES,
                ));
            }
        }
        Some(o) => {
            if es.address_type != o.address_type {
                errs.push(FieldCause::invalid(
                    "addressType",
                    &jstr(&es.address_type),
                    "field is immutable",
                ));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn endpoint_slices() {
        let mut ok = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": true}, "nodeName": "node-1"}],
            "ports": [{"name": "http", "port": 80}]});
        apply("discovery.k8s.io", "EndpointSlice", &mut ok);
        assert_valid(&validate_endpoint_slice(&ok, None));
        let mut bad = json!({"metadata": {"name": "x", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": []}, {"addresses": ["::1"]}], "ports": [{"port": 1}, {"port": 2}]});
        apply("discovery.k8s.io", "EndpointSlice", &mut bad);
        let errs = validate_endpoint_slice(&bad, None);
        assert_has(
            &errs,
            "endpoints[0].addresses",
            "Required value: must contain at least 1 address",
        );
        assert_has(
            &errs,
            "endpoints[1].addresses[0]",
            "Invalid value: \"::1\": must be a valid IPv4 address",
        );
        assert_has(&errs, "ports[1].name", "Duplicate value: \"\"");
        let bad_type = json!({"metadata": {"name": "x", "namespace": "d"}, "addressType": "IPv5", "endpoints": []});
        assert_has(
            &validate_endpoint_slice(&bad_type, None),
            "addressType",
            "Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
        );
        let mut old = ok.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut changed = old.clone();
        changed["addressType"] = json!("IPv6");
        changed["endpoints"] = json!([]);
        assert_has(
            &validate_endpoint_slice(&changed, Some(&old)),
            "addressType",
            "Invalid value: \"IPv6\": field is immutable",
        );
    }
}
