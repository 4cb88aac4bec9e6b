//! Node health decisions (pure): the conditions a silent node gets, zone states, and the
//! NoSchedule taints its conditions call for (upstream's TaintNodesByCondition).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The taint of a node whose Ready condition is False.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint of a node whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint of a cordoned node.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// Nodes with this label do not count towards their zone's health.
pub const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";

/// The conditions the controller sets to Unknown when the kubelet goes silent (not
/// NetworkUnavailable, which the network plugin owns).
const WATCHED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The node's condition of `type_`.
pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The status of the node's Ready condition (`Unknown` when it has none).
pub fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

/// The conditions of a node whose kubelet stopped reporting: each watched condition Unknown
/// (reason `NodeStatusUnknown`, or `NodeStatusNeverUpdated` for one never posted). None when
/// they already are.
pub fn silent_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for t in WATCHED {
        match conditions.iter_mut().find(|c| c.type_ == t) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: t.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

/// A zone's state, as upstream's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Just seen.
    Initial,
    /// Healthy enough: normal eviction rate.
    Normal,
    /// At least the unhealthy threshold (and more than two nodes) not ready.
    PartialDisruption,
    /// No node ready.
    FullDisruption,
}

/// The state of a zone whose nodes' Ready statuses are `ready` (true = Ready), and how many
/// are not ready.
pub fn zone_state(ready: &[bool], unhealthy_threshold: f64) -> (usize, ZoneState) {
    let up = ready.iter().filter(|r| **r).count();
    let down = ready.len() - up;
    let state = if up == 0 && down > 0 {
        ZoneState::FullDisruption
    } else if down > 2 && down as f64 / ready.len() as f64 >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    };
    (down, state)
}

/// The zone key of a node (region and zone labels), as upstream's `GetZoneKey`.
pub fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).cloned().unwrap_or_default();
    let region = get("topology.kubernetes.io/region");
    let zone = get("topology.kubernetes.io/zone");
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\0:{zone}")
    }
}

/// The NoSchedule taint keys the controller manages, and the ones `node`'s conditions (and
/// `spec.unschedulable`) call for.
pub fn no_schedule_keys(node: &Node) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let status = |t: &str| condition(node, t).map(|c| c.status.as_str());
    match status("Ready") {
        Some("False") => keys.push(NOT_READY_TAINT),
        Some("Unknown") => keys.push(UNREACHABLE_TAINT),
        _ => {}
    }
    for (cond, key) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        (
            "NetworkUnavailable",
            "node.kubernetes.io/network-unavailable",
        ),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
    ] {
        if status(cond) == Some("True") {
            keys.push(key);
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        keys.push(UNSCHEDULABLE_TAINT);
    }
    keys
}

/// Every NoSchedule taint key the controller may manage.
pub const MANAGED_NO_SCHEDULE: [&str; 7] = [
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/pid-pressure",
    UNSCHEDULABLE_TAINT,
];

/// `node`'s taints with the managed NoSchedule ones matching its conditions, or None when they
/// already do.
pub fn with_no_schedule_taints(node: &Node) -> Option<Vec<Taint>> {
    let want = no_schedule_keys(node);
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let managed =
        |t: &Taint| t.effect == "NoSchedule" && MANAGED_NO_SCHEDULE.contains(&t.key.as_str());
    let have: Vec<&str> = taints
        .iter()
        .filter(|t| managed(t))
        .map(|t| t.key.as_str())
        .collect();
    let mut a = have.clone();
    a.sort_unstable();
    let mut b = want.clone();
    b.sort_unstable();
    if a == b {
        return None;
    }
    let mut out: Vec<Taint> = taints
        .iter()
        .filter(|t| !managed(t) || want.contains(&t.key.as_str()))
        .cloned()
        .collect();
    for k in want {
        if !have.contains(&k) {
            out.push(Taint {
                key: k.into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeStatus;

    fn node(ready: &str) -> Node {
        Node {
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn silent_nodes_get_unknown_conditions_once() {
        let n = node("True");
        let c = silent_conditions(&n, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            c[0].message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(c[1].reason.as_deref(), Some("NodeStatusNeverUpdated"));
        let mut n2 = n.clone();
        n2.status.as_mut().unwrap().conditions = Some(c);
        assert!(silent_conditions(&n2, Timestamp::UNIX_EPOCH).is_none());
    }

    #[test]
    fn zone_states_follow_upstream_thresholds() {
        assert_eq!(
            zone_state(&[false, false], 0.55).1,
            ZoneState::FullDisruption
        );
        assert_eq!(zone_state(&[true, false, false], 0.55).1, ZoneState::Normal);
        assert_eq!(
            zone_state(&[true, false, false, false], 0.55).1,
            ZoneState::PartialDisruption
        );
        assert_eq!(
            zone_state(&[true, true, true, false], 0.55),
            (1, ZoneState::Normal)
        );
    }

    #[test]
    fn no_schedule_taints_follow_conditions() {
        let t = with_no_schedule_taints(&node("Unknown")).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].key, UNREACHABLE_TAINT);
        let mut n = node("True");
        n.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            taints: Some(t),
            ..Default::default()
        });
        assert_eq!(with_no_schedule_taints(&n), Some(vec![]));
    }
}
