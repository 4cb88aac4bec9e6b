use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};

use super::*;
use crate::framework::{Filter, PluginSet, PreFilter, PreFilterResult};
use crate::plugins::testing::{arc_pod, node_with, pod};

// --- Test-only plugins -------------------------------------------------------------------

/// Fits while the node's CPU requests plus the pod's stay within allocatable.
struct CpuFit;

impl Plugin for CpuFit {
    fn name(&self) -> &'static str {
        "CpuFit"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for CpuFit {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if node.requested.milli_cpu + pod.requests.milli_cpu > node.allocatable.milli_cpu {
            Status::unschedulable("Insufficient cpu")
        } else {
            Status::success()
        }
    }
}

/// Rejects nodes labelled `reject=true` for good (preemption cannot help).
struct Reject;

impl Plugin for Reject {
    fn name(&self) -> &'static str {
        "Reject"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for Reject {
    fn filter(&self, _state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        if node.labels().get("reject").is_some_and(|v| v == "true") {
            Status::unresolvable("node(s) were rejected")
        } else {
            Status::success()
        }
    }
}

/// A cluster-wide quota: at most 2 pods labelled `quota=yes`, counted in PreFilter and kept
/// up to date by the add/remove extensions (exercises the simulated cycle state).
struct Quota;

const QUOTA_KEY: &str = "Quota";

impl Plugin for Quota {
    fn name(&self) -> &'static str {
        QUOTA_KEY
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

fn in_quota(p: &PodInfo) -> bool {
    p.labels.get("quota").is_some_and(|v| v == "yes")
}

impl PreFilter for Quota {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        if !in_quota(pod) {
            return (None, Status::skip());
        }
        let count: usize = state
            .snapshot()
            .nodes
            .iter()
            .map(|n| n.pods.iter().filter(|p| in_quota(p)).count())
            .sum();
        state.write(QUOTA_KEY, count);
        (None, Status::success())
    }
    fn add_pod(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        added: &Arc<PodInfo>,
        _: &NodeInfo,
    ) -> Status {
        if in_quota(added)
            && let Some(c) = state.read_mut::<usize>(QUOTA_KEY)
        {
            *c += 1;
        }
        Status::success()
    }
    fn remove_pod(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        removed: &Arc<PodInfo>,
        _: &NodeInfo,
    ) -> Status {
        if in_quota(removed)
            && let Some(c) = state.read_mut::<usize>(QUOTA_KEY)
        {
            *c -= 1;
        }
        Status::success()
    }
}

impl Filter for Quota {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, _node: &NodeInfo) -> Status {
        match state.read::<usize>(QUOTA_KEY) {
            Some(c) if *c >= 2 => Status::unschedulable("quota exceeded"),
            Some(_) => Status::success(),
            None => Status::error("no quota state"),
        }
    }
}

// --- Builders ----------------------------------------------------------------------------

fn p(name: &str, priority: i32, cpu: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default", "uid": name},
        "spec": {
            "priority": priority,
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": {},
    })
}

fn label(mut v: Value, key: &str, value: &str) -> Value {
    v["metadata"]["labels"][key] = value.into();
    v
}

fn started(mut v: Value, at: &str) -> Value {
    v["status"]["startTime"] = at.into();
    v
}

fn nominated(mut v: Value, node: &str) -> Value {
    v["status"]["nominatedNodeName"] = node.into();
    v
}

fn terminating(mut v: Value, by_preemption: bool) -> Value {
    v["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z".into();
    if by_preemption {
        v["status"]["conditions"] = json!([{
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": REASON_PREEMPTION_BY_SCHEDULER,
        }]);
    }
    v
}

fn n(name: &str, cpu: &str, pods: Vec<Value>) -> NodeInfo {
    node_with(
        json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "pods": "110"}}}),
        pods.into_iter().map(arc_pod).collect(),
    )
}

fn rejected(name: &str, cpu: &str, pods: Vec<Value>) -> NodeInfo {
    let mut info = n(name, cpu, pods);
    let mut node = (*info.node).clone();
    node.metadata.labels = Some([("reject".to_string(), "true".to_string())].into());
    info.set_node(Arc::new(node));
    info
}

fn pdb(namespace: &str, app: &str, allowed: i32, disrupted: &[&str]) -> PodDisruptionBudget {
    let disrupted: serde_json::Map<String, Value> = disrupted
        .iter()
        .map(|p| (p.to_string(), "2025-01-01T00:00:00Z".into()))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("pdb-{app}"), "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": app}}},
        "status": {
            "disruptionsAllowed": allowed,
            "disruptedPods": disrupted,
            "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1,
        },
    }))
    .expect("pdb JSON")
}

fn framework(args: DefaultPreemptionArgs) -> Framework {
    Framework::new(
        "test",
        PluginSet {
            pre_filter: vec![Arc::new(Quota)],
            filter: vec![Arc::new(Reject), Arc::new(CpuFit), Arc::new(Quota)],
            post_filter: vec![Arc::new(DefaultPreemption::new(args))],
            ..PluginSet::default()
        },
    )
}

/// Runs a scheduling cycle's PreFilter and Filter like the scheduler, then preemption with
/// the dry run starting at `offset`. Messages get the prefix, as from `post_filter`.
fn run_at(
    nodes: Vec<NodeInfo>,
    pdbs: Vec<PodDisruptionBudget>,
    preemptor: Value,
    args: DefaultPreemptionArgs,
    offset: usize,
) -> (Option<PostFilterResult>, Status) {
    let fw = framework(args);
    let mut snapshot = Snapshot::from_nodes(nodes);
    snapshot.pdbs = Arc::new(pdbs);
    let mut state = CycleState::new(Arc::new(snapshot));
    let preemptor = pod(preemptor);
    let (_, status) = fw.run_pre_filter(&mut state, &preemptor);
    assert!(status.is_success(), "prefilter: {status:?}");
    let mut statuses = NodeStatuses::new();
    for node in &state.snapshot().nodes {
        let status = fw.run_filters(&state, &preemptor, node);
        if !status.is_success() {
            statuses.insert(node.name.clone(), status);
        }
    }
    assert!(
        statuses.len() == state.snapshot().nodes.len(),
        "the preemptor fits somewhere: {statuses:?}"
    );
    let plugin = DefaultPreemption::new(args);
    let (result, status) = plugin.preempt(&fw, &state, &preemptor, &statuses, |_| offset);
    let status = match status.message() {
        m if m.is_empty() => status,
        m => Status::new(status.code, format!("{MESSAGE_PREFIX}{m}")),
    };
    (result, status)
}

fn run(
    nodes: Vec<NodeInfo>,
    pdbs: Vec<PodDisruptionBudget>,
    preemptor: Value,
) -> (Option<PostFilterResult>, Status) {
    run_at(nodes, pdbs, preemptor, DefaultPreemptionArgs::default(), 0)
}

/// What a case expects: a node and its victims, or a failure message (and whether the pod's
/// nomination is to be cleared, i.e. a result without a node).
enum Want {
    Node(&'static str, &'static [&'static str]),
    Fail(&'static str, bool),
}

fn check(name: &str, got: (Option<PostFilterResult>, Status), want: Want) {
    let (result, status) = got;
    match want {
        Want::Node(node, victims) => {
            assert!(status.is_success(), "{name}: {status:?}");
            let result = result.unwrap_or_else(|| panic!("{name}: no result"));
            assert_eq!(result.nominated_node.as_deref(), Some(node), "{name}");
            let got: Vec<&str> = result.victims.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(got, victims, "{name}");
            assert!(result.clear_nominations.is_empty(), "{name}");
        }
        Want::Fail(message, clears) => {
            assert_eq!(status.code, Code::Unschedulable, "{name}: {status:?}");
            assert_eq!(status.message(), message, "{name}");
            match result {
                Some(r) => {
                    assert!(clears, "{name}: unexpected result {r:?}");
                    assert!(r.nominated_node.is_none() && r.victims.is_empty(), "{name}");
                }
                None => assert!(!clears, "{name}: expected a clearing result"),
            }
        }
    }
}

// --- Cases -------------------------------------------------------------------------------

#[test]
fn preemption_decisions() {
    let t0 = "2025-01-01T00:00:00Z";
    let t1 = "2025-01-01T01:00:00Z";
    let db = |name: &str, prio: i32, cpu: &str| label(p(name, prio, cpu), "app", "db");
    let high = p("high", 100, "1");
    type Case = (
        &'static str,
        Vec<NodeInfo>,
        Vec<PodDisruptionBudget>,
        Value,
        Want,
    );
    let cases: Vec<Case> = vec![
        (
            "the node whose victims have the lowest priority",
            vec![
                n("n1", "1", vec![p("a", 10, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![],
            high.clone(),
            Want::Node("n2", &["b"]),
        ),
        (
            "higher-priority pods are given back first: minimal victims",
            vec![n(
                "n1",
                "3",
                vec![p("a", 1, "1"), p("c", 3, "1"), p("b", 2, "1")],
            )],
            vec![],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "victims are ordered most important first",
            vec![n(
                "n1",
                "3",
                vec![p("a", 1, "1"), p("c", 3, "1"), p("b", 2, "1")],
            )],
            vec![],
            p("big", 100, "3"),
            Want::Node("n1", &["c", "b", "a"]),
        ),
        (
            "equal highest priority: the smaller priority sum",
            vec![
                n("n1", "1", vec![p("a1", 1, "500m"), p("a2", 1, "500m")]),
                n("n2", "1", vec![p("b", 1, "1")]),
            ],
            vec![],
            high.clone(),
            Want::Node("n2", &["b"]),
        ),
        (
            "equal priorities and counts: the latest start of the top victims",
            vec![
                n("n1", "1", vec![started(p("a", 1, "1"), t0)]),
                n("n2", "1", vec![started(p("b", 1, "1"), t1)]),
                n("n3", "1", vec![started(p("c", 1, "1"), t0)]),
            ],
            vec![],
            high.clone(),
            Want::Node("n2", &["b"]),
        ),
        (
            "without a PDB the least important pod goes",
            vec![n("n1", "2", vec![db("a", 1, "1"), p("b", 2, "1")])],
            vec![],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "a PDB-protected pod is given back first",
            vec![n("n1", "2", vec![db("a", 1, "1"), p("b", 2, "1")])],
            vec![pdb("default", "db", 0, &[])],
            high.clone(),
            Want::Node("n1", &["b"]),
        ),
        (
            "a node without PDB violations is preferred",
            vec![
                n("n1", "1", vec![db("a", 1, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![pdb("default", "db", 0, &[])],
            high.clone(),
            Want::Node("n2", &["b"]),
        ),
        (
            "a PDB with a disruption left does not protect",
            vec![
                n("n1", "1", vec![db("a", 1, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![pdb("default", "db", 1, &[])],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "a pod already in disruptedPods is no new violation",
            vec![
                n("n1", "1", vec![db("a", 1, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![pdb("default", "db", 0, &["a"])],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "a PDB of another namespace does not protect",
            vec![
                n("n1", "1", vec![db("a", 1, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![pdb("other", "db", 0, &[])],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "only PDB-violating candidates: still preempts",
            vec![n("n1", "1", vec![db("a", 1, "1")])],
            vec![pdb("default", "db", 0, &[])],
            high.clone(),
            Want::Node("n1", &["a"]),
        ),
        (
            "unresolvable nodes are skipped",
            vec![
                rejected("n1", "1", vec![p("a", 1, "1")]),
                n("n2", "1", vec![p("b", 5, "1")]),
            ],
            vec![],
            high.clone(),
            Want::Node("n2", &["b"]),
        ),
        (
            "nothing of lower priority",
            vec![
                n("n1", "1", vec![p("a", 100, "1")]),
                n("n2", "1", vec![p("b", 100, "1")]),
                n("n3", "1", vec![p("c", 200, "1")]),
            ],
            vec![],
            high.clone(),
            Want::Fail(
                "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
                true,
            ),
        ),
        (
            "unresolvable and no victims",
            vec![
                rejected("n1", "1", vec![p("a", 1, "1")]),
                n("n2", "1", vec![p("b", 200, "1")]),
            ],
            vec![],
            high.clone(),
            Want::Fail(
                "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
                true,
            ),
        ),
        (
            "every node unresolvable",
            vec![
                rejected("n1", "1", vec![p("a", 1, "1")]),
                rejected("n2", "1", vec![]),
            ],
            vec![],
            high.clone(),
            Want::Fail(
                "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
                true,
            ),
        ),
        (
            "does not fit even without the lower-priority pods",
            vec![n("n1", "2", vec![p("a", 1, "1"), p("keep", 1000, "1")])],
            vec![],
            p("big", 100, "1500m"),
            Want::Fail(
                "preemption: 0/1 nodes are available: 1 Insufficient cpu.",
                true,
            ),
        ),
        (
            "preemptionPolicy Never",
            vec![n("n1", "1", vec![p("a", 1, "1")])],
            vec![],
            {
                let mut v = high.clone();
                v["spec"]["preemptionPolicy"] = "Never".into();
                v
            },
            Want::Fail(
                "preemption: not eligible due to preemptionPolicy=Never.",
                false,
            ),
        ),
        (
            "a victim of an earlier preemption still terminating on the nominated node",
            vec![
                n("n1", "1", vec![terminating(p("a", 1, "1"), true)]),
                n("n2", "1", vec![p("b", 1, "1")]),
            ],
            vec![],
            nominated(high.clone(), "n1"),
            Want::Fail(
                "preemption: not eligible due to a terminating pod on the nominated node.",
                false,
            ),
        ),
        (
            "a pod deleted for another reason does not block",
            vec![n("n1", "1", vec![terminating(p("a", 1, "1"), false)])],
            vec![],
            nominated(high.clone(), "n1"),
            Want::Node("n1", &["a"]),
        ),
        (
            "a terminating pod of higher priority does not block",
            vec![n(
                "n1",
                "2",
                vec![terminating(p("x", 500, "1"), true), p("a", 1, "1")],
            )],
            vec![],
            nominated(high.clone(), "n1"),
            Want::Node("n1", &["a"]),
        ),
        (
            "a nominated node now unresolvable does not block",
            vec![
                rejected("n1", "1", vec![terminating(p("a", 1, "1"), true)]),
                n("n2", "1", vec![p("b", 1, "1")]),
            ],
            vec![],
            nominated(high.clone(), "n1"),
            Want::Node("n2", &["b"]),
        ),
        (
            "simulated PreFilter state: one quota pod goes, the other pods stay",
            vec![
                n(
                    "n1",
                    "4",
                    vec![label(p("q1", 1, "1"), "quota", "yes"), p("other", 1, "1")],
                ),
                n("n2", "4", vec![label(p("q2", 5, "1"), "quota", "yes")]),
            ],
            vec![],
            label(high.clone(), "quota", "yes"),
            Want::Node("n1", &["q1"]),
        ),
    ];
    for (name, nodes, pdbs, preemptor, want) in cases {
        check(name, run(nodes, pdbs, preemptor), want);
    }
}

#[test]
fn post_filter_prefixes_messages() {
    let fw = framework(DefaultPreemptionArgs::default());
    let state = CycleState::new(Arc::new(Snapshot::from_nodes(vec![n("n1", "1", vec![])])));
    let mut v = p("high", 100, "1");
    v["spec"]["preemptionPolicy"] = "Never".into();
    let (result, status) = fw.run_post_filter(&state, &pod(v), &NodeStatuses::new());
    assert!(result.is_none());
    assert_eq!(status.code, Code::Unschedulable);
    assert_eq!(status.plugin, NAME);
    assert_eq!(status.message(), format!("{MESSAGE_PREFIX}{MSG_NEVER}"));
}

#[test]
fn post_filter_nominates() {
    let fw = framework(DefaultPreemptionArgs::default());
    let mut state = CycleState::new(Arc::new(Snapshot::from_nodes(vec![
        n("n1", "1", vec![p("a", 1, "1")]),
        n("n2", "1", vec![p("b", 2, "1")]),
    ])));
    let preemptor = pod(p("high", 100, "1"));
    assert!(fw.run_pre_filter(&mut state, &preemptor).1.is_success());
    let statuses: NodeStatuses = ["n1", "n2"]
        .into_iter()
        .map(|n| (n.to_string(), Status::unschedulable("Insufficient cpu")))
        .collect();
    for _ in 0..10 {
        let (result, status) = fw.run_post_filter(&state, &preemptor, &statuses);
        assert!(status.is_success(), "{status:?}");
        let result = result.expect("result");
        assert_eq!(result.nominated_node.as_deref(), Some("n1"));
        assert_eq!(result.victims.len(), 1);
    }
}

#[test]
fn dry_run_stops_after_enough_candidates() {
    // Ten identical nodes but for their victim's priority; n7's is the lowest.
    let nodes = || {
        (0..10)
            .map(|i| {
                let prio = if i == 7 { 1 } else { 50 - i };
                n(&format!("n{i}"), "1", vec![p(&format!("v{i}"), prio, "1")])
            })
            .collect::<Vec<_>>()
    };
    let args = DefaultPreemptionArgs {
        min_candidate_nodes_percentage: 0,
        min_candidate_nodes_absolute: 2,
    };
    let high = p("high", 100, "1");
    let cases = [
        // Only n0 and n1 are dry-run: n1 has the lower-priority victim.
        (0, Want::Node("n1", &["v1"])),
        (6, Want::Node("n7", &["v7"])),
        // Wraps around: n9 and n0.
        (9, Want::Node("n9", &["v9"])),
    ];
    for (offset, want) in cases {
        check(
            &format!("offset {offset}"),
            run_at(nodes(), vec![], high.clone(), args, offset),
            want,
        );
    }
    // All nodes are dry-run with the defaults (fewer than 100 nodes).
    for offset in [0, 3, 9] {
        let got = run_at(
            nodes(),
            vec![],
            high.clone(),
            DefaultPreemptionArgs::default(),
            offset,
        );
        check(
            &format!("defaults, offset {offset}"),
            got,
            Want::Node("n7", &["v7"]),
        );
    }
}

#[test]
fn dry_run_continues_until_a_non_violating_candidate() {
    // n0 and n1 only have PDB-protected victims; n2 and n3 have unprotected ones of higher
    // priority. With two candidates wanted, the dry run goes on to n2.
    let db = |name: &str, prio: i32| label(p(name, prio, "1"), "app", "db");
    let nodes = vec![
        n("n0", "1", vec![db("a", 1)]),
        n("n1", "1", vec![db("b", 1)]),
        n("n2", "1", vec![p("c", 20, "1")]),
        n("n3", "1", vec![p("d", 10, "1")]),
    ];
    let args = DefaultPreemptionArgs {
        min_candidate_nodes_percentage: 0,
        min_candidate_nodes_absolute: 2,
    };
    let got = run_at(
        nodes,
        vec![pdb("default", "db", 0, &[])],
        p("high", 100, "1"),
        args,
        0,
    );
    check(
        "stops at n2, before the better n3",
        got,
        Want::Node("n2", &["c"]),
    );
}

#[test]
fn many_nodes_run_in_parallel_batches_with_the_sequential_outcome() {
    let nodes: Vec<NodeInfo> = (0..200)
        .map(|i| {
            n(
                &format!("n{i:03}"),
                "1",
                vec![p(&format!("v{i:03}"), 1000 - i, "1")],
            )
        })
        .collect();
    // 10% of 200 = 20 < 100 absolute: 100 candidates from n050 on, so n149 (lowest) wins.
    let got = run_at(
        nodes,
        vec![],
        p("high", 2000, "1"),
        DefaultPreemptionArgs::default(),
        50,
    );
    check("window of 100", got, Want::Node("n149", &["v149"]));
}

#[test]
fn pick_one_node_order() {
    let now: Timestamp = "2025-06-01T00:00:00Z".parse().expect("timestamp");
    let victim = |prio: i32, start: Option<&str>| {
        let mut v = p("v", prio, "1");
        if let Some(s) = start {
            v = started(v, s);
        }
        arc_pod(v)
    };
    let c = |node: &str, pdb: usize, victims: Vec<Arc<PodInfo>>| Candidate {
        node: node.to_string(),
        victims,
        num_pdb_violations: pdb,
    };
    let t0 = Some("2025-01-01T00:00:00Z");
    let t1 = Some("2025-02-01T00:00:00Z");
    let cases: Vec<(&str, Vec<Candidate>, &str)> = vec![
        (
            "fewest PDB violations beats priority",
            vec![
                c("a", 1, vec![victim(1, t0)]),
                c("b", 0, vec![victim(9, t0)]),
            ],
            "b",
        ),
        (
            "lowest highest priority",
            vec![
                c("a", 0, vec![victim(9, t0)]),
                c("b", 0, vec![victim(5, t0), victim(1, t0)]),
            ],
            "b",
        ),
        (
            "negative priorities: fewer pods sum lower",
            vec![
                c("a", 0, vec![victim(-5, t0), victim(-5, t0)]),
                c("b", 0, vec![victim(-5, t0)]),
            ],
            "b",
        ),
        (
            "smallest sum",
            vec![
                c("a", 0, vec![victim(5, t0), victim(4, t0)]),
                c("b", 0, vec![victim(5, t0), victim(3, t0)]),
            ],
            "b",
        ),
        (
            "latest start of the highest-priority victims",
            vec![
                c("a", 0, vec![victim(5, t1), victim(5, t0)]),
                c("b", 0, vec![victim(5, t1), victim(5, t1)]),
            ],
            "b",
        ),
        (
            "a victim not started counts as now",
            vec![
                c("a", 0, vec![victim(5, t1)]),
                c("b", 0, vec![victim(5, None)]),
            ],
            "b",
        ),
        (
            "full tie: the first",
            vec![
                c("a", 0, vec![victim(5, t0)]),
                c("b", 0, vec![victim(5, t0)]),
            ],
            "a",
        ),
    ];
    for (name, candidates, want) in cases {
        let got = pick_one_node(&candidates, now);
        assert_eq!(candidates[got].node, want, "{name}");
    }
}

#[test]
fn args_are_decoded_and_validated() {
    let ok = |v: Value| DefaultPreemptionArgs::from_json(Some(&v));
    assert_eq!(
        DefaultPreemptionArgs::from_json(None),
        Ok(DefaultPreemptionArgs::default())
    );
    assert_eq!(
        ok(
            json!({"kind": "DefaultPreemptionArgs", "apiVersion": "kubescheduler.config.k8s.io/v1", "minCandidateNodesPercentage": 0})
        ),
        Ok(DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 0,
            min_candidate_nodes_absolute: 100
        })
    );
    assert_eq!(
        ok(json!({"minCandidateNodesPercentage": 100, "minCandidateNodesAbsolute": 0})),
        Ok(DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 100,
            min_candidate_nodes_absolute: 0
        })
    );
    let errors = [
        (
            json!({"minCandidateNodesPercentage": 101}),
            "minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]",
        ),
        (
            json!({"minCandidateNodesPercentage": -1}),
            "minCandidateNodesPercentage: Invalid value: -1: not in valid range [0, 100]",
        ),
        (
            json!({"minCandidateNodesAbsolute": -1}),
            "minCandidateNodesAbsolute: Invalid value: -1: not in valid range [0, inf)",
        ),
        (
            json!({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0}),
            "[minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute, minCandidateNodesAbsolute: Invalid value: 0: cannot be zero at the same time as minCandidateNodesPercentage]",
        ),
    ];
    for (v, want) in errors {
        assert_eq!(ok(v.clone()), Err(want.to_string()), "{v}");
    }
    for v in [
        json!({"minCandidateNodes": 1}),
        json!({"minCandidateNodesAbsolute": "x"}),
        json!([]),
    ] {
        let err = ok(v.clone()).expect_err("invalid");
        assert!(
            err.starts_with("decoding DefaultPreemptionArgs: "),
            "{v}: {err}"
        );
    }
}

#[test]
fn number_of_candidates() {
    let args = |pct, abs| DefaultPreemptionArgs {
        min_candidate_nodes_percentage: pct,
        min_candidate_nodes_absolute: abs,
    };
    let cases = [
        (args(10, 100), 50, 50),
        (args(10, 100), 5000, 500),
        (args(10, 100), 500, 100),
        (args(0, 3), 10, 3),
        (args(50, 0), 10, 5),
        (args(10, 0), 5, 0),
    ];
    for (a, nodes, want) in cases {
        assert_eq!(a.num_candidates(nodes), want, "{a:?} of {nodes}");
    }
}

#[test]
fn registered() {
    let factory = crate::plugins::factory(NAME).expect("registered");
    assert_eq!(factory(None).expect("defaults").name(), NAME);
    assert!(factory(Some(&json!({"minCandidateNodesPercentage": 200}))).is_err());
}

fn nominations(pods: &[(&str, Value)]) -> Arc<crate::framework::NominatedPods> {
    let mut by_node = crate::framework::NominatedPods::new();
    for (node, pod) in pods {
        by_node
            .entry(node.to_string())
            .or_default()
            .push(arc_pod(pod.clone()));
    }
    Arc::new(by_node)
}

#[test]
fn nominated_pods_of_equal_or_higher_priority_hold_their_room() {
    let fw = framework(DefaultPreemptionArgs::default());
    let mut base = CycleState::new(Arc::new(Snapshot::from_nodes(vec![n("n1", "2", vec![])])));
    base.set_nominated(nominations(&[("n1", p("waiting", 100, "1500m"))]));
    let node = base.snapshot().get("n1").expect("n1").clone();
    let filter = |pod: &PodInfo| {
        let mut state = base.clone();
        assert!(fw.run_pre_filter(&mut state, pod).1.is_success());
        fw.run_filters(&state, pod, &node)
    };
    for (priority, fits) in [(10, false), (100, false), (200, true)] {
        let status = filter(&pod(p(&format!("p{priority}"), priority, "1")));
        assert_eq!(status.is_success(), fits, "priority {priority}: {status:?}");
    }
    // The nominated pod itself is not counted against itself.
    assert!(filter(&pod(p("waiting", 100, "1500m"))).is_success());
}

#[test]
fn preemption_clears_lower_nominations_on_the_chosen_node() {
    let fw = framework(DefaultPreemptionArgs::default());
    let mut state = CycleState::new(Arc::new(Snapshot::from_nodes(vec![n(
        "n1",
        "1",
        vec![p("victim", 1, "1")],
    )])));
    state.set_nominated(nominations(&[
        ("n1", p("lower", 5, "100m")),
        ("n1", p("higher", 500, "0")),
    ]));
    let preemptor = pod(p("high", 100, "1"));
    assert!(fw.run_pre_filter(&mut state, &preemptor).1.is_success());
    let statuses: NodeStatuses = [("n1".to_string(), Status::unschedulable("Insufficient cpu"))]
        .into_iter()
        .collect();
    let (result, status) = fw.run_post_filter(&state, &preemptor, &statuses);
    assert!(status.is_success(), "{status:?}");
    let result = result.expect("result");
    assert_eq!(result.nominated_node.as_deref(), Some("n1"));
    let cleared: Vec<&str> = result
        .clear_nominations
        .iter()
        .map(|p| p.uid.as_str())
        .collect();
    assert_eq!(cleared, vec!["lower"]);
}
