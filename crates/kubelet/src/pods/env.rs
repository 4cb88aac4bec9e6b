//! A container's environment: Service variables, `envFrom`, then `env` with `$(VAR)`
//! expansion and `valueFrom` (ConfigMap/Secret keys, downward API fields, resource fields).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    Container, EnvVarSource, ObjectFieldSelector, Pod, ResourceFieldSelector, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rkube_api::validation::quantity::Quantity as Parsed;

use super::expand::expand;
use super::lookups::Lookups;

/// Why a container's environment could not be built (upstream: `CreateContainerConfigError`).
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A referenced object or key is missing and not optional.
    #[error("{0}")]
    Missing(String),
    /// A field reference or resource is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// The apiserver could not be asked.
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
}

/// Facts about the running pod that downward-API fields read.
#[derive(Clone, Debug, Default)]
pub struct PodFacts {
    /// The pod's IP.
    pub pod_ip: String,
    /// The node's IP.
    pub host_ip: String,
    /// The node's allocatable cpu (milli) and memory (bytes): a resource field without a limit.
    pub node_allocatable: BTreeMap<String, Quantity>,
}

/// The environment of `container`, in upstream's order and precedence.
pub async fn environment(
    pod: &Pod,
    container: &Container,
    facts: &PodFacts,
    lookups: &mut Lookups,
) -> Result<Vec<(String, String)>, EnvError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let services = lookups
        .services(spec.enable_service_links.unwrap_or(true))
        .await?;
    let service_env = service_env(&services);

    let mut order: Vec<String> = Vec::new();
    let mut vars: HashMap<String, String> = HashMap::new();
    let set =
        |order: &mut Vec<String>, vars: &mut HashMap<String, String>, k: String, v: String| {
            if vars.insert(k.clone(), v).is_none() {
                order.push(k);
            }
        };

    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match lookups.config_map(&r.name).await? {
                Some(cm) => {
                    for (k, v) in cm.data.unwrap_or_default() {
                        set(&mut order, &mut vars, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(EnvError::Missing(format!(
                        "configmap \"{}\" not found",
                        r.name
                    )));
                }
            }
        }
        if let Some(r) = &from.secret_ref {
            match lookups.secret(&r.name).await? {
                Some(s) => {
                    for (k, v) in s.data.unwrap_or_default() {
                        set(
                            &mut order,
                            &mut vars,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(EnvError::Missing(format!(
                        "secret \"{}\" not found",
                        r.name
                    )));
                }
            }
        }
    }

    for e in container.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (_, Some(source)) => match value_from(pod, container, source, facts, lookups).await? {
                Some(v) => v,
                None => continue, // optional and absent
            },
            (Some(v), None) => {
                let mut scope = service_env.clone();
                scope.extend(vars.clone());
                expand(v, &scope)
            }
            (None, None) => String::new(),
        };
        set(&mut order, &mut vars, e.name.clone(), value);
    }

    let mut out: Vec<(String, String)> = order
        .into_iter()
        .map(|k| {
            let v = vars[&k].clone();
            (k, v)
        })
        .collect();
    let mut service_names: Vec<_> = service_env
        .into_iter()
        .filter(|(k, _)| !vars.contains_key(k))
        .collect();
    service_names.sort();
    out.extend(service_names);
    Ok(out)
}

async fn value_from(
    pod: &Pod,
    container: &Container,
    source: &EnvVarSource,
    facts: &PodFacts,
    lookups: &mut Lookups,
) -> Result<Option<String>, EnvError> {
    if let Some(r) = &source.config_map_key_ref {
        let optional = r.optional == Some(true);
        return match lookups.config_map(&r.name).await? {
            Some(cm) => match cm.data.and_then(|d| d.get(&r.key).cloned()) {
                Some(v) => Ok(Some(v)),
                None if optional => Ok(None),
                None => Err(EnvError::Missing(format!(
                    "couldn't find key {} in ConfigMap {}/{}",
                    r.key,
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    r.name
                ))),
            },
            None if optional => Ok(None),
            None => Err(EnvError::Missing(format!(
                "configmap \"{}\" not found",
                r.name
            ))),
        };
    }
    if let Some(r) = &source.secret_key_ref {
        let optional = r.optional == Some(true);
        return match lookups.secret(&r.name).await? {
            Some(s) => match s.data.and_then(|d| d.get(&r.key).cloned()) {
                Some(v) => Ok(Some(String::from_utf8_lossy(&v.0).into_owned())),
                None if optional => Ok(None),
                None => Err(EnvError::Missing(format!(
                    "couldn't find key {} in Secret {}/{}",
                    r.key,
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    r.name
                ))),
            },
            None if optional => Ok(None),
            None => Err(EnvError::Missing(format!(
                "secret \"{}\" not found",
                r.name
            ))),
        };
    }
    if let Some(f) = &source.field_ref {
        return field_value(pod, f, facts).map(Some);
    }
    if let Some(r) = &source.resource_field_ref {
        return resource_value(pod, container, r, facts).map(Some);
    }
    Ok(Some(String::new()))
}

/// A downward-API field of the pod (`metadata.name`, `status.podIP`, …).
pub fn field_value(
    pod: &Pod,
    f: &ObjectFieldSelector,
    facts: &PodFacts,
) -> Result<String, EnvError> {
    let m = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let path = f.field_path.as_str();
    let map_key = |prefix: &str, map: &Option<BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(
            map.as_ref()
                .and_then(|m| m.get(key))
                .cloned()
                .unwrap_or_default(),
        )
    };
    if let Some(v) = map_key("metadata.labels['", &m.labels) {
        return Ok(v);
    }
    if let Some(v) = map_key("metadata.annotations['", &m.annotations) {
        return Ok(v);
    }
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(&m.labels),
        "metadata.annotations" => format_map(&m.annotations),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        other => {
            return Err(EnvError::Unsupported(format!(
                "unsupported fieldPath: {other}"
            )));
        }
    })
}

/// `key="value"` lines, sorted, as upstream's downward API prints a map.
pub fn format_map(map: &Option<BTreeMap<String, String>>) -> String {
    map.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A container resource field (`limits.cpu`, `requests.memory`, …) divided by its divisor,
/// rounded up; an unset limit reads as the node's allocatable.
pub fn resource_value(
    pod: &Pod,
    container: &Container,
    r: &ResourceFieldSelector,
    facts: &PodFacts,
) -> Result<String, EnvError> {
    let target = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|c| c.name == name)
            .ok_or_else(|| EnvError::Missing(format!("container {name} not found")))?,
        None => container,
    };
    let res = target.resources.clone().unwrap_or_default();
    let (list, name) = r.resource.split_once('.').ok_or_else(|| {
        EnvError::Unsupported(format!("unsupported container resource: {}", r.resource))
    })?;
    let q = match list {
        "limits" => get(&res.limits, name).or_else(|| facts.node_allocatable.get(name).cloned()),
        "requests" => get(&res.requests, name),
        _ => None,
    };
    let value = q.and_then(|q| Parsed::parse(&q.0).ok().flatten());
    let divisor = r
        .divisor
        .as_ref()
        .and_then(|d| Parsed::parse(&d.0).ok().flatten())
        .filter(|d| !d.is_zero());
    let Some(value) = value else {
        return Ok("0".into());
    };
    // Divide in milli-units so `cpu` with divisor `1m` stays exact.
    let v = value.scaled_value(-3);
    let d = divisor.map_or(1000, |d| d.scaled_value(-3)).max(1);
    Ok(((v + d - 1) / d).to_string())
}

fn get(list: &Option<BTreeMap<String, Quantity>>, key: &str) -> Option<Quantity> {
    list.as_ref().and_then(|l| l.get(key)).cloned()
}

/// The Service environment variables (and Docker-link variables) for `services`.
pub fn service_env(services: &[Service]) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            continue;
        };
        let name = env_name(svc.metadata.name.as_deref().unwrap_or_default());
        let ports = spec.ports.clone().unwrap_or_default();
        env.insert(format!("{name}_SERVICE_HOST"), ip.to_string());
        let Some(first) = ports.first() else { continue };
        env.insert(format!("{name}_SERVICE_PORT"), first.port.to_string());
        let proto = |p: &Option<String>| p.as_deref().unwrap_or("TCP").to_lowercase();
        env.insert(
            format!("{name}_PORT"),
            format!("{}://{ip}:{}", proto(&first.protocol), first.port),
        );
        for p in &ports {
            if let Some(port_name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                env.insert(
                    format!("{name}_SERVICE_PORT_{}", env_name(port_name)),
                    p.port.to_string(),
                );
            }
            let pr = proto(&p.protocol);
            let base = format!("{name}_PORT_{}_{}", p.port, pr.to_uppercase());
            env.insert(base.clone(), format!("{pr}://{ip}:{}", p.port));
            env.insert(format!("{base}_PROTO"), pr);
            env.insert(format!("{base}_PORT"), p.port.to_string());
            env.insert(format!("{base}_ADDR"), ip.to_string());
        }
    }
    env
}

fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_variables_as_upstream() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "my-sql"},
            "spec": {"clusterIP": "10.43.0.5", "ports": [{"name": "db", "port": 3306, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}
        }))
        .unwrap();
        let headless: Service = serde_json::from_value(serde_json::json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}})).unwrap();
        let env = service_env(&[svc, headless]);
        assert_eq!(env["MY_SQL_SERVICE_HOST"], "10.43.0.5");
        assert_eq!(env["MY_SQL_SERVICE_PORT"], "3306");
        assert_eq!(env["MY_SQL_SERVICE_PORT_DB"], "3306");
        assert_eq!(env["MY_SQL_PORT"], "tcp://10.43.0.5:3306");
        assert_eq!(env["MY_SQL_PORT_3306_TCP"], "tcp://10.43.0.5:3306");
        assert_eq!(env["MY_SQL_PORT_3306_TCP_PROTO"], "tcp");
        assert_eq!(env["MY_SQL_PORT_3306_TCP_PORT"], "3306");
        assert_eq!(env["MY_SQL_PORT_3306_TCP_ADDR"], "10.43.0.5");
        assert_eq!(env["MY_SQL_PORT_53_UDP_PROTO"], "udp");
        assert!(
            !env.keys().any(|k| k.starts_with("H_")),
            "headless services get no variables"
        );
    }

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "web", "tier": "fe"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn downward_fields() {
        let p = pod();
        let facts = PodFacts {
            pod_ip: "10.42.0.9".into(),
            host_ip: "10.0.0.1".into(),
            ..Default::default()
        };
        let f = |path: &str| {
            field_value(
                &p,
                &ObjectFieldSelector {
                    field_path: path.into(),
                    api_version: None,
                },
                &facts,
            )
            .unwrap()
        };
        assert_eq!(f("metadata.name"), "p");
        assert_eq!(f("metadata.labels['app']"), "web");
        assert_eq!(f("metadata.labels"), "app=\"web\"\ntier=\"fe\"");
        assert_eq!(f("status.podIP"), "10.42.0.9");
        assert_eq!(f("spec.nodeName"), "n1");
        assert!(
            field_value(
                &p,
                &ObjectFieldSelector {
                    field_path: "spec.bogus".into(),
                    api_version: None
                },
                &facts
            )
            .is_err()
        );
    }

    #[test]
    fn resource_fields_with_divisors() {
        let p = pod();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let facts = PodFacts {
            node_allocatable: BTreeMap::from([("memory".to_string(), Quantity("1Gi".into()))]),
            ..Default::default()
        };
        let r = |res: &str, div: Option<&str>| {
            resource_value(
                &p,
                c,
                &ResourceFieldSelector {
                    container_name: None,
                    resource: res.into(),
                    divisor: div.map(|d| Quantity(d.into())),
                },
                &facts,
            )
            .unwrap()
        };
        assert_eq!(r("limits.cpu", None), "1", "500m rounds up to 1 core");
        assert_eq!(r("limits.cpu", Some("1m")), "500");
        assert_eq!(r("requests.cpu", Some("1m")), "250");
        assert_eq!(r("limits.memory", Some("1Mi")), "64");
        assert_eq!(r("requests.memory", None), "0");
    }
}
