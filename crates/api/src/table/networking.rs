//! The `networking.k8s.io` group: ingresses, ingress classes, network policies, service CIDRs,
//! IP addresses.

use jiff::Timestamp;
use serde_json::Value;

use super::core::load_balancer_addresses;
use super::types::TableRow;
use super::util::{
    AGE, NAME, Printer, age, arr_at, at, col, format_label_selector, name, opt_str, present, s,
    str_at,
};

/// The printer of a `networking.k8s.io` resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "ingresses" => &INGRESSES,
        "ingressclasses" => &INGRESS_CLASSES,
        "networkpolicies" => &NETWORK_POLICIES,
        "servicecidrs" => &SERVICE_CIDRS,
        "ipaddresses" => &IP_ADDRESSES,
        _ => return None,
    })
}

static INGRESSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Class",
            "string",
            "The ingress class that implements the ingress.",
        ),
        col(
            "Hosts",
            "string",
            "Hosts the rules match, the first three of them.",
        ),
        col(
            "Address",
            "string",
            "Addresses of the load balancer serving the ingress.",
        ),
        col(
            "Ports",
            "string",
            "Ports served: 80, and 443 when TLS is configured.",
        ),
        AGE,
    ],
    row: ingress_row,
    order: None,
};

fn ingress_row(ing: &Value, now: Timestamp) -> TableRow {
    let class = opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>");
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    TableRow::new(vec![
        name(ing),
        s(class),
        s(format_hosts(arr_at(ing, &["spec", "rules"]))),
        s(load_balancer_addresses(arr_at(ing, &["status", "loadBalancer", "ingress"])).join(",")),
        s(ports),
        age(ing, now),
    ])
}

/// The hosts of the first rules (three at most); `*` when no rule names a host.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let joined = hosts.join(",");
    if more {
        // Upstream counts every rule, with or without a host.
        format!("{joined} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        joined
    }
}

static INGRESS_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Controller",
            "string",
            "The controller that implements the class.",
        ),
        col(
            "Parameters",
            "string",
            "The resource holding the class's parameters.",
        ),
        AGE,
    ],
    row: ingress_class_row,
    order: None,
};

fn ingress_class_row(ic: &Value, now: Timestamp) -> TableRow {
    let parameters = if present(ic, &["spec", "parameters"]) {
        let p = at(ic, &["spec", "parameters"]).unwrap_or(&Value::Null);
        let kind = str_at(p, &["kind"]);
        let qualified = match opt_str(p, &["apiGroup"]) {
            Some(group) => format!("{kind}.{group}"),
            None => kind.to_owned(),
        };
        format!("{qualified}/{}", str_at(p, &["name"]))
    } else {
        "<none>".to_owned()
    };
    TableRow::new(vec![
        name(ic),
        s(str_at(ic, &["spec", "controller"])),
        s(parameters),
        age(ic, now),
    ])
}

static NETWORK_POLICIES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Pod-Selector",
            "string",
            "Labels of the pods the policy applies to.",
        ),
        AGE,
    ],
    row: network_policy_row,
    order: None,
};

fn network_policy_row(np: &Value, now: Timestamp) -> TableRow {
    // The pod selector is a struct, not a pointer: unset means empty, which selects all pods.
    let selector = at(np, &["spec", "podSelector"]).filter(|v| !v.is_null());
    let selector =
        format_label_selector(Some(selector.unwrap_or(&Value::Object(Default::default()))));
    TableRow::new(vec![name(np), s(selector), age(np, now)])
}

static SERVICE_CIDRS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "CIDRs",
            "string",
            "The ranges service IPs are allocated from.",
        ),
        AGE,
    ],
    row: service_cidr_row,
    order: None,
};

fn service_cidr_row(sc: &Value, now: Timestamp) -> TableRow {
    let cidrs: Vec<&str> = arr_at(sc, &["spec", "cidrs"])
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    TableRow::new(vec![name(sc), s(cidrs.join(",")), age(sc, now)])
}

static IP_ADDRESSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "ParentRef",
            "string",
            "The object the address is allocated to.",
        ),
    ],
    row: ip_address_row,
    order: None,
};

fn ip_address_row(ip: &Value, now: Timestamp) -> TableRow {
    let parent = if present(ip, &["spec", "parentRef"]) {
        let p = at(ip, &["spec", "parentRef"]).unwrap_or(&Value::Null);
        let resource = str_at(p, &["resource"]);
        let mut out = match str_at(p, &["group"]) {
            "" => resource.to_lowercase(),
            group => format!("{resource}.{group}").to_lowercase(),
        };
        let namespace = str_at(p, &["namespace"]);
        if !namespace.is_empty() {
            out.push('/');
            out.push_str(namespace);
        }
        out.push('/');
        out.push_str(str_at(p, &["name"]));
        out
    } else {
        "<none>".to_owned()
    };
    // Upstream emits an age cell although the column is not declared; kubectl ignores it.
    TableRow::new(vec![name(ip), s(parent), age(ip, now)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2024-05-01T11:59:15Z"})
    }

    fn cells(p: &Printer, obj: Value) -> Value {
        json!((p.row)(&obj, now()).cells)
    }

    #[test]
    fn table_ingress_cells() {
        let ing = json!({"metadata": meta("web"),
            "spec": {"ingressClassName": "traefik",
                     "rules": [{"host": "a.example.com"}, {"http": {}}, {"host": "b.example.com"}],
                     "tls": [{"hosts": ["a.example.com"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}, {"ip": "192.168.1.11"}]}}});
        assert_eq!(
            cells(&INGRESSES, ing),
            json!([
                "web",
                "traefik",
                "a.example.com,b.example.com",
                "192.168.1.10,192.168.1.11",
                "80, 443",
                "45s"
            ])
        );
        let many = json!({"metadata": meta("many"), "spec": {"rules": [
            {"host": "1"}, {"host": "2"}, {"host": "3"}, {"host": "4"}, {"host": "5"}]}});
        assert_eq!(
            cells(&INGRESSES, many),
            json!(["many", "<none>", "1,2,3 + 2 more...", "", "80", "45s"])
        );
        let catch_all = json!({"metadata": meta("all"), "spec": {"defaultBackend": {}}});
        assert_eq!(
            cells(&INGRESSES, catch_all),
            json!(["all", "<none>", "*", "", "80", "45s"])
        );
    }

    #[test]
    fn table_ingress_class_and_network_policy_cells() {
        let ic = json!({"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            cells(&INGRESS_CLASSES, ic),
            json!([
                "nginx",
                "k8s.io/ingress-nginx",
                "IngressParameters.k8s.example.com/external-lb",
                "45s"
            ])
        );
        let ic = json!({"metadata": meta("traefik"), "spec": {"controller": "traefik.io/ingress-controller"}});
        assert_eq!(
            cells(&INGRESS_CLASSES, ic),
            json!(["traefik", "traefik.io/ingress-controller", "<none>", "45s"])
        );
        let np = json!({"metadata": meta("deny-all"), "spec": {"podSelector": {}}});
        assert_eq!(
            cells(&NETWORK_POLICIES, np),
            json!(["deny-all", "<none>", "45s"])
        );
        let np = json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(
            cells(&NETWORK_POLICIES, np),
            json!(["db", "role=db", "45s"])
        );
    }

    #[test]
    fn table_service_cidr_and_ip_address_cells() {
        let sc = json!({"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.43.0.0/16", "fd00:43::/112"]}});
        assert_eq!(
            cells(&SERVICE_CIDRS, sc),
            json!(["kubernetes", "10.43.0.0/16,fd00:43::/112", "45s"])
        );
        let ip = json!({"metadata": meta("10.43.0.1"), "spec": {"parentRef": {
            "group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert_eq!(
            cells(&IP_ADDRESSES, ip),
            json!(["10.43.0.1", "services/default/kubernetes", "45s"])
        );
    }
}
