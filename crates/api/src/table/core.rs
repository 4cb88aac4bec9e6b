//! The core (`""`) group: services, endpoints, nodes, namespaces, config maps, secrets,
//! service accounts, replication controllers, volumes and claims, quotas, pod templates,
//! component statuses. Pods and events have their own files.

use jiff::Timestamp;
use serde_json::Value;

use super::events::EVENTS;
use super::pod::PODS;
use super::types::TableRow;
use super::util::{
    AGE, CONTAINERS, IMAGES, NAME, Printer, age, arr_at, at, col, container_cells, deleting,
    format_labels, int_at, map_len, n, name, obj_at, opt_int, opt_str, present, quantity_at, s,
    str_at, str_or, wide,
};

/// The printer of a core resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "pods" => &PODS,
        "events" => &EVENTS,
        "services" => &SERVICES,
        "endpoints" => &ENDPOINTS,
        "nodes" => &NODES,
        "namespaces" => &NAMESPACES,
        "configmaps" => &CONFIG_MAPS,
        "secrets" => &SECRETS,
        "serviceaccounts" => &SERVICE_ACCOUNTS,
        "replicationcontrollers" => &REPLICATION_CONTROLLERS,
        "persistentvolumes" => &PERSISTENT_VOLUMES,
        "persistentvolumeclaims" => &PERSISTENT_VOLUME_CLAIMS,
        "resourcequotas" => &RESOURCE_QUOTAS,
        "podtemplates" => &POD_TEMPLATES,
        "componentstatuses" => &COMPONENT_STATUSES,
        _ => return None,
    })
}

static SERVICES: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "How the service is exposed."),
        col(
            "Cluster-IP",
            "string",
            "The service's virtual IP inside the cluster.",
        ),
        col(
            "External-IP",
            "string",
            "Addresses the service is reachable at from outside.",
        ),
        col(
            "Port(s)",
            "string",
            "Service ports, with node ports when allocated.",
        ),
        AGE,
        wide(
            "Selector",
            "string",
            "Labels of the pods behind the service.",
        ),
    ],
    row: service_row,
    order: None,
};

fn service_row(svc: &Value, now: Timestamp) -> TableRow {
    // An object read back from storage has its type defaulted to ClusterIP.
    let type_ = str_or(svc, &["spec", "type"], "ClusterIP");
    let cluster_ip = arr_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| str_or(svc, &["spec", "clusterIP"], "<none>"));
    let ports: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = str_or(p, &["protocol"], "TCP");
            match int_at(p, &["nodePort"]) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    TableRow::new(vec![
        name(svc),
        s(type_),
        s(cluster_ip),
        s(service_external_ip(svc, type_)),
        s(ports),
        age(svc, now),
        s(format_labels(obj_at(svc, &["spec", "selector"]))),
    ])
}

fn service_external_ip(svc: &Value, type_: &str) -> String {
    let external_ips: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .map(|ip| ip.as_str().unwrap_or(""))
        .collect();
    match type_ {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_owned()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            // Tables are rendered wide on the server, so the list is never truncated.
            let lb = load_balancer_addresses(arr_at(svc, &["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = lb.iter().map(String::as_str).collect();
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".to_owned()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// The IP (or else hostname) of each load balancer ingress point, sorted and deduplicated.
pub(crate) fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = ingress
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip.to_owned())
            } else if !host.is_empty() {
                Some(host.to_owned())
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

static ENDPOINTS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Endpoints",
            "string",
            "Ready addresses and ports, the first three of them.",
        ),
        AGE,
    ],
    row: endpoints_row,
    order: None,
};

fn endpoints_row(ep: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![name(ep), s(format_endpoints(ep)), age(ep, now)])
}

fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = arr_at(subset, &["addresses"]);
        let ports = arr_at(subset, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports: list bare addresses.
            count += addresses.len();
            for addr in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(addr, &["ip"]).to_owned());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for addr in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(
                    str_at(addr, &["ip"]),
                    int_at(port, &["port"]),
                ));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// `host:port`, with brackets around IPv6 addresses.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

static NODES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "Readiness of the node, and whether it takes new pods.",
        ),
        col(
            "Roles",
            "string",
            "Roles from the node's node-role.kubernetes.io labels.",
        ),
        AGE,
        col("Version", "string", "Version of the node's kubelet."),
        wide(
            "Internal-IP",
            "string",
            "The node's first internal address.",
        ),
        wide(
            "External-IP",
            "string",
            "The node's first external address.",
        ),
        wide("OS-Image", "string", "The node's operating system image."),
        wide("Kernel-Version", "string", "The node's kernel version."),
        wide(
            "Container-Runtime",
            "string",
            "The node's container runtime and version.",
        ),
    ],
    row: node_row,
    order: None,
};

fn node_row(node: &Value, now: Timestamp) -> TableRow {
    // The last Ready condition decides, as upstream keys conditions by type.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let roles = node_roles(node);
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    };
    let address = |type_: &str| {
        arr_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == type_)
            .map_or("<none>", |a| str_at(a, &["address"]))
    };
    let info = |field: &str| str_or(node, &["status", "nodeInfo", field], "<unknown>");
    TableRow::new(vec![
        name(node),
        s(status.join(",")),
        s(roles),
        age(node, now),
        s(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        s(address("InternalIP")),
        s(address("ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ])
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and the `kubernetes.io/role` label
/// value, sorted and deduplicated.
fn node_roles(node: &Value) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for (key, value) in obj_at(node, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.push(role.to_owned());
            }
        } else if key == "kubernetes.io/role"
            && let Some(role) = value.as_str().filter(|r| !r.is_empty())
        {
            roles.push(role.to_owned());
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

static NAMESPACES: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Phase of the namespace."),
        AGE,
    ],
    row: namespace_row,
    order: None,
};

fn namespace_row(ns: &Value, now: Timestamp) -> TableRow {
    // Read back from storage, a namespace without a phase is Active.
    TableRow::new(vec![
        name(ns),
        s(str_or(ns, &["status", "phase"], "Active")),
        age(ns, now),
    ])
}

static CONFIG_MAPS: Printer = Printer {
    columns: &[
        NAME,
        col("Data", "string", "Number of keys in data and binaryData."),
        AGE,
    ],
    row: config_map_row,
    order: None,
};

fn config_map_row(cm: &Value, now: Timestamp) -> TableRow {
    let keys = map_len(cm, &["data"]) + map_len(cm, &["binaryData"]);
    TableRow::new(vec![name(cm), n(keys as i64), age(cm, now)])
}

static SECRETS: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "Type of the secret."),
        col("Data", "string", "Number of keys in data."),
        AGE,
    ],
    row: secret_row,
    order: None,
};

fn secret_row(secret: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(secret),
        s(str_or(secret, &["type"], "Opaque")),
        n(map_len(secret, &["data"]) as i64),
        age(secret, now),
    ])
}

static SERVICE_ACCOUNTS: Printer = Printer {
    columns: &[
        NAME,
        col("Secrets", "string", "Number of secrets listed."),
        AGE,
    ],
    row: service_account_row,
    order: None,
};

fn service_account_row(sa: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(sa),
        n(arr_at(sa, &["secrets"]).len() as i64),
        age(sa, now),
    ])
}

static REPLICATION_CONTROLLERS: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Number of replicas wanted."),
        col("Current", "integer", "Number of replicas that exist."),
        col("Ready", "integer", "Number of replicas that are ready."),
        AGE,
        CONTAINERS,
        IMAGES,
        wide(
            "Selector",
            "string",
            "Labels of the pods the controller owns.",
        ),
    ],
    row: replication_controller_row,
    order: None,
};

fn replication_controller_row(rc: &Value, now: Timestamp) -> TableRow {
    let (containers, images) =
        container_cells(arr_at(rc, &["spec", "template", "spec", "containers"]));
    TableRow::new(vec![
        name(rc),
        n(opt_int(rc, &["spec", "replicas"]).unwrap_or(1)),
        n(int_at(rc, &["status", "replicas"])),
        n(int_at(rc, &["status", "readyReplicas"])),
        age(rc, now),
        containers,
        images,
        s(format_labels(obj_at(rc, &["spec", "selector"]))),
    ])
}

static PERSISTENT_VOLUMES: Printer = Printer {
    columns: &[
        NAME,
        col("Capacity", "string", "Storage capacity of the volume."),
        col("Access Modes", "string", "How the volume can be mounted."),
        col(
            "Reclaim Policy",
            "string",
            "What happens to the volume when released.",
        ),
        col("Status", "string", "Phase of the volume."),
        col("Claim", "string", "The claim bound to the volume."),
        col("StorageClass", "string", "Storage class of the volume."),
        col(
            "VolumeAttributesClass",
            "string",
            "Volume attributes class of the volume.",
        ),
        col("Reason", "string", "Why the volume is in its phase."),
        AGE,
        wide(
            "VolumeMode",
            "string",
            "Whether the volume is a filesystem or a block device.",
        ),
    ],
    row: persistent_volume_row,
    order: None,
};

/// The beta annotation that overrides a volume's or claim's storage class.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn persistent_volume_row(pv: &Value, now: Timestamp) -> TableRow {
    let claim = if present(pv, &["spec", "claimRef"]) {
        format!(
            "{}/{}",
            str_at(pv, &["spec", "claimRef", "namespace"]),
            str_at(pv, &["spec", "claimRef", "name"])
        )
    } else {
        String::new()
    };
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        str_or(pv, &["status", "phase"], "Pending")
    };
    let class = opt_str(
        pv,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .unwrap_or_else(|| str_at(pv, &["spec", "storageClassName"]));
    TableRow::new(vec![
        name(pv),
        s(quantity_at(pv, &["spec", "capacity", "storage"]).unwrap_or_else(|| "0".to_owned())),
        s(access_modes(arr_at(pv, &["spec", "accessModes"]))),
        s(str_or(
            pv,
            &["spec", "persistentVolumeReclaimPolicy"],
            "Retain",
        )),
        s(phase),
        s(claim),
        s(class),
        s(opt_str(pv, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        s(str_at(pv, &["status", "reason"])),
        age(pv, now),
        s(str_or(pv, &["spec", "volumeMode"], "Filesystem")),
    ])
}

/// Access modes abbreviated (RWO, ROX, RWX, RWOP) in that fixed order.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

static PERSISTENT_VOLUME_CLAIMS: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Phase of the claim."),
        col("Volume", "string", "The volume bound to the claim."),
        col(
            "Capacity",
            "string",
            "Storage capacity of the bound volume.",
        ),
        col(
            "Access Modes",
            "string",
            "How the bound volume can be mounted.",
        ),
        col("StorageClass", "string", "Storage class of the claim."),
        col(
            "VolumeAttributesClass",
            "string",
            "Volume attributes class of the claim.",
        ),
        AGE,
        wide(
            "VolumeMode",
            "string",
            "Whether the claim wants a filesystem or a block device.",
        ),
    ],
    row: persistent_volume_claim_row,
    order: None,
};

fn persistent_volume_claim_row(pvc: &Value, now: Timestamp) -> TableRow {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        str_or(pvc, &["status", "phase"], "Pending")
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_at(pvc, &["status", "capacity", "storage"]).unwrap_or_else(|| "0".to_owned()),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    let class = opt_str(
        pvc,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .or_else(|| opt_str(pvc, &["spec", "storageClassName"]))
    .unwrap_or("");
    TableRow::new(vec![
        name(pvc),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(opt_str(pvc, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        age(pvc, now),
        s(str_or(pvc, &["spec", "volumeMode"], "Filesystem")),
    ])
}

static RESOURCE_QUOTAS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Request",
            "string",
            "Used and hard amounts of the quota's non-limit resources.",
        ),
        col(
            "Limit",
            "string",
            "Used and hard amounts of the quota's limits.* resources.",
        ),
        AGE,
    ],
    row: resource_quota_row,
    order: None,
};

fn resource_quota_row(quota: &Value, now: Timestamp) -> TableRow {
    let mut resources: Vec<&String> = obj_at(quota, &["status", "hard"])
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let mut requests: Vec<String> = Vec::new();
    let mut limits: Vec<String> = Vec::new();
    for resource in resources {
        let used = quantity_at(quota, &["status", "used", resource]).unwrap_or_else(|| "0".into());
        let hard = quantity_at(quota, &["status", "hard", resource]).unwrap_or_else(|| "0".into());
        let entry = format!("{resource}: {used}/{hard}");
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    TableRow::new(vec![
        name(quota),
        s(requests.join(", ")),
        s(limits.join(", ")),
        age(quota, now),
    ])
}

static POD_TEMPLATES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Containers",
            "string",
            "Names of the template's containers.",
        ),
        col("Images", "string", "Images of the template's containers."),
        col(
            "Pod Labels",
            "string",
            "Labels of the pods made from the template.",
        ),
    ],
    row: pod_template_row,
    order: None,
};

fn pod_template_row(pt: &Value, _now: Timestamp) -> TableRow {
    let (containers, images) = container_cells(arr_at(pt, &["template", "spec", "containers"]));
    TableRow::new(vec![
        name(pt),
        containers,
        images,
        s(format_labels(obj_at(
            pt,
            &["template", "metadata", "labels"],
        ))),
    ])
}

static COMPONENT_STATUSES: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Whether the component is healthy."),
        col(
            "Message",
            "string",
            "Message of the component's health condition.",
        ),
        col(
            "Error",
            "string",
            "Error of the component's health condition.",
        ),
    ],
    row: component_status_row,
    order: None,
};

fn component_status_row(cs: &Value, _now: Timestamp) -> TableRow {
    let healthy = arr_at(cs, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (
            if str_at(c, &["status"]) == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            str_at(c, &["message"]),
            str_at(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    TableRow::new(vec![name(cs), s(status), s(message), s(error)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2024-04-29T12:00:00Z"})
    }

    fn cells(p: &Printer, obj: Value) -> Vec<Value> {
        let row = (p.row)(&obj, now());
        assert_eq!(row.cells.len(), p.columns.len(), "cells vs columns");
        row.cells
    }

    #[test]
    fn table_service_cells() {
        let cases = [
            (
                json!({"metadata": meta("mysql"), "spec": {"type": "ClusterIP",
                    "clusterIP": "10.43.0.12", "clusterIPs": ["10.43.0.12"],
                    "ports": [{"port": 3306, "protocol": "TCP", "targetPort": 3306}],
                    "selector": {"name": "mysql"}}}),
                json!([
                    "mysql",
                    "ClusterIP",
                    "10.43.0.12",
                    "<none>",
                    "3306/TCP",
                    "2d",
                    "name=mysql"
                ]),
            ),
            (
                json!({"metadata": meta("web"), "spec": {"type": "NodePort",
                    "clusterIPs": ["10.43.0.20"],
                    "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"},
                              {"port": 53, "nodePort": 30053, "protocol": "UDP"}],
                    "selector": {"tier": "fe", "app": "web"}}}),
                json!([
                    "web",
                    "NodePort",
                    "10.43.0.20",
                    "<none>",
                    "80:30001/TCP,53:30053/UDP",
                    "2d",
                    "app=web,tier=fe"
                ]),
            ),
            (
                json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer",
                    "clusterIPs": ["10.43.0.30"], "ports": [{"port": 443, "nodePort": 31443}]},
                    "status": {"loadBalancer": {}}}),
                json!([
                    "lb",
                    "LoadBalancer",
                    "10.43.0.30",
                    "<pending>",
                    "443:31443/TCP",
                    "2d",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("lb2"), "spec": {"type": "LoadBalancer",
                    "clusterIPs": ["10.43.0.31"], "ports": [{"port": 80, "nodePort": 30080}],
                    "externalIPs": ["192.0.2.9"]},
                    "status": {"loadBalancer": {"ingress": [
                        {"ip": "203.0.113.7"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.5"}]}}}),
                json!([
                    "lb2",
                    "LoadBalancer",
                    "10.43.0.31",
                    "203.0.113.5,203.0.113.7,lb.example.com,192.0.2.9",
                    "80:30080/TCP",
                    "2d",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("ext"), "spec": {"type": "ExternalName",
                    "externalName": "db.example.com"}}),
                json!([
                    "ext",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "2d",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("headless"), "spec": {"clusterIP": "None",
                    "clusterIPs": ["None"], "externalIPs": ["198.51.100.1", "198.51.100.2"],
                    "ports": [{"port": 80}]}}),
                json!([
                    "headless",
                    "ClusterIP",
                    "None",
                    "198.51.100.1,198.51.100.2",
                    "80/TCP",
                    "2d",
                    "<none>"
                ]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(cells(&SERVICES, obj)), want);
        }
    }

    #[test]
    fn table_endpoints_cells() {
        let ep = json!({"metadata": meta("web"), "subsets": [
            {"addresses": [{"ip": "10.42.0.5"}, {"ip": "10.42.0.6"}],
             "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}]});
        assert_eq!(
            json!(cells(&ENDPOINTS, ep)),
            json!([
                "web",
                "10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 2 more...",
                "2d"
            ])
        );
        let small = json!({"metadata": meta("db"), "subsets": [
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 3306}]}]});
        assert_eq!(
            json!(cells(&ENDPOINTS, small)),
            json!(["db", "[fd00::1]:3306", "2d"])
        );
        let headless = json!({"metadata": meta("h"), "subsets": [
            {"addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}]}]});
        assert_eq!(
            json!(cells(&ENDPOINTS, headless)),
            json!(["h", "10.42.0.1,10.42.0.2", "2d"])
        );
        let empty = json!({"metadata": meta("e")});
        assert_eq!(
            json!(cells(&ENDPOINTS, empty)),
            json!(["e", "<none>", "2d"])
        );
        let not_ready = json!({"metadata": meta("nr"), "subsets": [
            {"notReadyAddresses": [{"ip": "10.42.0.1"}], "ports": [{"port": 80}]}]});
        assert_eq!(json!(cells(&ENDPOINTS, not_ready)), json!(["nr", "", "2d"]));
    }

    fn node(labels: Value, ready: Option<&str>, unschedulable: bool) -> Value {
        let mut conditions = vec![json!({"type": "MemoryPressure", "status": "False"})];
        if let Some(r) = ready {
            conditions.push(json!({"type": "Ready", "status": r}));
        }
        json!({
            "metadata": {"name": "node-1", "labels": labels, "creationTimestamp": "2024-04-01T12:00:00Z"},
            "spec": {"unschedulable": unschedulable},
            "status": {
                "conditions": conditions,
                "addresses": [{"type": "Hostname", "address": "node-1"},
                              {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 24.04 LTS",
                             "kernelVersion": "6.8.0-31-generic",
                             "containerRuntimeVersion": "containerd://1.7.20"}
            }
        })
    }

    #[test]
    fn table_node_cells() {
        let n1 = node(
            json!({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"}),
            Some("True"),
            false,
        );
        assert_eq!(
            json!(cells(&NODES, n1)),
            json!([
                "node-1",
                "Ready",
                "control-plane,master",
                "30d",
                "v1.32.0",
                "192.168.1.10",
                "<none>",
                "Ubuntu 24.04 LTS",
                "6.8.0-31-generic",
                "containerd://1.7.20"
            ])
        );
        let status_and_roles = |n: Value| {
            let c = cells(&NODES, n);
            (c[1].clone(), c[2].clone())
        };
        assert_eq!(
            status_and_roles(node(json!({}), Some("False"), false)),
            (json!("NotReady"), json!("<none>"))
        );
        assert_eq!(
            status_and_roles(node(
                json!({"kubernetes.io/role": "worker"}),
                Some("True"),
                true
            )),
            (json!("Ready,SchedulingDisabled"), json!("worker"))
        );
        assert_eq!(
            status_and_roles(node(
                json!({"node-role.kubernetes.io/": "", "kubernetes.io/role": ""}),
                None,
                true
            )),
            (json!("Unknown,SchedulingDisabled"), json!("<none>"))
        );
        assert_eq!(
            status_and_roles(node(json!({}), Some("Unknown"), false)),
            (json!("NotReady"), json!("<none>"))
        );
        let bare = json!({"metadata": {"name": "n"}});
        assert_eq!(
            json!(cells(&NODES, bare)),
            json!([
                "n",
                "Unknown",
                "<none>",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ])
        );
    }

    #[test]
    fn table_simple_core_kinds() {
        let ns = json!({"metadata": meta("kube-system"), "status": {"phase": "Terminating"}});
        assert_eq!(
            json!(cells(&NAMESPACES, ns)),
            json!(["kube-system", "Terminating", "2d"])
        );
        let ns = json!({"metadata": meta("default")});
        assert_eq!(
            json!(cells(&NAMESPACES, ns)),
            json!(["default", "Active", "2d"])
        );

        let cm = json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(json!(cells(&CONFIG_MAPS, cm)), json!(["cfg", 3, "2d"]));

        let secret = json!({"metadata": meta("tls"), "type": "kubernetes.io/tls",
                            "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            json!(cells(&SECRETS, secret)),
            json!(["tls", "kubernetes.io/tls", 2, "2d"])
        );
        let secret = json!({"metadata": meta("plain")});
        assert_eq!(
            json!(cells(&SECRETS, secret)),
            json!(["plain", "Opaque", 0, "2d"])
        );

        let sa = json!({"metadata": meta("default"), "secrets": [{"name": "x"}]});
        assert_eq!(
            json!(cells(&SERVICE_ACCOUNTS, sa)),
            json!(["default", 1, "2d"])
        );
        let sa = json!({"metadata": meta("builder")});
        assert_eq!(
            json!(cells(&SERVICE_ACCOUNTS, sa)),
            json!(["builder", 0, "2d"])
        );
    }

    #[test]
    fn table_replication_controller_cells() {
        let rc = json!({"metadata": meta("mysql"),
            "spec": {"replicas": 2, "selector": {"name": "mysql"},
                     "template": {"spec": {"containers": [
                        {"name": "mysql", "image": "mysql:8"}, {"name": "exporter", "image": "prom/mysqld-exporter"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            json!(cells(&REPLICATION_CONTROLLERS, rc)),
            json!([
                "mysql",
                2,
                2,
                1,
                "2d",
                "mysql,exporter",
                "mysql:8,prom/mysqld-exporter",
                "name=mysql"
            ])
        );
        let bare = json!({"metadata": meta("x")});
        assert_eq!(
            json!(cells(&REPLICATION_CONTROLLERS, bare)),
            json!(["x", 1, 0, 0, "2d", "", "", "<none>"])
        );
    }

    #[test]
    fn table_volume_and_claim_cells() {
        let pv = json!({"metadata": meta("pv-1"),
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
                     "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        assert_eq!(
            json!(cells(&PERSISTENT_VOLUMES, pv)),
            json!([
                "pv-1",
                "10Gi",
                "RWO,RWX",
                "Delete",
                "Bound",
                "default/data",
                "local-path",
                "<unset>",
                "",
                "2d",
                "Filesystem"
            ])
        );
        let mut pv = json!({"metadata": meta("pv-2"), "spec": {}});
        pv["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:00:00Z");
        pv["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": "slow"});
        assert_eq!(
            json!(cells(&PERSISTENT_VOLUMES, pv)),
            json!([
                "pv-2",
                "0",
                "",
                "Retain",
                "Terminating",
                "",
                "slow",
                "<unset>",
                "",
                "2d",
                "Filesystem"
            ])
        );

        let bound = json!({"metadata": meta("data"),
            "spec": {"volumeName": "pv-1", "storageClassName": "local-path",
                     "resources": {"requests": {"storage": "5Gi"}}, "volumeMode": "Block"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]}});
        assert_eq!(
            json!(cells(&PERSISTENT_VOLUME_CLAIMS, bound)),
            json!([
                "data",
                "Bound",
                "pv-1",
                "10Gi",
                "RWOP",
                "local-path",
                "<unset>",
                "2d",
                "Block"
            ])
        );
        let pending = json!({"metadata": meta("wait"),
            "spec": {"resources": {"requests": {"storage": "5Gi"}}, "volumeAttributesClassName": "gold"},
            "status": {"phase": "Pending"}});
        assert_eq!(
            json!(cells(&PERSISTENT_VOLUME_CLAIMS, pending)),
            json!([
                "wait",
                "Pending",
                "",
                "",
                "",
                "",
                "gold",
                "2d",
                "Filesystem"
            ])
        );
    }

    #[test]
    fn table_resource_quota_cells() {
        let q = json!({"metadata": meta("compute"),
            "status": {"hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "2"},
                       "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}}});
        assert_eq!(
            json!(cells(&RESOURCE_QUOTAS, q)),
            json!([
                "compute",
                "pods: 3/10, requests.cpu: 500m/1",
                "limits.cpu: 1/2, limits.memory: 0/2Gi",
                "2d"
            ])
        );
    }

    #[test]
    fn table_pod_template_and_component_status_cells() {
        let pt = json!({"metadata": meta("tpl"), "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}});
        assert_eq!(
            json!(cells(&POD_TEMPLATES, pt)),
            json!(["tpl", "web", "nginx:1.27", "app=web"])
        );
        let cs = json!({"metadata": {"name": "etcd-0"}, "conditions": [
            {"type": "Healthy", "status": "True", "message": "ok"}]});
        assert_eq!(
            json!(cells(&COMPONENT_STATUSES, cs)),
            json!(["etcd-0", "Healthy", "ok", ""])
        );
    }
}
