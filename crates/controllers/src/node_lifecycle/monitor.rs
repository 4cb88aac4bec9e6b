//! The node health monitor: the loop around [`super::health`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_component::events::EventSink;
use serde_json::json;

use super::health::{self, NOT_READY_TAINT, UNREACHABLE_TAINT, ZoneState};
use super::rate::TokenBucket;
use super::{COMPONENT, Config};
use crate::context::Context;
use crate::informer;

/// What was last seen of a node's heartbeats, and when it last moved (controller time).
struct Health {
    probe: Timestamp,
    heartbeat: Option<Time>,
    renewed: Option<Timestamp>,
}

struct Zone {
    state: ZoneState,
    limiter: TokenBucket,
    queue: VecDeque<String>,
}

struct Monitor {
    client: Client,
    config: Config,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    recorder: EventSink,
    health: HashMap<String, Health>,
    known: HashSet<String>,
    zones: HashMap<String, Zone>,
}

fn node_ref(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(name.into()),
        uid: Some(name.into()),
        ..Default::default()
    }
}

fn pod_ref(p: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: p.metadata.namespace.clone(),
        name: p.metadata.name.clone(),
        uid: p.metadata.uid.clone(),
        resource_version: p.metadata.resource_version.clone(),
        ..Default::default()
    }
}

pub(super) async fn run(ctx: Context, config: Config) {
    let (nodes, _n) = informer::spawn(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
        |_| {},
    );
    let (leases, _l) = informer::spawn(
        Api::<Lease>::namespaced(ctx.client.clone(), "kube-node-lease"),
        watcher::Config::default(),
        |_| {},
    );
    let (pods, _p) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default().fields("spec.nodeName!="),
        |_| {},
    );
    for ready in [
        nodes.wait_until_ready().await,
        leases.wait_until_ready().await,
        pods.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    let mut m = Monitor {
        client: ctx.client.clone(),
        recorder: ctx.recorder(COMPONENT),
        nodes,
        leases,
        pods,
        health: HashMap::new(),
        known: HashSet::new(),
        zones: HashMap::new(),
        config,
    };
    let mut monitor = tokio::time::interval(m.config.monitor_period);
    let mut tainting = tokio::time::interval(m.config.tainting_period);
    monitor.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tainting.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = monitor.tick() => m.monitor_pass().await,
            _ = tainting.tick() => m.tainting_pass().await,
        }
    }
}

impl Monitor {
    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    fn zone(&mut self, key: &str) -> &mut Zone {
        let rate = self.config.eviction_rate;
        self.zones.entry(key.to_string()).or_insert_with(|| Zone {
            state: ZoneState::Initial,
            limiter: TokenBucket::new(rate),
            queue: VecDeque::new(),
        })
    }

    async fn monitor_pass(&mut self) {
        let nodes = self.nodes.state();
        let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        for n in &nodes {
            let name = n.name_any();
            if self.known.insert(name.clone()) {
                self.recorder.record(
                    node_ref(&name),
                    false,
                    "RegisteredNode",
                    "RegisteredNode",
                    format!("Registered Node {name} in Controller"),
                );
            }
        }
        let gone: Vec<String> = self.known.difference(&names).cloned().collect();
        for name in gone {
            self.known.remove(&name);
            self.health.remove(&name);
            for z in self.zones.values_mut() {
                z.queue.retain(|n| *n != name);
            }
            self.recorder.record(
                node_ref(&name),
                false,
                "RemovingNode",
                "RemovingNode",
                format!("Removing Node {name} from Controller"),
            );
        }
        let mut zone_ready: HashMap<String, Vec<bool>> = HashMap::new();
        for node in &nodes {
            let (observed, current) = match self.update_health(node).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(node = %node.name_any(), error = %e, "updating node health failed");
                    continue;
                }
            };
            let name = node.name_any();
            let zone = health::zone_key(node);
            self.zone(&zone);
            let excluded = node.labels().contains_key(health::EXCLUDE_DISRUPTION_LABEL);
            if !excluded {
                zone_ready
                    .entry(zone.clone())
                    .or_default()
                    .push(current == "True");
            }
            self.taint_based_eviction(node, &observed, &zone).await;
            if current != "True" && observed == "True" {
                self.recorder.record(
                    node_ref(&name),
                    false,
                    "NodeNotReady",
                    "NodeNotReady",
                    format!("Node {name} status is now: NodeNotReady"),
                );
            }
            if current != "True" {
                self.mark_pods_not_ready(&name).await;
            }
            self.no_schedule_taints(&name).await;
        }
        self.handle_disruption(zone_ready, &nodes).await;
    }

    /// Upstream's `tryUpdateNodeHealth`: (observed Ready status, Ready status now).
    async fn update_health(&mut self, node: &Node) -> Result<(String, String), kube::Error> {
        let name = node.name_any();
        let now = self.now();
        let ready = health::condition(node, "Ready");
        let observed = health::ready_status(node).to_string();
        let grace = if ready.is_none() {
            self.config.startup_grace_period
        } else {
            self.config.grace_period
        };
        let heartbeat = ready.and_then(|c| c.last_heartbeat_time.clone());
        let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let h = self.health.entry(name.clone()).or_insert_with(|| Health {
            probe: if ready.is_none() {
                created.unwrap_or(now)
            } else {
                now
            },
            heartbeat: heartbeat.clone(),
            renewed: None,
        });
        if h.heartbeat != heartbeat {
            h.heartbeat = heartbeat;
            h.probe = now;
        }
        let renewed = self
            .leases
            .get(&ObjectRef::new(&name).within("kube-node-lease"))
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
        if let Some(r) = renewed
            && h.renewed.is_none_or(|old| old < r)
        {
            h.renewed = Some(r);
            h.probe = now;
        }
        let deadline = h
            .probe
            .saturating_add(SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX))
            .unwrap_or(h.probe);
        if now <= deadline {
            return Ok((observed.clone(), observed));
        }
        let Some(conditions) = health::silent_conditions(node, now) else {
            return Ok((observed.clone(), observed));
        };
        tracing::info!(node = %name, "node stopped posting status; marking its conditions Unknown");
        let patch = json!({"status": {"conditions": conditions}});
        Api::<Node>::all(self.client.clone())
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await?;
        Ok((observed, "Unknown".into()))
    }

    /// Upstream's `processTaintBaseEviction`, on the Ready status observed this pass.
    async fn taint_based_eviction(&mut self, node: &Node, observed: &str, zone: &str) {
        let name = node.name_any();
        let has = |key: &str| {
            node.spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .any(|t| t.key == key && t.effect == "NoExecute")
        };
        match observed {
            "False" | "Unknown" => {
                let (want, other) = if observed == "False" {
                    (NOT_READY_TAINT, UNREACHABLE_TAINT)
                } else {
                    (UNREACHABLE_TAINT, NOT_READY_TAINT)
                };
                if has(other) {
                    // Already tainted the other way: swap at once.
                    if let Err(e) = self.swap_taints(&name, Some(want), other).await {
                        tracing::debug!(node = %name, error = %e, "swapping NoExecute taints failed");
                    }
                } else if !has(want) {
                    let z = self.zone(zone);
                    if !z.queue.contains(&name) {
                        z.queue.push_back(name);
                    }
                }
            }
            _ => {
                if has(NOT_READY_TAINT) || has(UNREACHABLE_TAINT) {
                    let r1 = self.swap_taints(&name, None, NOT_READY_TAINT).await;
                    let r2 = self.swap_taints(&name, None, UNREACHABLE_TAINT).await;
                    if let Err(e) = r1.and(r2) {
                        tracing::debug!(node = %name, error = %e, "removing NoExecute taints failed");
                    }
                }
                self.zone(zone).queue.retain(|n| *n != name);
            }
        }
    }

    /// Adds the NoExecute taint `add` (if any) and removes the NoExecute taint `remove`, on a
    /// fresh read of the node.
    async fn swap_taints(
        &self,
        name: &str,
        add: Option<&str>,
        remove: &str,
    ) -> Result<(), kube::Error> {
        let api = Api::<Node>::all(self.client.clone());
        let mut node = api.get(name).await?;
        let spec = node.spec.get_or_insert_with(Default::default);
        let mut taints: Vec<Taint> = spec.taints.clone().unwrap_or_default();
        let before = taints.len();
        taints.retain(|t| !(t.key == remove && t.effect == "NoExecute"));
        let mut changed = taints.len() != before;
        if let Some(add) = add
            && !taints
                .iter()
                .any(|t| t.key == add && t.effect == "NoExecute")
        {
            taints.push(Taint {
                key: add.into(),
                effect: "NoExecute".into(),
                time_added: Some(Time(self.now())),
                value: None,
            });
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        spec.taints = Some(taints);
        api.replace(name, &PostParams::default(), &node).await?;
        Ok(())
    }

    /// Upstream's `doNoExecuteTaintingPass`: each zone's queue at its rate.
    async fn tainting_pass(&mut self) {
        let zones: Vec<String> = self.zones.keys().cloned().collect();
        for zone in zones {
            loop {
                let name = {
                    let z = self.zone(&zone);
                    if z.queue.is_empty() || !z.limiter.try_accept() {
                        break;
                    }
                    z.queue.pop_front()
                };
                let Some(name) = name else { break };
                let Some(node) = self.nodes.get(&ObjectRef::new(&name)) else {
                    continue;
                };
                let (add, remove) = match health::ready_status(&node) {
                    "False" => (NOT_READY_TAINT, UNREACHABLE_TAINT),
                    "Unknown" => (UNREACHABLE_TAINT, NOT_READY_TAINT),
                    _ => continue,
                };
                match self.swap_taints(&name, Some(add), remove).await {
                    Ok(()) => tracing::info!(node = %name, taint = add, "tainted node NoExecute"),
                    Err(e) => {
                        tracing::debug!(node = %name, error = %e, "tainting failed; retrying");
                        self.zone(&zone).queue.push_back(name);
                    }
                }
            }
        }
    }

    /// Upstream's `MarkPodsNotReady`: the node's pods get Ready=False.
    async fn mark_pods_not_ready(&self, node: &str) {
        let now = self.now();
        for pod in self.pods.state() {
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(node) {
                continue;
            }
            let Some(conditions) = pod.status.as_ref().and_then(|s| s.conditions.clone()) else {
                continue;
            };
            if !conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
            {
                continue;
            }
            let conditions: Vec<_> = conditions
                .into_iter()
                .map(|mut c| {
                    if c.type_ == "Ready" {
                        c.status = "False".into();
                        c.last_transition_time = Some(Time(now));
                    }
                    c
                })
                .collect();
            let ns = pod.namespace().unwrap_or_default();
            let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": {"conditions": conditions}});
            match Api::<Pod>::namespaced(self.client.clone(), &ns)
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(_) => self.recorder.record(
                    pod_ref(&pod),
                    true,
                    "NodeNotReady",
                    "NodeNotReady",
                    "Node is not ready".into(),
                ),
                Err(e) => {
                    tracing::debug!(pod = %pod.name_any(), error = %e, "marking pod not ready failed")
                }
            }
        }
    }

    /// Keeps the condition-driven NoSchedule taints current (TaintNodesByCondition).
    async fn no_schedule_taints(&self, name: &str) {
        let api = Api::<Node>::all(self.client.clone());
        let Ok(mut node) = api.get(name).await else {
            return;
        };
        let Some(taints) = health::with_no_schedule_taints(&node) else {
            return;
        };
        node.spec.get_or_insert_with(Default::default).taints = Some(taints);
        if let Err(e) = api.replace(name, &PostParams::default(), &node).await {
            tracing::debug!(node = name, error = %e, "updating NoSchedule taints failed");
        }
    }

    /// Upstream's `handleDisruption`: zone states and the rates they imply.
    async fn handle_disruption(
        &mut self,
        zone_ready: HashMap<String, Vec<bool>>,
        nodes: &[Arc<Node>],
    ) {
        let mut new_states = HashMap::new();
        for (zone, ready) in &zone_ready {
            new_states.insert(
                zone.clone(),
                health::zone_state(ready, self.config.unhealthy_zone_threshold).1,
            );
        }
        self.zones.retain(|k, _| zone_ready.contains_key(k));
        let all_now =
            !new_states.is_empty() && new_states.values().all(|s| *s == ZoneState::FullDisruption);
        let all_before = !self.zones.is_empty()
            && self
                .zones
                .values()
                .all(|z| z.state == ZoneState::FullDisruption);
        if all_now && all_before {
            return;
        }
        if all_now {
            tracing::info!(
                "all nodes are not ready: entering master disruption mode, evictions stop"
            );
            for n in nodes {
                let name = n.name_any();
                let _ = self.swap_taints(&name, None, NOT_READY_TAINT).await;
                let _ = self.swap_taints(&name, None, UNREACHABLE_TAINT).await;
            }
            for z in self.zones.values_mut() {
                z.limiter.set_rate(0.0);
                z.state = ZoneState::FullDisruption;
                z.queue.clear();
            }
            return;
        }
        if all_before {
            // Leaving master disruption: nodes get a fresh grace period.
            let now = self.now();
            for h in self.health.values_mut() {
                h.probe = now;
            }
        }
        for (zone, state) in new_states {
            let size = zone_ready.get(&zone).map_or(0, Vec::len);
            let rate = match state {
                ZoneState::PartialDisruption if size > self.config.large_cluster_threshold => {
                    self.config.secondary_eviction_rate
                }
                ZoneState::PartialDisruption => 0.0,
                _ => self.config.eviction_rate,
            };
            let z = self.zone(&zone);
            if z.state != state {
                tracing::info!(zone = %zone, ?state, "zone changed state");
                z.limiter.set_rate(rate);
                z.state = state;
            }
        }
    }
}
