//! Table-driven tests: skew across zones/hosts, minDomains, missing labels, inclusion
//! policies, matchLabelKeys, add/remove-pod, scores and defaults.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::framework::{Code, CycleState, NodeInfo, NodeScore, PodInfo};
use crate::plugins::testing::{arc_pod, node_with, state_with};

/// Name, taint zone b, incoming pod, expected short statuses (`None`: skipped).
type FilterCase = (&'static str, bool, Arc<PodInfo>, Option<Vec<&'static str>>);
/// Name, plugin, incoming pod, feasible node indexes, expected scores (`None`: skipped).
type ScoreCase = (
    &'static str,
    PodTopologySpread,
    Arc<PodInfo>,
    Vec<usize>,
    Option<Vec<i64>>,
);

/// A node `name` in `zone` (no zone label when empty), with `taints`, holding `pods`.
fn zoned(name: &str, zone: &str, taints: Value, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
    let mut labels = json!({LABEL_HOSTNAME: name});
    if !zone.is_empty() {
        labels[LABEL_TOPOLOGY_ZONE] = zone.into();
    }
    node_with(
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}),
        pods,
    )
}

/// A pod `name` in `ns` with `labels` and the rest of its spec from `spec`.
fn p(name: &str, ns: &str, labels: Value, spec: Value) -> Arc<PodInfo> {
    let mut s = json!({"containers": []});
    if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    arc_pod(json!({
        "metadata": {"name": name, "namespace": ns, "uid": name, "labels": labels},
        "spec": s
    }))
}

fn web(name: &str) -> Arc<PodInfo> {
    p(name, "default", json!({"app": "web"}), json!({}))
}

/// A constraint on `key` selecting app=web, with extra fields merged in.
fn tsc(key: &str, max_skew: i32, action: &str, extra: Value) -> Value {
    let mut c = json!({"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": action,
                       "labelSelector": {"matchLabels": {"app": "web"}}});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c
}

fn with_constraints(labels: Value, constraints: Vec<Value>, extra: Value) -> Arc<PodInfo> {
    let mut spec = json!({"topologySpreadConstraints": constraints});
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(extra.clone());
    }
    p("in", "default", labels, spec)
}

/// a1 (zone a, 2 web pods), a2 (zone a), b1 (zone b, 1 web pod), b2 (zone b), x1 (no zone).
fn cluster(taint_b: bool) -> Vec<NodeInfo> {
    let taints = if taint_b {
        json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
    } else {
        Value::Null
    };
    vec![
        zoned("a1", "a", Value::Null, vec![web("w1"), web("w2")]),
        zoned("a2", "a", Value::Null, vec![]),
        zoned("b1", "b", taints.clone(), vec![web("w3")]),
        zoned("b2", "b", taints, vec![]),
        zoned("x1", "", Value::Null, vec![]),
    ]
}

/// Runs PreFilter then Filter on every node; `None` when PreFilter skipped.
fn filter_all(
    pl: &PodTopologySpread,
    state: &mut CycleState,
    pod: &PodInfo,
) -> Option<Vec<&'static str>> {
    let (_, status) = pl.pre_filter(state, pod);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let nodes = state.snapshot().nodes.clone();
    Some(short(
        nodes.iter().map(|n| pl.filter(state, pod, n)).collect(),
    ))
}

/// "ok", "skew" (Unschedulable) or "label" (UnschedulableAndUnresolvable, missing label).
fn short(statuses: Vec<crate::framework::Status>) -> Vec<&'static str> {
    statuses
        .into_iter()
        .map(|s| match (s.code, s.reasons.first().map(|r| r.as_ref())) {
            (Code::Success, _) => "ok",
            (Code::Unschedulable, Some(ERR_REASON_CONSTRAINTS_NOT_MATCH)) => "skew",
            (Code::UnschedulableAndUnresolvable, Some(ERR_REASON_NODE_LABEL_NOT_MATCH)) => "label",
            _ => panic!("unexpected {s:?}"),
        })
        .collect()
}

#[test]
fn filter_hard_constraints() {
    let zone = LABEL_TOPOLOGY_ZONE;
    let host = LABEL_HOSTNAME;
    let dns = "DoNotSchedule";
    let web_labels = json!({"app": "web"});
    let cases: Vec<FilterCase> = vec![
        ("no constraints: skipped", false, web("in"), None),
        (
            "only ScheduleAnyway: skipped",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, "ScheduleAnyway", json!({}))],
                json!({}),
            ),
            None,
        ),
        (
            "zones a:2 b:1, matching pod: only zone b; no zone label is unresolvable",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "the pod itself does not match: zone a is within the skew",
            false,
            with_constraints(
                json!({"app": "db"}),
                vec![tsc(zone, 1, dns, json!({}))],
                json!({}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
        (
            "hosts: min is 0, hosts with a pod are refused; every node has a hostname",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(host, 1, dns, json!({}))],
                json!({}),
            ),
            Some(vec!["skew", "ok", "skew", "ok", "ok"]),
        ),
        (
            "zone and host together: a node must satisfy both",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({})), tsc(host, 1, dns, json!({}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "skew", "ok", "label"]),
        ),
        (
            "minDomains 3 with 2 zones: the global minimum is 0",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({"minDomains": 3}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "skew", "skew", "label"]),
        ),
        (
            "minDomains 3, maxSkew 2",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 2, dns, json!({"minDomains": 3}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "minDomains 2 is met",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({"minDomains": 2}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "nodeAffinityPolicy Honor (default): only zone a counts, its min is 2",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({}))],
                json!({"nodeSelector": {zone: "a"}}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
        (
            "nodeAffinityPolicy Ignore: zone b counts again",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({"nodeAffinityPolicy": "Ignore"}))],
                json!({"nodeSelector": {zone: "a"}}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "required node affinity excludes zone b",
            false,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({}))],
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": zone, "operator": "In", "values": ["a"]}]}]}}}}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
        (
            "nodeTaintsPolicy Ignore (default): tainted zone b counts",
            true,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({}))],
                json!({}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "nodeTaintsPolicy Honor: tainted zone b does not count",
            true,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({"nodeTaintsPolicy": "Honor"}))],
                json!({}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
        (
            "nodeTaintsPolicy Honor with a toleration: zone b counts",
            true,
            with_constraints(
                web_labels.clone(),
                vec![tsc(zone, 1, dns, json!({"nodeTaintsPolicy": "Honor"}))],
                json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}),
            ),
            Some(vec!["skew", "skew", "ok", "ok", "label"]),
        ),
        (
            "matchLabelKeys narrows the selector to the pod's revision (none match)",
            false,
            with_constraints(
                json!({"app": "web", "rev": "2"}),
                vec![tsc(zone, 1, dns, json!({"matchLabelKeys": ["rev"]}))],
                json!({}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
        (
            "an empty selector counts no pod but matches the pod itself",
            false,
            with_constraints(
                web_labels.clone(),
                vec![
                    json!({"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": dns, "labelSelector": {}}),
                ],
                json!({}),
            ),
            Some(vec!["ok", "ok", "ok", "ok", "label"]),
        ),
    ];
    for (name, taint_b, pod, want) in cases {
        let mut state = state_with(cluster(taint_b));
        let got = filter_all(&PodTopologySpread::default(), &mut state, &pod);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn filter_counts_only_live_pods_of_the_namespace() {
    let terminating = arc_pod(json!({
        "metadata": {"name": "t", "namespace": "default", "uid": "t", "labels": {"app": "web"},
                     "deletionTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"containers": []}
    }));
    let other_ns = p("o", "other", json!({"app": "web"}), json!({}));
    let nodes = vec![
        zoned(
            "a1",
            "a",
            Value::Null,
            vec![terminating, other_ns.clone(), other_ns],
        ),
        zoned("b1", "b", Value::Null, vec![]),
    ];
    let pod = with_constraints(
        json!({"app": "web"}),
        vec![tsc(LABEL_TOPOLOGY_ZONE, 1, "DoNotSchedule", json!({}))],
        json!({}),
    );
    let mut state = state_with(nodes);
    assert_eq!(
        filter_all(&PodTopologySpread::default(), &mut state, &pod),
        Some(vec!["ok", "ok"])
    );
}

#[test]
fn add_and_remove_pod_update_counts_and_minimum() {
    let pod = with_constraints(
        json!({"app": "web"}),
        vec![tsc(LABEL_TOPOLOGY_ZONE, 1, "DoNotSchedule", json!({}))],
        json!({}),
    );
    let pl = PodTopologySpread::default();
    let mut state = state_with(cluster(false));
    assert_eq!(
        filter_all(&pl, &mut state, &pod),
        Some(vec!["skew", "skew", "ok", "ok", "label"])
    );
    let nodes = state.snapshot().nodes.clone();
    let run = |state: &CycleState| short(nodes.iter().map(|n| pl.filter(state, &pod, n)).collect());

    // Zone a drops to 1 (= zone b): every zoned node fits.
    let mut copy = state.clone();
    assert!(
        pl.remove_pod(&mut copy, &pod, &web("w1"), &nodes[0])
            .is_success()
    );
    assert_eq!(run(&copy), ["ok", "ok", "ok", "ok", "label"]);
    // Zone b goes to 2: zone a (1) fits, zone b does not.
    assert!(
        pl.add_pod(&mut copy, &pod, &web("w9"), &nodes[3])
            .is_success()
    );
    assert_eq!(run(&copy), ["ok", "ok", "skew", "skew", "label"]);
    // Pods in other namespaces, not matching, or on nodes without the key change nothing.
    assert!(
        pl.add_pod(
            &mut copy,
            &pod,
            &p("o", "other", json!({"app": "web"}), json!({})),
            &nodes[0]
        )
        .is_success()
    );
    assert!(
        pl.add_pod(
            &mut copy,
            &pod,
            &p("d", "default", json!({"app": "db"}), json!({})),
            &nodes[0]
        )
        .is_success()
    );
    assert!(
        pl.add_pod(&mut copy, &pod, &web("w10"), &nodes[4])
            .is_success()
    );
    assert_eq!(run(&copy), ["ok", "ok", "skew", "skew", "label"]);
    // The original state is untouched.
    assert_eq!(run(&state), ["skew", "skew", "ok", "ok", "label"]);
}

#[test]
fn missing_state_and_bad_selectors_are_errors() {
    let pl = PodTopologySpread::default();
    let mut state = state_with(cluster(false));
    let node = state.snapshot().nodes[0].clone();
    let pod = web("in");
    assert_eq!(pl.filter(&state, &pod, &node).code, Code::Error);
    assert_eq!(pl.score(&state, &pod, &node).unwrap_err().code, Code::Error);
    let bad = with_constraints(
        json!({}),
        vec![
            json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}),
        ],
        json!({}),
    );
    assert_eq!(pl.pre_filter(&mut state, &bad).1.code, Code::Error);
}

/// Runs PreScore over `feasible` (indexes into the snapshot), Score and normalization.
fn scores(
    pl: &PodTopologySpread,
    state: &mut CycleState,
    pod: &PodInfo,
    feasible: &[usize],
) -> Option<Vec<i64>> {
    let nodes: Vec<Arc<NodeInfo>> = feasible
        .iter()
        .map(|i| state.snapshot().nodes[*i].clone())
        .collect();
    let status = pl.pre_score(state, pod, &nodes);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let mut out: Vec<NodeScore> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeScore {
            node: i,
            score: pl.score(state, pod, n).expect("score"),
        })
        .collect();
    assert!(pl.normalize(state, pod, &mut out).is_success());
    Some(out.into_iter().map(|s| s.score).collect())
}

/// What a Service selecting app=web in `default` adds to a snapshot.
fn selecting_web() -> Arc<crate::framework::SelectingObjects> {
    let mut objects = crate::framework::SelectingObjects::default();
    objects.set_service(
        "default",
        "web",
        Some([("app".to_string(), "web".to_string())].into()),
    );
    Arc::new(objects)
}

/// A cycle state over `nodes` where the Service selecting app=web exists.
fn web_state(nodes: Vec<NodeInfo>) -> CycleState {
    let mut snapshot = crate::framework::Snapshot::from_nodes(nodes);
    snapshot.selecting = selecting_web();
    CycleState::new(Arc::new(snapshot))
}

#[test]
fn scores_soft_constraints() {
    let zone = LABEL_TOPOLOGY_ZONE;
    let sa = "ScheduleAnyway";
    let labels = json!({"app": "web"});
    let list_defaults = PodTopologySpreadArgs::from_json(Some(&json!({
        "defaultingType": "List",
        "defaultConstraints": [{"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "ScheduleAnyway"}]
    }))).expect("args");
    let cases: Vec<ScoreCase> = vec![
        (
            // zone a: 2 pods × ln 4 ≈ 2.77 → 3; zone b: 1.39 → 1; reversed min–max.
            "zones",
            PodTopologySpread::default(),
            with_constraints(labels.clone(), vec![tsc(zone, 1, sa, json!({}))], json!({})),
            vec![0, 1, 2, 3],
            Some(vec![33, 33, 100, 100]),
        ),
        (
            "a node without the key is not scored",
            PodTopologySpread::default(),
            with_constraints(labels.clone(), vec![tsc(zone, 1, sa, json!({}))], json!({})),
            vec![0, 2, 4],
            Some(vec![33, 100, 0]),
        ),
        (
            // hosts: ln 6 ≈ 1.79 per pod: a1 4, a2 0, b1 2, b2 0.
            "hosts",
            PodTopologySpread::default(),
            with_constraints(
                labels.clone(),
                vec![tsc(LABEL_HOSTNAME, 1, sa, json!({}))],
                json!({}),
            ),
            vec![0, 1, 2, 3],
            Some(vec![0, 100, 50, 100]),
        ),
        (
            "pods on infeasible nodes of a feasible node's zone count",
            PodTopologySpread::default(),
            with_constraints(labels.clone(), vec![tsc(zone, 1, sa, json!({}))], json!({})),
            vec![1, 3],
            Some(vec![33, 100]),
        ),
        (
            "maxSkew waters differences down",
            PodTopologySpread::default(),
            with_constraints(labels.clone(), vec![tsc(zone, 5, sa, json!({}))], json!({})),
            vec![1, 3],
            // a: 2.77 + 4 → 7, b: 1.39 + 4 → 5: 100 × (7 + 5 − s) / 7.
            Some(vec![71, 100]),
        ),
        (
            "no pods anywhere match: every node gets 100",
            PodTopologySpread::default(),
            with_constraints(
                json!({}),
                vec![
                    json!({"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": sa, "labelSelector": {"matchLabels": {"app": "none"}}}),
                ],
                json!({}),
            ),
            vec![0, 2],
            Some(vec![100, 100]),
        ),
        (
            "only DoNotSchedule: skipped",
            PodTopologySpread::default(),
            with_constraints(
                labels.clone(),
                vec![tsc(zone, 1, "DoNotSchedule", json!({}))],
                json!({}),
            ),
            vec![0, 2],
            None,
        ),
        (
            "system defaults for a pod nothing selects: skipped",
            PodTopologySpread::default(),
            p("in", "default", json!({"app": "other"}), json!({})),
            vec![0, 2, 4],
            None,
        ),
        (
            // hosts (maxSkew 3, ln 5) + zones (maxSkew 5, 3 values incl. "" → ln 5):
            // a1 12, b1 9, x1 (no zone: hosts only) 2.
            "system defaults with a service selecting the pod; no zone still scored",
            PodTopologySpread::default(),
            web("in"),
            vec![0, 2, 4],
            Some(vec![16, 41, 100]),
        ),
        (
            "listed defaults require every key",
            PodTopologySpread::new(list_defaults),
            web("in"),
            vec![0, 2, 4],
            Some(vec![33, 100, 0]),
        ),
        (
            "own constraints win over defaults",
            PodTopologySpread::default(),
            with_constraints(
                labels.clone(),
                vec![tsc(LABEL_HOSTNAME, 1, sa, json!({}))],
                json!({}),
            ),
            vec![0, 1, 2, 3],
            Some(vec![0, 100, 50, 100]),
        ),
    ];
    for (name, pl, pod, feasible, want) in cases {
        let mut state = web_state(cluster(false));
        assert_eq!(scores(&pl, &mut state, &pod, &feasible), want, "{name}");
    }
}

#[test]
fn hard_list_defaults_apply_to_selected_pods() {
    let args = PodTopologySpreadArgs::from_json(Some(&json!({
        "defaultingType": "List",
        "defaultConstraints": [{"maxSkew": 1, "topologyKey": LABEL_TOPOLOGY_ZONE, "whenUnsatisfiable": "DoNotSchedule"}]
    }))).expect("args");
    let pl = PodTopologySpread::new(args);
    // Nothing selects the pod: no default constraint applies.
    let mut state = state_with(cluster(false));
    assert_eq!(filter_all(&pl, &mut state, &web("in")), None);
    let mut state = web_state(cluster(false));
    assert_eq!(
        filter_all(&pl, &mut state, &web("in")),
        Some(vec!["skew", "skew", "ok", "ok", "label"])
    );
}

#[test]
fn plugin_surface() {
    let pl = PodTopologySpread::default();
    assert_eq!(pl.name(), "PodTopologySpread");
    assert!(pl.as_pre_filter().is_some() && pl.as_filter().is_some());
    assert!(pl.as_pre_score().is_some() && pl.as_score().is_some());
    assert!(pl.events().contains(&ClusterEvent::NodeUpdate));
    let keys: Vec<(&str, i32)> = pl
        .default_constraints()
        .iter()
        .map(|c| (c.topology_key.as_str(), c.max_skew))
        .collect();
    assert_eq!(keys, [(LABEL_HOSTNAME, 3), (LABEL_TOPOLOGY_ZONE, 5)]);
    assert!(PodTopologySpread::from_json(Some(&json!({"defaultingType": "Nope"}))).is_err());
}

#[test]
fn many_nodes_take_the_parallel_path() {
    // 3000 hosts in 3 zones; zone z0 holds one extra web pod.
    let nodes: Vec<NodeInfo> = (0..3000)
        .map(|i| {
            let pods = if i == 0 { vec![web("w0")] } else { vec![] };
            zoned(&format!("n{i}"), &format!("z{}", i % 3), Value::Null, pods)
        })
        .collect();
    let pod = with_constraints(
        json!({"app": "web"}),
        vec![tsc(LABEL_TOPOLOGY_ZONE, 1, "DoNotSchedule", json!({}))],
        json!({}),
    );
    let mut state = state_with(nodes);
    let got = filter_all(&PodTopologySpread::default(), &mut state, &pod).expect("not skipped");
    for (i, s) in got.iter().enumerate() {
        assert_eq!(*s, if i % 3 == 0 { "skew" } else { "ok" }, "n{i}");
    }
}

/// Filter verdicts and scores over every node, for comparing plugins.
fn outcome(
    pl: &PodTopologySpread,
    snapshot: &Arc<crate::framework::Snapshot>,
    pod: &PodInfo,
) -> String {
    let mut state = CycleState::new(snapshot.clone());
    let (_, status) = pl.pre_filter(&mut state, pod);
    let verdicts: Vec<String> = if status.is_success() {
        snapshot
            .nodes
            .iter()
            .map(|n| format!("{:?}", pl.filter(&state, pod, n).code))
            .collect()
    } else {
        vec![format!("{:?}", status.code)]
    };
    let nodes = snapshot.nodes.clone();
    let scored = if pl.pre_score(&mut state, pod, &nodes).is_success() {
        let mut out: Vec<NodeScore> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeScore {
                node: i,
                score: pl.score(&state, pod, n).expect("score"),
            })
            .collect();
        assert!(pl.normalize(&state, pod, &mut out).is_success());
        out.into_iter().map(|s| s.score).collect()
    } else {
        Vec::new()
    };
    format!("{verdicts:?} {scored:?}")
}

#[test]
fn cached_counts_follow_snapshot_changes() {
    let mut snapshot = crate::framework::Snapshot::from_nodes(cluster(false));
    snapshot.selecting = selecting_web();
    let pods = [
        with_constraints(
            json!({"app": "web"}),
            vec![
                tsc(LABEL_TOPOLOGY_ZONE, 1, "DoNotSchedule", json!({})),
                tsc(LABEL_TOPOLOGY_ZONE, 1, "ScheduleAnyway", json!({})),
                tsc(LABEL_HOSTNAME, 1, "ScheduleAnyway", json!({})),
            ],
            json!({}),
        ),
        with_constraints(
            json!({"app": "web"}),
            vec![tsc(
                LABEL_HOSTNAME,
                1,
                "DoNotSchedule",
                json!({"minDomains": 5}),
            )],
            json!({"nodeSelector": {LABEL_TOPOLOGY_ZONE: "a"}}),
        ),
        web("plain"),
    ];
    let cached = PodTopologySpread::default();
    let fresh = || PodTopologySpread::default();
    let steps: Vec<Vec<(usize, NodeInfo)>> = vec![
        vec![],
        vec![(1, zoned("a2", "a", Value::Null, vec![web("w4")]))],
        vec![(0, zoned("a1", "a", Value::Null, vec![]))],
        vec![
            (3, zoned("b2", "c", Value::Null, vec![web("w5")])),
            (4, zoned("x1", "b", Value::Null, vec![])),
        ],
        vec![(2, zoned("b1", "", Value::Null, vec![web("w3")]))],
    ];
    for (step, changes) in steps.into_iter().enumerate() {
        for (i, n) in changes {
            snapshot.replace(i, Arc::new(n));
        }
        let snap = Arc::new(snapshot.clone());
        for pod in &pods {
            assert_eq!(
                outcome(&cached, &snap, pod),
                outcome(&fresh(), &snap, pod),
                "step {step}, pod {:?}",
                pod.spec().topology_spread_constraints
            );
        }
    }
}
