//! Defaults of `networking.k8s.io/v1` and `discovery.k8s.io/v1`.

use super::or_set;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{IngressClass, NetworkPolicy};

/// NetworkPolicy: port protocol TCP; policyTypes `[Ingress]`, plus `Egress` when egress rules
/// are given.
pub fn default_network_policy(np: &mut NetworkPolicy) {
    let spec = np.spec.get_or_insert_with(Default::default);
    for rule in spec.ingress.iter_mut().flatten() {
        for p in rule.ports.iter_mut().flatten() {
            or_set(&mut p.protocol, "TCP".to_string());
        }
    }
    for rule in spec.egress.iter_mut().flatten() {
        for p in rule.ports.iter_mut().flatten() {
            or_set(&mut p.protocol, "TCP".to_string());
        }
    }
    if spec.policy_types.as_ref().is_none_or(|t| t.is_empty()) {
        let mut types = vec!["Ingress".to_string()];
        if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
            types.push("Egress".to_string());
        }
        spec.policy_types = Some(types);
    }
}

/// IngressClass: parameters scope Cluster.
pub fn default_ingress_class(ic: &mut IngressClass) {
    if let Some(p) = ic.spec.as_mut().and_then(|s| s.parameters.as_mut()) {
        or_set(&mut p.scope, "Cluster".to_string());
    }
}

/// EndpointSlice: port name `""` and protocol TCP.
pub fn default_endpoint_slice(es: &mut EndpointSlice) {
    for p in es.ports.iter_mut().flatten() {
        or_set(&mut p.name, String::new());
        or_set(&mut p.protocol, "TCP".to_string());
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn network_policy() {
        let mut np = json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}],
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}});
        apply("networking.k8s.io", "NetworkPolicy", &mut np);
        assert_eq!(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "UDP");
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let mut deny = json!({"spec": {"podSelector": {}}});
        apply("networking.k8s.io", "NetworkPolicy", &mut deny);
        assert_eq!(deny["spec"]["policyTypes"], json!(["Ingress"]));
    }

    #[test]
    fn ingress_class_and_endpoint_slice() {
        let mut ic = json!({"spec": {"controller": "example.com/c", "parameters": {"kind": "K", "name": "n"}}});
        apply("networking.k8s.io", "IngressClass", &mut ic);
        assert_eq!(ic["spec"]["parameters"]["scope"], "Cluster");
        let mut es = json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}]});
        apply("discovery.k8s.io", "EndpointSlice", &mut es);
        assert_eq!(
            es["ports"][0],
            json!({"name": "", "port": 80, "protocol": "TCP"})
        );
    }
}
