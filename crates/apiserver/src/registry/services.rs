//! The Service-specific steps around the generic write path: ClusterIP and NodePort
//! allocation on create and on type changes, keeping what was allocated when an update
//! leaves it out, and giving it back on delete (or when the write fails). A dry run only
//! checks the allocators, as upstream's: a requested value must lie in its range, a missing
//! one shows as the range's first (nothing is held, so nothing needs giving back).

use super::allocator::{NodePorts, Refusal, ServiceIps};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::{ApiError, FieldCause};
use serde_json::{Value, json};
use std::net::Ipv4Addr;

/// Both allocators.
#[derive(Clone)]
pub struct ServiceAllocators {
    /// ClusterIPs.
    pub ips: ServiceIps,
    /// NodePorts.
    pub ports: NodePorts,
}

/// What one write took (to give back if the write fails) or freed (to give back once it
/// succeeded).
#[derive(Debug, Default)]
pub struct Allocation {
    ips: Vec<Ipv4Addr>,
    ports: Vec<i64>,
}

fn svc_type(svc: &Value) -> &str {
    svc["spec"]["type"].as_str().unwrap_or("ClusterIP")
}

fn needs_node_ports(svc: &Value) -> bool {
    matches!(svc_type(svc), "NodePort" | "LoadBalancer")
}

fn needs_cluster_ip(svc: &Value) -> bool {
    svc_type(svc) != "ExternalName" && svc["spec"]["clusterIP"].as_str() != Some("None")
}

impl ServiceAllocators {
    /// Allocates the ClusterIP and NodePorts a new Service needs (`dry_run`: checks only).
    pub async fn on_create(
        &self,
        info: &ResourceInfo,
        svc: &mut Value,
        dry_run: bool,
    ) -> Result<Allocation, ApiError> {
        self.allocate_missing(info, svc, &Allocation::default(), dry_run)
            .await
    }

    /// For an update: keeps the old object's allocations where the new one leaves them out,
    /// allocates what a type change newly needs, and returns (taken now, freed on success).
    /// A dry run takes and frees nothing.
    pub async fn on_update(
        &self,
        info: &ResourceInfo,
        new: &mut Value,
        old: &Value,
        dry_run: bool,
    ) -> Result<(Allocation, Allocation), ApiError> {
        keep_allocated(new, old);
        let old_held = held(old);
        let taken = self.allocate_missing(info, new, &old_held, dry_run).await?;
        if dry_run {
            return Ok(Default::default());
        }
        let new_held = held(new);
        let freed = Allocation {
            ips: old_held
                .ips
                .into_iter()
                .filter(|ip| !new_held.ips.contains(ip))
                .collect(),
            ports: old_held
                .ports
                .into_iter()
                .filter(|p| !new_held.ports.contains(p))
                .collect(),
        };
        Ok((taken, freed))
    }

    /// Gives back what a deleted Service held.
    pub async fn on_delete(&self, svc: &Value) {
        self.release(&held(svc)).await;
    }

    /// Gives back an allocation (best effort: a failure only leaks a value until repaired).
    pub async fn release(&self, a: &Allocation) {
        for ip in &a.ips {
            if let Err(e) = self.ips.release(*ip).await {
                tracing::warn!(%ip, error = %e, "could not release a service IP");
            }
        }
        for port in &a.ports {
            if let Err(e) = self.ports.release(*port).await {
                tracing::warn!(port, error = %e, "could not release a node port");
            }
        }
    }

    /// Allocates every ClusterIP and NodePort `svc` names or needs that is not already in
    /// `kept`; on failure gives back what it took and explains in upstream's words.
    async fn allocate_missing(
        &self,
        info: &ResourceInfo,
        svc: &mut Value,
        kept: &Allocation,
        dry_run: bool,
    ) -> Result<Allocation, ApiError> {
        let mut taken = Allocation::default();
        let result = self
            .allocate_into(info, svc, kept, &mut taken, dry_run)
            .await;
        if let Err(e) = result {
            self.release(&taken).await;
            return Err(e);
        }
        Ok(taken)
    }

    async fn allocate_into(
        &self,
        info: &ResourceInfo,
        svc: &mut Value,
        kept: &Allocation,
        taken: &mut Allocation,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let name = svc["metadata"]["name"].as_str().unwrap_or("").to_string();
        let invalid = |field: String, value: Value, why: String| {
            ApiError::invalid(info, &name, vec![FieldCause::invalid(field, &value, why)])
        };
        if svc_type(svc) == "ExternalName" {
            if let Some(spec) = svc["spec"].as_object_mut() {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        } else {
            // Single-stack IPv4, as upstream records for a cluster with one IPv4 service CIDR.
            if svc["spec"]["ipFamilies"]
                .as_array()
                .is_none_or(Vec::is_empty)
            {
                svc["spec"]["ipFamilies"] = json!(["IPv4"]);
            }
            if svc["spec"]["ipFamilyPolicy"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                svc["spec"]["ipFamilyPolicy"] = "SingleStack".into();
            }
        }
        if needs_cluster_ip(svc) {
            let requested = svc["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
            let ip = if requested.is_empty() {
                None
            } else {
                Some(requested.parse::<Ipv4Addr>().map_err(|_| {
                    invalid(
                        "spec.clusterIPs[0]".into(),
                        json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into(),
                    )
                })?)
            };
            if !ip.is_some_and(|ip| kept.ips.contains(&ip)) {
                match self.take_ip(ip, dry_run).await? {
                    Ok(ip) => {
                        if !dry_run {
                            taken.ips.push(ip);
                        }
                        svc["spec"]["clusterIP"] = ip.to_string().into();
                        svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
                    }
                    Err(refusal) => {
                        let shown = ip.map_or(String::new(), |ip| format!(" {ip}"));
                        let why = match refusal {
                            Refusal::Taken => "provided IP is already allocated".to_string(),
                            Refusal::OutOfRange => {
                                "provided IP is not in the valid range".to_string()
                            }
                            Refusal::Full => "range is full".to_string(),
                        };
                        return Err(invalid(
                            "spec.clusterIPs".into(),
                            json!([requested]),
                            format!("failed to allocate IP{shown}: {why}"),
                        ));
                    }
                }
            }
        }
        let count = svc["spec"]["ports"].as_array().map_or(0, Vec::len);
        if !needs_node_ports(svc) {
            // Only NodePort and LoadBalancer services hold node ports.
            for i in 0..count {
                if let Some(p) = svc["spec"]["ports"][i].as_object_mut() {
                    p.remove("nodePort");
                }
            }
            return Ok(());
        }
        for i in 0..count {
            let requested = svc["spec"]["ports"][i]["nodePort"]
                .as_i64()
                .filter(|p| *p != 0);
            if requested.is_some_and(|p| kept.ports.contains(&p)) {
                continue;
            }
            match self.take_port(requested, dry_run).await? {
                Ok(p) => {
                    if !dry_run {
                        taken.ports.push(p);
                    }
                    svc["spec"]["ports"][i]["nodePort"] = p.into();
                }
                Err(refusal) => {
                    let why = match refusal {
                        Refusal::Taken => "provided port is already allocated".to_string(),
                        Refusal::OutOfRange => format!(
                            "provided port is not in the valid range. The range of valid ports is {}",
                            self.ports.range()
                        ),
                        Refusal::Full => "range is full".to_string(),
                    };
                    return Err(invalid(
                        format!("spec.ports[{i}].nodePort"),
                        json!(requested.unwrap_or(0)),
                        why,
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ServiceAllocators {
    /// Allocates `ip` (or any), or in a dry run only checks it: upstream's dry-run allocator
    /// checks the range, not whether the address is free, and answers the network address
    /// for "any" rather than searching the bitmap.
    async fn take_ip(
        &self,
        ip: Option<Ipv4Addr>,
        dry_run: bool,
    ) -> Result<Result<Ipv4Addr, Refusal>, ApiError> {
        if !dry_run {
            return self.ips.allocate(ip).await;
        }
        Ok(match ip {
            None => Ok(self.ips.nth(0)),
            Some(ip) if usable(&self.ips, ip) => Ok(ip),
            Some(_) => Err(Refusal::OutOfRange),
        })
    }

    /// As [`ServiceAllocators::take_ip`] for a NodePort ("any" is the range's first port).
    async fn take_port(
        &self,
        port: Option<i64>,
        dry_run: bool,
    ) -> Result<Result<i64, Refusal>, ApiError> {
        if !dry_run {
            return self.ports.allocate(port).await;
        }
        Ok(match port {
            None => Ok(self.ports.nth(0)),
            Some(p) if self.ports.offset(p).is_some() => Ok(p),
            Some(_) => Err(Refusal::OutOfRange),
        })
    }
}

/// Whether `ip` lies in the range and is neither its network nor its broadcast address.
fn usable(ips: &ServiceIps, ip: Ipv4Addr) -> bool {
    let next = u32::from(ip).checked_add(1).map(Ipv4Addr::from);
    ips.offset(ip).is_some_and(|o| o != 0) && next.is_some_and(|n| ips.offset(n).is_some())
}

/// Upstream's dropTypeDependentFields: when an update changes the type so that a field no
/// longer applies, and the update left that field as it was, the field is cleared — so
/// `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` on a LoadBalancer works.
pub fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    let (old_type, new_type) = (svc_type(old).to_owned(), svc_type(new).to_owned());
    if old_type == new_type {
        return;
    }
    let same = |new: &Value, field: &str| new["spec"][field] == old["spec"][field];
    let mut drop = Vec::new();
    if old_type != "ExternalName" && new_type == "ExternalName" {
        for f in [
            "clusterIP",
            "clusterIPs",
            "ipFamilies",
            "ipFamilyPolicy",
            "internalTrafficPolicy",
        ] {
            if same(new, f) {
                drop.push(f);
            }
        }
    }
    let external = |t: &str| matches!(t, "NodePort" | "LoadBalancer");
    if external(&old_type) && !external(&new_type) {
        let ports_of = |v: &Value| -> Vec<Value> {
            v["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["nodePort"].clone())
                .collect()
        };
        if ports_of(new) == ports_of(old)
            && let Some(ports) = new["spec"]["ports"].as_array_mut()
        {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                p.remove("nodePort");
            }
        }
        if same(new, "externalTrafficPolicy") {
            drop.push("externalTrafficPolicy");
        }
    }
    if old_type == "LoadBalancer" && new_type != "LoadBalancer" {
        for f in [
            "healthCheckNodePort",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
        ] {
            if same(new, f) {
                drop.push(f);
            }
        }
    }
    if let Some(spec) = new["spec"].as_object_mut() {
        for f in drop {
            spec.remove(f);
        }
    }
}

/// Upstream's patchAllocatedValues: an update that leaves out the ClusterIP or a port's
/// NodePort keeps the allocated ones (kubectl apply and replace often omit them).
fn keep_allocated(new: &mut Value, old: &Value) {
    let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or("");
    let new_ip = new["spec"]["clusterIP"].as_str().unwrap_or("");
    if needs_cluster_ip(new) && !old_ip.is_empty() && old_ip != "None" && new_ip.is_empty() {
        new["spec"]["clusterIP"] = old_ip.into();
        new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
    }
    if needs_node_ports(new) && needs_node_ports(old) {
        let old_ports: Vec<&Value> = old["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        for port in new["spec"]["ports"].as_array_mut().into_iter().flatten() {
            let same = old_ports.iter().find(|o| {
                o["port"] == port["port"]
                    && o["protocol"].as_str().unwrap_or("TCP")
                        == port["protocol"].as_str().unwrap_or("TCP")
            });
            if let Some(np) = same.and_then(|o| o["nodePort"].as_i64())
                && port["nodePort"].as_i64().is_none_or(|p| p == 0)
            {
                port["nodePort"] = np.into();
            }
        }
    }
}

/// The addresses and ports a Service object holds.
fn held(svc: &Value) -> Allocation {
    let mut a = Allocation::default();
    if needs_cluster_ip(svc)
        && let Some(ip) = svc["spec"]["clusterIP"]
            .as_str()
            .and_then(|s| s.parse().ok())
    {
        a.ips.push(ip);
    }
    if needs_node_ports(svc) {
        a.ports = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["nodePort"].as_i64())
            .filter(|p| *p != 0)
            .collect();
    }
    a
}
