//! Facts about pods the controller decides with: active, ready, available (minReadySeconds),
//! and upstream's order of deletion (`ActivePodsWithRanks`).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

/// Upstream's pod-deletion-cost annotation.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Neither finished nor being deleted (upstream's `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// When the pod's Ready condition became True, if it is Ready.
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// Whether the pod is Ready.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now`: `Ok(())`, or how long until it is
/// (`Err(None)`: not ready at all).
pub fn availability(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Result<(), Option<std::time::Duration>> {
    let since = ready_since(pod).ok_or(None)?;
    if min_ready_seconds <= 0 {
        return Ok(());
    }
    let Some(since) = since else {
        // Ready without a transition time: it can never be shown to have waited.
        return Err(None);
    };
    let at = since + jiff::SignedDuration::from_secs(min_ready_seconds.into());
    // Upstream's comparison is strict: available once the moment has passed.
    if at < now {
        Ok(())
    } else {
        Err(Some(at.duration_since(now).unsigned_abs()))
    }
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        // Upstream's map has no other phases: they rank with Pending.
        _ => 0,
    }
}

fn node(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// log2 of how long ago `t` was (nanoseconds), -1 for now or the future (upstream's
/// logarithmic scale-down buckets).
fn log_age(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.duration_since(t).as_nanos();
    if d > 0 { (d as f64).log2() as i64 } else { -1 }
}

/// Newer first, with upstream's LogarithmicScaleDown: times in the same power-of-two age
/// bucket tie, broken by UID; a missing time sorts first. Equal times are broken by UID too
/// (upstream calls them equal and moves on to the next criterion): that is not a total
/// order, which Go's sort tolerates but Rust's detects and panics on.
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    ua: &str,
    ub: &str,
    now: Timestamp,
) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match log_age(a, now).cmp(&log_age(b, now)) {
            Ordering::Equal => ua.cmp(ub),
            o => o,
        },
    }
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

/// Upstream's deletion preference between two pods (`Less` = delete first): unassigned <
/// assigned; Pending < Unknown < Running; not ready < ready; lower deletion cost; more
/// colocated related pods (`rank`); ready more recently; more restarts; created more recently.
pub fn deletion_order(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let ((pa, ra), (pb, rb)) = (a, b);
    let (na, nb) = (node(pa), node(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let o = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if o != Ordering::Equal {
        return o;
    }
    let (ready_a, ready_b) = (ready_since(pa), ready_since(pb));
    if ready_a.is_some() != ready_b.is_some() {
        return if ready_a.is_none() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let o = deletion_cost(pa).cmp(&deletion_cost(pb));
    if o != Ordering::Equal {
        return o;
    }
    if ra != rb {
        return rb.cmp(&ra);
    }
    if let (Some(ta), Some(tb)) = (ready_a, ready_b) {
        let o = newer_first(ta, tb, uid(pa), uid(pb), now);
        if o != Ordering::Equal {
            // Most recently ready first.
            return o;
        }
    }
    let o = max_restarts(pb).cmp(&max_restarts(pa));
    if o != Ordering::Equal {
        return o;
    }
    let ca = pa.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let cb = pb.metadata.creation_timestamp.as_ref().map(|t| t.0);
    newer_first(ca, cb, uid(pa), uid(pb), now)
}

/// The `n` pods of `pods` to delete first; `related` are the pods counted for colocation
/// (upstream counts the owner's active pods per node).
pub fn pods_to_delete(
    pods: &[Arc<Pod>],
    related: &[Arc<Pod>],
    n: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    if n >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_active(p)) {
        *on_node.entry(node(p)).or_default() += 1;
    }
    let mut ranked: Vec<(Arc<Pod>, usize)> = pods
        .iter()
        .map(|p| (p.clone(), on_node.get(node(p)).copied().unwrap_or(0)))
        .collect();
    ranked.sort_by(|a, b| deletion_order((&a.0, a.1), (&b.0, b.1), now));
    ranked.into_iter().take(n).map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready_at: Option<&str>) -> Arc<Pod> {
        let mut conditions = vec![];
        if let Some(t) = ready_at {
            conditions.push(json!({"type": "Ready", "status": "True", "lastTransitionTime": t}));
        }
        let mut spec = json!({"containers": [{"name": "c", "image": "i"}]});
        if !node.is_empty() {
            spec["nodeName"] = json!(node);
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": name, "creationTimestamp": "2025-01-01T00:00:00Z"},
                "spec": spec,
                "status": {"phase": phase, "conditions": conditions},
            }))
            .unwrap(),
        )
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn the_deletion_order_is_total_so_sorting_never_panics() {
        // Ready at the same instant or in the same age bucket, with different UIDs: every
        // triple must be transitive, or Rust's sort may panic mid-scale-down.
        let now: Timestamp = "2025-01-01T01:00:00Z".parse().unwrap();
        let pods: Vec<Arc<Pod>> = (0..24)
            .map(|i| {
                let t = format!("2025-01-01T00:{:02}:00Z", 30 + (i % 3));
                pod(&format!("p{:02}", (i * 7) % 24), "n1", "Running", Some(&t))
            })
            .collect();
        let le =
            |a: &Arc<Pod>, b: &Arc<Pod>| deletion_order((a, 0), (b, 0), now) != Ordering::Greater;
        for a in &pods {
            for b in &pods {
                for c in &pods {
                    if le(a, b) && le(b, c) {
                        assert!(le(a, c), "not transitive");
                    }
                }
            }
        }
        assert_eq!(pods_to_delete(&pods, &pods, 10, now).len(), 10);
    }

    #[test]
    fn unscheduled_then_pending_then_not_ready_go_first() {
        let now = Timestamp::now();
        let pods = vec![
            pod(
                "running-ready",
                "n1",
                "Running",
                Some("2025-01-01T00:01:00Z"),
            ),
            pod("running-unready", "n2", "Running", None),
            pod("pending", "n3", "Pending", None),
            pod("unscheduled", "", "Pending", None),
            pod("unknown", "n4", "Unknown", None),
        ];
        let order = names(pods_to_delete(&pods, &pods, 4, now));
        assert_eq!(
            order,
            ["unscheduled", "pending", "unknown", "running-unready"]
        );
    }

    #[test]
    fn lower_deletion_cost_goes_first() {
        let now = Timestamp::now();
        let mut cheap = (*pod("cheap", "n1", "Running", Some("2025-01-01T00:01:00Z"))).clone();
        cheap.metadata.annotations = Some([(DELETION_COST.to_string(), "-5".to_string())].into());
        let pods = vec![
            pod("dear", "n2", "Running", Some("2025-01-01T00:01:00Z")),
            Arc::new(cheap),
        ];
        assert_eq!(names(pods_to_delete(&pods, &pods, 1, now)), ["cheap"]);
    }

    #[test]
    fn doubled_up_pods_go_before_lonely_ones() {
        let now = Timestamp::now();
        let t = Some("2025-01-01T00:01:00Z");
        let pods = vec![
            pod("alone", "n1", "Running", t),
            pod("a", "n2", "Running", t),
            pod("b", "n2", "Running", t),
        ];
        let first = names(pods_to_delete(&pods, &pods, 1, now));
        assert_ne!(first, ["alone"]);
    }

    #[test]
    fn the_most_recently_ready_goes_first() {
        let now: Timestamp = "2025-01-02T00:00:00Z".parse().unwrap();
        let pods = vec![
            pod("old", "n1", "Running", Some("2025-01-01T00:00:00Z")),
            pod("new", "n2", "Running", Some("2025-01-01T23:59:50Z")),
        ];
        assert_eq!(names(pods_to_delete(&pods, &pods, 1, now)), ["new"]);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now: Timestamp = "2025-01-01T00:00:10Z".parse().unwrap();
        let p = pod("p", "n", "Running", Some("2025-01-01T00:00:05Z"));
        assert_eq!(availability(&p, 0, now), Ok(()));
        assert_eq!(availability(&p, 4, now), Ok(()));
        assert_eq!(
            availability(&p, 8, now),
            Err(Some(std::time::Duration::from_secs(3)))
        );
        let unready = pod("u", "n", "Running", None);
        assert_eq!(availability(&unready, 0, now), Err(None));
    }
}
