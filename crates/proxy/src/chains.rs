//! Per-service rule generation, a pure function of the [`Snapshot`] (kube-proxy's nftables
//! semantics): dispatch elements in `service-ips` / `service-nodeports`, reject/drop elements
//! in `no-endpoint-services` / `no-endpoint-nodeports`, a Cluster and/or Local policy chain
//! balancing with `numgen random mod N`, an external chain for NodePort/LB/external IPs, one
//! chain per endpoint (hairpin masquerade, affinity update, DNAT), affinity sets with
//! timeouts, and firewall chains for `loadBalancerSourceRanges`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::cidr::Ipv4Cidr;
use crate::model::{Categorized, Endpoint, ServicePort, ServicePortName, Snapshot, categorize};
use crate::names::{
    AFFINITY_PREFIX, ENDPOINT_PREFIX, EXTERNAL_PREFIX, FIREWALL_PREFIX, LOCAL_PREFIX,
    SERVICE_PREFIX, endpoint_base, service_base,
};
use crate::state::{DesiredState, TableState, add_element};

/// Fixed object names shared with [`crate::script`].
pub mod fixed {
    /// Set of active ClusterIPs.
    pub const CLUSTER_IPS: &str = "cluster-ips";
    /// Set of addresses accepting NodePorts (when restricted).
    pub const NODEPORT_IPS: &str = "nodeport-ips";
    /// ip . proto . port → verdict for ClusterIP, external and LB IPs.
    pub const SERVICE_IPS: &str = "service-ips";
    /// proto . port → verdict for NodePorts.
    pub const SERVICE_NODEPORTS: &str = "service-nodeports";
    /// ip . proto . port → reject/drop for services without endpoints.
    pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
    /// proto . port → reject/drop for NodePorts without endpoints.
    pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
    /// ip . proto . port → firewall chain for LB source ranges.
    pub const FIREWALL_IPS: &str = "firewall-ips";
    /// Marks a connection for masquerade.
    pub const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
    /// Rejects (ICMP port unreachable).
    pub const REJECT_CHAIN: &str = "reject-chain";
}

/// What rule generation needs from the configuration.
#[derive(Clone, Debug, Default)]
pub struct RuleContext {
    /// Pod networks (traffic from outside them to a ClusterIP is masqueraded).
    pub cluster_cidrs: Vec<Ipv4Cidr>,
    /// Masquerade all ClusterIP traffic.
    pub masquerade_all: bool,
    /// The node's IPv4 addresses (LB source ranges containing one also admit the LB IPs).
    pub node_ips: Vec<Ipv4Addr>,
}

/// One service port's objects (its chains, affinity sets, and the dispatch elements it
/// asks for) with its counts; memoized while its inputs stay the same.
#[derive(Clone, Debug, Default)]
pub struct ServiceOut {
    /// Chains, sets and (requested) elements.
    pub objects: DesiredState,
    /// internalTrafficPolicy Local without a local endpoint (but some elsewhere).
    pub no_local_internal: bool,
    /// externalTrafficPolicy Local without a local endpoint (but some elsewhere).
    pub no_local_external: bool,
    /// Number of endpoint chains.
    pub endpoint_chains: usize,
    /// Keys this service port asks for twice with different values.
    pub conflicts: Vec<String>,
}

/// The generated state plus counts for metrics and notes for logs.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// The per-service objects and the merged dispatch elements.
    pub state: TableState,
    /// Service ports with internalTrafficPolicy Local and no local endpoint (but some elsewhere).
    pub no_local_internal: usize,
    /// Service ports with externalTrafficPolicy Local and no local endpoint (but some elsewhere).
    pub no_local_external: usize,
    /// Keys claimed by two service ports (the first, in name order, keeps them).
    pub conflicts: Vec<String>,
    /// Number of endpoint chains.
    pub endpoint_chains: usize,
    /// Service ports generated afresh (the others were reused from the last run).
    pub regenerated: usize,
}

/// Generates the desired state, reusing the previous output of service ports whose inputs
/// did not change (so a sync after one endpoint change costs little more than that service).
#[derive(Debug, Default)]
pub struct Generator {
    ctx: RuleContext,
    cache: HashMap<ServicePortName, (ServicePort, Vec<Endpoint>, Arc<ServiceOut>)>,
}

impl Generator {
    /// A generator for `ctx`.
    pub fn new(ctx: RuleContext) -> Generator {
        Generator {
            ctx,
            cache: HashMap::new(),
        }
    }

    /// Generates every service port's objects and merges the dispatch elements, in service
    /// port name order (the first claimant of a key keeps it).
    pub fn generate(&mut self, snapshot: &Snapshot) -> Generated {
        let mut out = Generated::default();
        let empty = Vec::new();
        let mut cache = HashMap::with_capacity(snapshot.services.len());
        for (spn, sp) in &snapshot.services {
            let eps = snapshot.endpoints.get(spn).unwrap_or(&empty);
            let svc = match self.cache.remove(spn) {
                Some((csp, ceps, svc)) if csp == *sp && ceps == *eps => svc,
                _ => {
                    out.regenerated += 1;
                    let mut svc = ServiceOut::default();
                    service(&mut svc, &self.ctx, spn, sp, &categorize(sp, eps));
                    Arc::new(svc)
                }
            };
            out.no_local_internal += usize::from(svc.no_local_internal);
            out.no_local_external += usize::from(svc.no_local_external);
            out.endpoint_chains += svc.endpoint_chains;
            out.conflicts.extend(svc.conflicts.iter().cloned());
            for ((container, key), v) in &svc.objects.elements {
                if !add_element(
                    &mut out.state.elements,
                    container,
                    key.clone(),
                    v.value.clone(),
                    v.comment.clone(),
                ) {
                    out.conflicts.push(format!(
                        "{spn}: {key} in {container} is already used by another service port"
                    ));
                }
            }
            out.state.services.insert(spn.clone(), svc.clone());
            cache.insert(spn.clone(), (sp.clone(), eps.clone(), svc));
        }
        self.cache = cache;
        out
    }
}

/// `{ a, b }` or a single value, for nft set literals.
fn literal(items: &[String]) -> String {
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

/// Generates every service port's objects without memoization.
pub fn generate(snapshot: &Snapshot, ctx: &RuleContext) -> Generated {
    Generator::new(ctx.clone()).generate(snapshot)
}

fn service(
    out: &mut ServiceOut,
    ctx: &RuleContext,
    spn: &ServicePortName,
    sp: &ServicePort,
    cat: &Categorized,
) {
    use fixed::*;
    let proto = spn.protocol.as_str();
    let base = service_base(spn);
    let cluster_chain = format!("{SERVICE_PREFIX}{base}");
    let local_chain = format!("{LOCAL_PREFIX}{base}");
    let external_chain = format!("{EXTERNAL_PREFIX}{base}");
    let firewall_chain = format!("{FIREWALL_PREFIX}{base}");
    let name = spn.to_string();
    let st = &mut out.objects;
    let mut conflict = |what: String| {
        out.conflicts.push(format!(
            "{name}: {what} is already used by another service port"
        ))
    };

    let uses_cluster_chain = !cat.cluster.is_empty() && sp.uses_cluster_endpoints();
    let uses_local_chain = !cat.local.is_empty() && sp.uses_local_endpoints();
    let internal_chain = if sp.internal_policy_local {
        &local_chain
    } else {
        &cluster_chain
    };
    let has_internal = cat.has_any && (!sp.internal_policy_local || !cat.local.is_empty());
    let external_policy_chain = if sp.external_policy_local {
        &local_chain
    } else {
        &cluster_chain
    };
    let has_external = cat.has_any && (!sp.external_policy_local || !cat.local.is_empty());
    // The external chain exists whenever there are endpoints at all: with Local policy it
    // still short-circuits pod- and node-originated traffic to the Cluster chain.
    let uses_external_chain = cat.has_any && sp.externally_accessible();
    let (internal_verdict, external_verdict) = if !cat.has_any {
        (
            format!("goto {REJECT_CHAIN}"),
            format!("goto {REJECT_CHAIN}"),
        )
    } else {
        ("drop".to_string(), "drop".to_string())
    };
    if cat.has_any && !has_internal {
        out.no_local_internal = true;
    }
    if cat.has_any && !has_external {
        out.no_local_external = true;
    }

    let cip = sp.cluster_ip.to_string();
    let key = |ip: &str, port: u16| format!("{ip} . {proto} . {port}");
    st.add_element(CLUSTER_IPS, cip.clone(), None, None);
    if has_internal {
        if !st.add_element(
            SERVICE_IPS,
            key(&cip, sp.port),
            Some(format!("goto {internal_chain}")),
            None,
        ) {
            conflict(format!("{cip}:{}", sp.port));
        }
    } else if !st.add_element(
        NO_ENDPOINT_SERVICES,
        key(&cip, sp.port),
        Some(internal_verdict),
        Some(name.clone()),
    ) {
        conflict(format!("{cip}:{}", sp.port));
    }

    let externals = sp.external_ips.iter().chain(&sp.load_balancer_ips);
    for ip in externals {
        let ip = ip.to_string();
        if cat.has_any
            && !st.add_element(
                SERVICE_IPS,
                key(&ip, sp.port),
                Some(format!("goto {external_chain}")),
                None,
            )
        {
            conflict(format!("{ip}:{}", sp.port));
        }
        if !has_external
            && !st.add_element(
                NO_ENDPOINT_SERVICES,
                key(&ip, sp.port),
                Some(external_verdict.clone()),
                Some(name.clone()),
            )
        {
            conflict(format!("{ip}:{}", sp.port));
        }
    }

    if !sp.load_balancer_ips.is_empty() && !sp.load_balancer_source_ranges.is_empty() {
        let mut sources: Vec<String> = sp
            .load_balancer_source_ranges
            .iter()
            .map(ToString::to_string)
            .collect();
        let admits_node = sp
            .load_balancer_source_ranges
            .iter()
            .any(|r| ctx.node_ips.iter().any(|ip| r.contains(*ip)));
        if admits_node {
            // Traffic from the node to its own LB IP arrives with the LB IP as source.
            sources.extend(sp.load_balancer_ips.iter().map(ToString::to_string));
        }
        st.rule(
            &firewall_chain,
            format!("ip saddr != {{ {} }} drop", sources.join(", ")),
        );
        for ip in &sp.load_balancer_ips {
            if !st.add_element(
                FIREWALL_IPS,
                key(&ip.to_string(), sp.port),
                Some(format!("goto {firewall_chain}")),
                Some(name.clone()),
            ) {
                conflict(format!("firewall {ip}:{}", sp.port));
            }
        }
    }

    if let Some(np) = sp.node_port {
        let npkey = format!("{proto} . {np}");
        if cat.has_any
            && !st.add_element(
                SERVICE_NODEPORTS,
                npkey.clone(),
                Some(format!("goto {external_chain}")),
                None,
            )
        {
            conflict(format!("nodePort {np}"));
        }
        if !has_external
            && !st.add_element(
                NO_ENDPOINT_NODEPORTS,
                npkey,
                Some(external_verdict),
                Some(name.clone()),
            )
        {
            conflict(format!("nodePort {np}"));
        }
    }

    if uses_cluster_chain {
        st.ensure_chain(&cluster_chain);
    }
    if uses_local_chain {
        st.ensure_chain(&local_chain);
    }

    // Internal traffic from outside the pod network is masqueraded: the reply must come back
    // through this node to be un-DNATed.
    if has_internal {
        let cidrs: Vec<String> = ctx.cluster_cidrs.iter().map(ToString::to_string).collect();
        if ctx.masquerade_all {
            st.rule(
                internal_chain,
                format!("ip daddr {cip} jump {MARK_FOR_MASQUERADE}"),
            );
        } else if !cidrs.is_empty() {
            st.rule(
                internal_chain,
                format!(
                    "ip daddr {cip} ip saddr != {} jump {MARK_FOR_MASQUERADE}",
                    literal(&cidrs)
                ),
            );
        }
    }

    if uses_external_chain {
        st.ensure_chain(&external_chain);
        if !sp.external_policy_local {
            // The endpoint may be on another node: masquerade so the reply returns here.
            st.rule(&external_chain, format!("jump {MARK_FOR_MASQUERADE}"));
        } else {
            let cidrs: Vec<String> = ctx.cluster_cidrs.iter().map(ToString::to_string).collect();
            if !cidrs.is_empty() {
                st.rule(
                    &external_chain,
                    format!(
                        "ip saddr {} goto {cluster_chain} comment \"short-circuit pod traffic\"",
                        literal(&cidrs)
                    ),
                );
            }
            st.rule(
                &external_chain,
                format!("fib saddr type local jump {MARK_FOR_MASQUERADE} comment \"masquerade local traffic\""),
            );
            st.rule(
                &external_chain,
                format!("fib saddr type local goto {cluster_chain} comment \"short-circuit local traffic\""),
            );
        }
        if has_external {
            st.rule(&external_chain, format!("goto {external_policy_chain}"));
        }
    }

    let affinity = |ep: &Endpoint| format!("{AFFINITY_PREFIX}{}", endpoint_base(spn, ep));
    let ep_chain = |ep: &Endpoint| format!("{ENDPOINT_PREFIX}{}", endpoint_base(spn, ep));
    if let Some(timeout) = sp.affinity_timeout {
        for ep in &cat.reachable {
            st.sets.insert(
                affinity(ep),
                format!("type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ;"),
            );
        }
    }
    let balance = |st: &mut DesiredState, chain: &str, eps: &[Endpoint]| {
        if sp.affinity_timeout.is_some() {
            for ep in eps {
                st.rule(
                    chain,
                    format!("ip saddr @{} goto {}", affinity(ep), ep_chain(ep)),
                );
            }
        }
        let arms: Vec<String> = eps
            .iter()
            .enumerate()
            .map(|(i, ep)| format!("{i} : goto {}", ep_chain(ep)))
            .collect();
        st.rule(
            chain,
            format!(
                "numgen random mod {} vmap {{ {} }}",
                eps.len(),
                arms.join(" , ")
            ),
        );
    };
    if uses_cluster_chain {
        balance(st, &cluster_chain, &cat.cluster);
    }
    if uses_local_chain {
        balance(st, &local_chain, &cat.local);
    }

    for ep in &cat.reachable {
        let chain = ep_chain(ep);
        st.ensure_chain(&chain);
        // Hairpin: an endpoint reaching itself through the service must see the reply come
        // from the service, so the connection is masqueraded.
        st.rule(
            &chain,
            format!("ip saddr {} jump {MARK_FOR_MASQUERADE}", ep.ip),
        );
        if sp.affinity_timeout.is_some() {
            st.rule(&chain, format!("update @{} {{ ip saddr }}", affinity(ep)));
        }
        st.rule(
            &chain,
            format!("meta l4proto {proto} dnat to {}", ep.addr()),
        );
        out.endpoint_chains += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests;
