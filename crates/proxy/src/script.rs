//! Rendering nft transactions: the fixed skeleton of the table (base chains hooked into
//! netfilter, dispatch maps, masquerading, reject helpers), a full sync that rewrites
//! everything and removes leftovers, and a partial sync that touches only what differs from
//! the last applied [`TableState`]. Each is one `nft -f -` transaction: atomic.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::chains::fixed::*;
use crate::cidr::Ipv4Cidr;
use crate::state::{DesiredState, ElementValue, TableState};

/// Which addresses accept NodePort traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodePortAddresses {
    /// Every local address (`fib daddr type local`), loopback included.
    All,
    /// Only these (the `nodeport-ips` set).
    Only(Vec<std::net::Ipv4Addr>),
}

/// What the skeleton depends on.
#[derive(Clone, Debug)]
pub struct Skeleton {
    /// The table name (family `ip`).
    pub table: String,
    /// The masquerade mark.
    pub mark: u32,
    /// Service networks (unallocated addresses in them are dropped).
    pub service_cidrs: Vec<Ipv4Cidr>,
    /// NodePort addresses.
    pub nodeports: NodePortAddresses,
}

/// Base chains: (name, type, hook, priority). Filtering runs on pre-DNAT addresses for the
/// firewall (priority dstnat-10) and after DNAT for the endpoint checks (filter priority), as
/// upstream does.
const BASE_CHAINS: &[(&str, &str, &str, i32)] = &[
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-forward", "filter", "forward", 0),
    ("filter-input", "filter", "input", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
];

/// Regular chains the skeleton owns.
const FIXED_CHAINS: &[&str] = &[
    "cluster-ips-check",
    "firewall-check",
    MARK_FOR_MASQUERADE,
    "masquerading",
    "nodeport-endpoints-check",
    REJECT_CHAIN,
    "services",
    "service-endpoints-check",
];

/// Names of the chains the skeleton owns (base and fixed regular chains).
pub fn fixed_chain_names() -> impl Iterator<Item = &'static str> {
    BASE_CHAINS
        .iter()
        .map(|c| c.0)
        .chain(FIXED_CHAINS.iter().copied())
}

/// The fixed sets and maps: (name, declaration body).
fn fixed_containers() -> [(&'static str, &'static str); 7] {
    [
        (
            CLUSTER_IPS,
            "type ipv4_addr ; comment \"Active ClusterIPs\" ;",
        ),
        (
            NODEPORT_IPS,
            "type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ;",
        ),
        (
            FIREWALL_IPS,
            "type ipv4_addr . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ;",
        ),
        (
            NO_ENDPOINT_NODEPORTS,
            "type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ;",
        ),
        (
            NO_ENDPOINT_SERVICES,
            "type ipv4_addr . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ;",
        ),
        (
            SERVICE_IPS,
            "type ipv4_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ;",
        ),
        (
            SERVICE_NODEPORTS,
            "type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ;",
        ),
    ]
}

fn is_map(name: &str) -> bool {
    name != CLUSTER_IPS && name != NODEPORT_IPS
}

impl Skeleton {
    /// Creates (idempotently) and refills the table's fixed part. Flushes the fixed sets and
    /// maps: a full sync re-adds every element after this.
    fn render(&self, s: &mut String) {
        let t = &self.table;
        let _ = writeln!(
            s,
            "add table ip {t} {{ comment \"rules for kube-proxy\" ; }}"
        );
        for (name, body) in fixed_containers() {
            let kind = if is_map(name) { "map" } else { "set" };
            let _ = writeln!(s, "add {kind} ip {t} {name} {{ {body} }}");
            let _ = writeln!(s, "flush {kind} ip {t} {name}");
        }
        for (name, ty, hook, prio) in BASE_CHAINS {
            let _ = writeln!(
                s,
                "add chain ip {t} {name} {{ type {ty} hook {hook} priority {prio} ; }}"
            );
            let _ = writeln!(s, "flush chain ip {t} {name}");
        }
        for name in FIXED_CHAINS {
            let _ = writeln!(s, "add chain ip {t} {name}");
            let _ = writeln!(s, "flush chain ip {t} {name}");
        }
        let mut rule = |chain: &str, r: &str| {
            let _ = writeln!(s, "add rule ip {t} {chain} {r}");
        };
        // Hooks into the regular chains.
        rule(
            "filter-prerouting-pre-dnat",
            "ct state new jump firewall-check",
        );
        rule("filter-output-pre-dnat", "ct state new jump firewall-check");
        rule(
            "filter-forward",
            "ct state new jump service-endpoints-check",
        );
        rule("filter-forward", "ct state new jump cluster-ips-check");
        rule("filter-input", "ct state new jump nodeport-endpoints-check");
        rule("filter-input", "ct state new jump service-endpoints-check");
        // route_localnet lets 127.0.0.1 be routed; refuse what reaches loopback addresses from
        // elsewhere unless our own DNAT put it there (upstream iptables' CVE-2020-8558 guard).
        rule(
            "filter-input",
            "ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status & dnat == 0 drop comment \"martian localhost\"",
        );
        rule("filter-output", "ct state new jump service-endpoints-check");
        rule("filter-output", "ct state new jump cluster-ips-check");
        rule("nat-prerouting", "jump services");
        rule("nat-output", "jump services");
        rule("nat-postrouting", "jump masquerading");
        rule(
            "firewall-check",
            &format!("ip daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}"),
        );
        let mark = format!("{:#010x}", self.mark);
        rule(MARK_FOR_MASQUERADE, &format!("mark set mark or {mark}"));
        rule("masquerading", &format!("mark and {mark} == 0 return"));
        rule("masquerading", &format!("mark set mark xor {mark}"));
        rule("masquerading", "masquerade fully-random");
        rule(REJECT_CHAIN, "reject");
        rule(
            "cluster-ips-check",
            &format!(
                "ip daddr @{CLUSTER_IPS} reject comment \"Reject traffic to invalid ports of ClusterIPs\""
            ),
        );
        if !self.service_cidrs.is_empty() {
            let cidrs: Vec<String> = self.service_cidrs.iter().map(ToString::to_string).collect();
            rule(
                "cluster-ips-check",
                &format!(
                    "ip daddr {{ {} }} drop comment \"Drop traffic to unallocated ClusterIPs\"",
                    cidrs.join(", ")
                ),
            );
        }
        rule(
            "services",
            &format!("ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"),
        );
        rule(
            "service-endpoints-check",
            &format!("ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"),
        );
        let nodeport_match = match &self.nodeports {
            NodePortAddresses::All => "fib daddr type local".to_string(),
            NodePortAddresses::Only(_) => format!("ip daddr @{NODEPORT_IPS}"),
        };
        rule(
            "services",
            &format!("{nodeport_match} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
        );
        rule(
            "nodeport-endpoints-check",
            &format!("{nodeport_match} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
        );
        if let NodePortAddresses::Only(ips) = &self.nodeports {
            for ip in ips {
                let _ = writeln!(s, "add element ip {t} {NODEPORT_IPS} {{ {ip} }}");
            }
        }
    }
}

/// Kernel objects found in the table (for a full sync to delete leftovers).
#[derive(Clone, Debug, Default)]
pub struct Existing {
    /// Chain names.
    pub chains: BTreeSet<String>,
    /// Set and map names.
    pub sets: BTreeSet<String>,
}

fn element_line(
    s: &mut String,
    verb: &str,
    table: &str,
    container: &str,
    key: &str,
    v: Option<&ElementValue>,
) {
    let _ = write!(s, "{verb} element ip {table} {container} {{ {key}");
    if let Some(v) = v {
        if let Some(c) = &v.comment {
            let _ = write!(s, " comment \"{c}\"");
        }
        if let Some(val) = &v.value {
            let _ = write!(s, " : {val}");
        }
    }
    s.push_str(" }\n");
}

/// A transaction recreating the whole table from `desired`, deleting per-service chains and
/// affinity sets in `existing` that are no longer wanted. Affinity sets that stay keep their
/// contents (client stickiness survives a full sync).
pub fn full(skeleton: &Skeleton, desired: &TableState, existing: &Existing) -> String {
    let t = &skeleton.table;
    let mut s = String::with_capacity(desired.services.len() * 2048 + 4096);
    skeleton.render(&mut s);
    let objects: Vec<&DesiredState> = desired.services.values().map(|o| &o.objects).collect();
    for o in &objects {
        for (name, body) in &o.sets {
            let _ = writeln!(s, "add set ip {t} {name} {{ {body} }}");
        }
    }
    for o in &objects {
        for name in o.chains.keys() {
            let _ = writeln!(s, "add chain ip {t} {name}");
            let _ = writeln!(s, "flush chain ip {t} {name}");
        }
    }
    for o in &objects {
        for (name, rules) in &o.chains {
            for r in rules {
                let _ = writeln!(s, "add rule ip {t} {name} {r}");
            }
        }
    }
    for ((container, key), v) in &desired.elements {
        element_line(&mut s, "add", t, container, key, Some(v));
    }
    // The maps were flushed above, so nothing references stale chains any more.
    let chains: HashSet<&String> = objects.iter().flat_map(|o| o.chains.keys()).collect();
    let sets: HashSet<&String> = objects.iter().flat_map(|o| o.sets.keys()).collect();
    let stale: Vec<&String> = existing
        .chains
        .iter()
        .filter(|c| crate::names::is_service_chain(c) && !chains.contains(c))
        .collect();
    for c in &stale {
        let _ = writeln!(s, "flush chain ip {t} {c}");
    }
    for c in &stale {
        let _ = writeln!(s, "delete chain ip {t} {c}");
    }
    for set in &existing.sets {
        if crate::names::is_affinity_set(set) && !sets.contains(set) {
            let _ = writeln!(s, "delete set ip {t} {set}");
        }
    }
    if skeleton.nodeports == NodePortAddresses::All {
        // Declared by the skeleton for uniformity; unused when every address matches.
        let _ = writeln!(s, "delete set ip {t} {NODEPORT_IPS}");
    }
    s
}

/// What a partial sync changes, gathered over the changed service ports.
#[derive(Default)]
struct Plan<'a> {
    rewrite: Vec<(&'a String, &'a Vec<String>, bool)>,
    removed_chains: Vec<&'a String>,
    delete_sets: Vec<&'a String>,
    add_sets: Vec<(&'a String, &'a String)>,
}

impl<'a> Plan<'a> {
    /// Adds the changes turning one service port's `applied` objects into `desired`.
    fn diff(&mut self, applied: &'a DesiredState, desired: &'a DesiredState) {
        // Sets whose declaration changed must be deleted and recreated, which requires the
        // rules referencing them to be rewritten in the same transaction.
        let changed_sets: Vec<&String> = applied
            .sets
            .iter()
            .filter(|(n, body)| desired.sets.get(*n).is_some_and(|b| b != *body))
            .map(|(n, _)| n)
            .collect();
        let references_changed_set = |rules: &[String]| {
            changed_sets
                .iter()
                .any(|n| rules.iter().any(|r| r.contains(&format!("@{n} "))))
        };
        for (name, rules) in &desired.chains {
            let old = applied.chains.get(name);
            if old != Some(rules) || references_changed_set(rules) {
                self.rewrite.push((name, rules, old.is_some()));
            }
        }
        self.removed_chains.extend(
            applied
                .chains
                .keys()
                .filter(|c| !desired.chains.contains_key(*c)),
        );
        self.delete_sets.extend(
            applied
                .sets
                .keys()
                .filter(|n| !desired.sets.contains_key(*n)),
        );
        self.delete_sets.extend(changed_sets);
        self.add_sets.extend(
            desired
                .sets
                .iter()
                .filter(|(n, body)| applied.sets.get(*n) != Some(*body)),
        );
    }
}

/// A transaction turning `applied` into `desired`; empty when they are equal. Service ports
/// whose objects are the very same (memoized) value are skipped without comparing.
pub fn partial(table: &str, applied: &TableState, desired: &TableState) -> String {
    let t = table;
    let mut s = String::new();
    let empty = DesiredState::default();
    let mut plan = Plan::default();
    for (spn, d) in &desired.services {
        match applied.services.get(spn) {
            Some(a) if Arc::ptr_eq(a, d) => {}
            a => plan.diff(a.map_or(&empty, |a| &a.objects), &d.objects),
        }
    }
    for (spn, a) in &applied.services {
        if !desired.services.contains_key(spn) {
            plan.diff(&a.objects, &empty);
        }
    }

    // 1. Declare and empty every chain to (re)write, empty the ones going away.
    for (c, _, existed) in &plan.rewrite {
        let _ = writeln!(s, "add chain ip {t} {c}");
        if *existed {
            let _ = writeln!(s, "flush chain ip {t} {c}");
        }
    }
    for c in &plan.removed_chains {
        let _ = writeln!(s, "flush chain ip {t} {c}");
    }
    // 2. Elements that go away or change value (before anything they point at is deleted).
    for (k, v) in &applied.elements {
        if desired.elements.get(k).is_none_or(|d| d.value != v.value) {
            element_line(&mut s, "delete", t, &k.0, &k.1, None);
        }
    }
    // 3. Sets: drop removed and changed ones (their referencing rules are flushed), add new.
    for n in &plan.delete_sets {
        let _ = writeln!(s, "delete set ip {t} {n}");
    }
    for (n, body) in &plan.add_sets {
        let _ = writeln!(s, "add set ip {t} {n} {{ {body} }}");
    }
    // 4. Rules of rewritten chains, then the new and changed elements pointing at them.
    for (c, rules, _) in &plan.rewrite {
        for r in *rules {
            let _ = writeln!(s, "add rule ip {t} {c} {r}");
        }
    }
    for (k, v) in &desired.elements {
        if applied.elements.get(k).is_none_or(|a| a.value != v.value) {
            element_line(&mut s, "add", t, &k.0, &k.1, Some(v));
        }
    }
    // 5. Chains nothing references any more.
    for c in &plan.removed_chains {
        let _ = writeln!(s, "delete chain ip {t} {c}");
    }
    s
}

#[cfg(test)]
mod tests;
