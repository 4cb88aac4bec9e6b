//! Table-driven tests: Filter across zones/hosts, symmetry, namespaces, add/remove-pod, scores.

use std::sync::Arc;

use serde_json::{Value, json};

use super::filtering::{PRE_FILTER_STATE_KEY, PreFilterState};
use super::*;
use crate::framework::{Code, CycleState, NodeInfo, NodeScore, Status};
use crate::plugins::testing::{arc_pod, node_with, state_with_namespaces};

/// Name, incoming pod, expected short statuses (`None`: skipped).
type FilterCase = (&'static str, Arc<PodInfo>, Option<Vec<&'static str>>);
/// Name, args, nodes, incoming pod, expected normalized scores (`None`: skipped).
type ScoreCase = (
    &'static str,
    InterPodAffinityArgs,
    Vec<NodeInfo>,
    Arc<PodInfo>,
    Option<Vec<i64>>,
);

const ZONE: &str = "topology.kubernetes.io/zone";
const HOST: &str = "kubernetes.io/hostname";

/// A node `name` in `zone` (no zone label when `zone` is empty) with `pods`.
fn zoned(name: &str, zone: &str, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
    let mut labels = json!({HOST: name});
    if !zone.is_empty() {
        labels[ZONE] = zone.into();
    }
    node_with(json!({"metadata": {"name": name, "labels": labels}}), pods)
}

/// A pod `name` in `ns` with `labels` and `affinity` (`null`: none).
fn p(name: &str, ns: &str, labels: Value, affinity: Value) -> Arc<PodInfo> {
    arc_pod(json!({
        "metadata": {"name": name, "namespace": ns, "uid": name, "labels": labels},
        "spec": {"containers": [], "affinity": affinity}
    }))
}

/// A term selecting `app=<app>` over `topology`, with extra fields merged in.
fn term(app: &str, topology: &str, extra: Value) -> Value {
    let mut t = json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": topology});
    if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(extra.clone());
    }
    t
}

fn required_affinity(t: Value) -> Value {
    json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}})
}

fn required_anti_affinity(t: Value) -> Value {
    json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}})
}

fn preferred(kind: &str, weight: i32, t: Value) -> Value {
    json!({kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "podAffinityTerm": t}
    ]}})
}

fn namespaces() -> Vec<(&'static str, Value)> {
    vec![
        ("default", json!({"team": "a"})),
        ("ns-a", json!({"team": "a"})),
        ("ns-b", json!({"team": "b"})),
    ]
}

/// Runs PreFilter then Filter on every node; `None` means the PreFilter skipped the plugin.
fn filter_all(pl: &InterPodAffinity, state: &mut CycleState, pod: &PodInfo) -> Option<Vec<Status>> {
    let (_, status) = pl.pre_filter(state, pod);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let nodes = state.snapshot().nodes.clone();
    Some(nodes.iter().map(|n| pl.filter(state, pod, n)).collect())
}

/// Compact form of filter statuses: "ok", "aff", "anti", "existing".
fn short(statuses: &[Status]) -> Vec<&'static str> {
    statuses
        .iter()
        .map(|s| match (s.code, s.reasons.first().map(|r| r.as_ref())) {
            (Code::Success, _) => "ok",
            (Code::UnschedulableAndUnresolvable, Some(ERR_REASON_AFFINITY_RULES_NOT_MATCH)) => {
                "aff"
            }
            (Code::Unschedulable, Some(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)) => "anti",
            (Code::Unschedulable, Some(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)) => {
                "existing"
            }
            _ => panic!("unexpected status {s:?}"),
        })
        .collect()
}

fn db(name: &str, ns: &str) -> Arc<PodInfo> {
    p(name, ns, json!({"app": "db"}), Value::Null)
}

fn web(name: &str) -> Arc<PodInfo> {
    p(name, "default", json!({"app": "web"}), Value::Null)
}

#[test]
fn filter_required_terms_across_zones_and_hosts() {
    // Nodes: n1 (zone a, a db pod), n2 (zone a), n3 (zone b, a web pod), n4 (no zone label).
    let cluster = || {
        vec![
            zoned("n1", "a", vec![db("db1", "default")]),
            zoned("n2", "a", vec![]),
            zoned("n3", "b", vec![web("web1")]),
            zoned("n4", "", vec![]),
        ]
    };
    let cases: Vec<FilterCase> = vec![
        ("no terms anywhere: skipped", web("in"), None),
        (
            "affinity to db in the zone",
            p(
                "in",
                "default",
                json!({}),
                required_affinity(term("db", ZONE, json!({}))),
            ),
            Some(vec!["ok", "ok", "aff", "aff"]),
        ),
        (
            "affinity to db on the host",
            p(
                "in",
                "default",
                json!({}),
                required_affinity(term("db", HOST, json!({}))),
            ),
            Some(vec!["ok", "aff", "aff", "aff"]),
        ),
        (
            "affinity to a pod that does not exist",
            p(
                "in",
                "default",
                json!({}),
                required_affinity(term("cache", ZONE, json!({}))),
            ),
            Some(vec!["aff", "aff", "aff", "aff"]),
        ),
        (
            "affinity to itself with no match in the cluster: any node with the key",
            p(
                "in",
                "default",
                json!({"app": "cache"}),
                required_affinity(term("cache", ZONE, json!({}))),
            ),
            Some(vec!["ok", "ok", "ok", "aff"]),
        ),
        (
            "affinity to itself once a match exists: only that domain",
            p(
                "in",
                "default",
                json!({"app": "db"}),
                required_affinity(term("db", ZONE, json!({}))),
            ),
            Some(vec!["ok", "ok", "aff", "aff"]),
        ),
        (
            "affinity to db in another namespace named explicitly: no match",
            p(
                "in",
                "default",
                json!({}),
                required_affinity(term("db", ZONE, json!({"namespaces": ["ns-a"]}))),
            ),
            Some(vec!["aff", "aff", "aff", "aff"]),
        ),
        (
            "anti-affinity to web on the host",
            p(
                "in",
                "default",
                json!({}),
                required_anti_affinity(term("web", HOST, json!({}))),
            ),
            Some(vec!["ok", "ok", "anti", "ok"]),
        ),
        (
            "anti-affinity to db in the zone; nodes without the key are fine",
            p(
                "in",
                "default",
                json!({}),
                required_anti_affinity(term("db", ZONE, json!({}))),
            ),
            Some(vec!["anti", "anti", "ok", "ok"]),
        ),
        (
            "anti-affinity to nothing present",
            p(
                "in",
                "default",
                json!({}),
                required_anti_affinity(term("cache", ZONE, json!({}))),
            ),
            Some(vec!["ok", "ok", "ok", "ok"]),
        ),
    ];
    for (name, pod, want) in cases {
        let mut state = state_with_namespaces(cluster(), &namespaces());
        let got = filter_all(&InterPodAffinity::default(), &mut state, &pod);
        assert_eq!(got.as_deref().map(short), want, "{name}");
    }
}

#[test]
fn filter_existing_pods_anti_affinity_symmetry() {
    // n1 (zone a) holds a pod that refuses app=web in its zone; n3 (zone b) one that refuses
    // app=web on its host, but only for pods in namespaces labelled team=b.
    let guard = p(
        "guard",
        "default",
        json!({"app": "guard"}),
        required_anti_affinity(term("web", ZONE, json!({}))),
    );
    let guard_b = p(
        "guard-b",
        "ns-b",
        json!({}),
        required_anti_affinity(term(
            "web",
            HOST,
            json!({"namespaceSelector": {"matchLabels": {"team": "b"}}}),
        )),
    );
    let cluster = || {
        vec![
            zoned("n1", "a", vec![guard.clone()]),
            zoned("n2", "a", vec![]),
            zoned("n3", "b", vec![guard_b.clone()]),
        ]
    };
    let cases = [
        (
            "web in default: zone a refused",
            web("in"),
            Some(vec!["existing", "existing", "ok"]),
        ),
        (
            "web in ns-b: zone a is only for the default namespace; n3 refuses team=b",
            p("in", "ns-b", json!({"app": "web"}), Value::Null),
            Some(vec!["ok", "ok", "existing"]),
        ),
        ("not web: skipped", db("in", "default"), None),
    ];
    for (name, pod, want) in cases {
        let mut state = state_with_namespaces(cluster(), &namespaces());
        let got = filter_all(&InterPodAffinity::default(), &mut state, &pod);
        assert_eq!(got.as_deref().map(short), want, "{name}");
    }
}

#[test]
fn filter_namespace_selector_of_the_incoming_pod() {
    // db pods in ns-a (team=a) on n1 and in ns-b (team=b) on n2.
    let cluster = || {
        vec![
            zoned("n1", "a", vec![db("db-a", "ns-a")]),
            zoned("n2", "b", vec![db("db-b", "ns-b")]),
            zoned("n3", "c", vec![]),
        ]
    };
    let cases = [
        (
            "team=a namespaces",
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
            vec!["anti", "ok", "ok"],
        ),
        (
            "every namespace",
            json!({"namespaceSelector": {}}),
            vec!["anti", "anti", "ok"],
        ),
        (
            "named namespace plus selector",
            json!({"namespaces": ["ns-b"], "namespaceSelector": {"matchLabels": {"team": "x"}}}),
            vec!["ok", "anti", "ok"],
        ),
        ("own namespace only", json!({}), vec!["ok", "ok", "ok"]),
    ];
    for (name, extra, want) in cases {
        let pod = p(
            "in",
            "default",
            json!({}),
            required_anti_affinity(term("db", HOST, extra)),
        );
        let mut state = state_with_namespaces(cluster(), &namespaces());
        let got = filter_all(&InterPodAffinity::default(), &mut state, &pod).expect(name);
        assert_eq!(short(&got), want, "{name}");
    }
}

#[test]
fn add_and_remove_pod_update_the_counts() {
    let guard = p(
        "guard",
        "default",
        json!({}),
        required_anti_affinity(term("web", HOST, json!({}))),
    );
    let web1 = web("web1");
    let nodes = vec![
        zoned("n1", "a", vec![web1.clone()]),
        zoned("n2", "a", vec![guard.clone()]),
        zoned("n3", "b", vec![db("db1", "default")]),
    ];
    // The incoming pod is a web pod that avoids other web pods on the same host and wants a db
    // pod in its zone.
    let mut affinity = required_anti_affinity(term("web", HOST, json!({})));
    affinity["podAffinity"] = required_affinity(term("db", ZONE, json!({})))["podAffinity"].clone();
    let pod = p("in", "default", json!({"app": "web"}), affinity);
    let pl = InterPodAffinity::default();
    let mut state = state_with_namespaces(nodes, &namespaces());
    let got = filter_all(&pl, &mut state, &pod).expect("not skipped");
    assert_eq!(short(&got), ["aff", "aff", "ok"]);

    let n: Vec<Arc<NodeInfo>> = state.snapshot().nodes.clone();
    let run = |state: &CycleState| -> Vec<&'static str> {
        short(
            &n.iter()
                .map(|node| pl.filter(state, &pod, node))
                .collect::<Vec<_>>(),
        )
    };
    // Preemption simulates on copies: the original is untouched.
    let mut copy = state.clone();
    assert!(
        pl.add_pod(&mut copy, &pod, &db("db2", "default"), &n[0])
            .is_success()
    );
    assert_eq!(run(&copy), ["anti", "existing", "ok"]);
    assert!(pl.remove_pod(&mut copy, &pod, &web1, &n[0]).is_success());
    assert_eq!(run(&copy), ["ok", "existing", "ok"]);
    assert!(pl.remove_pod(&mut copy, &pod, &guard, &n[1]).is_success());
    assert_eq!(run(&copy), ["ok", "ok", "ok"]);
    assert!(
        pl.add_pod(&mut copy, &pod, &web("web2"), &n[2])
            .is_success()
    );
    assert_eq!(run(&copy), ["ok", "ok", "anti"]);
    assert_eq!(run(&state), ["aff", "aff", "ok"]);

    // Removing the only db pod brings back the "no pod matches" case; the incoming pod does
    // not match its own affinity, so nothing fits.
    let mut copy = state.clone();
    assert!(
        pl.remove_pod(&mut copy, &pod, &db("db1", "default"), &n[2])
            .is_success()
    );
    let s = copy
        .read::<PreFilterState>(PRE_FILTER_STATE_KEY)
        .expect("state");
    assert!(s.incoming.affinity.is_empty());
    assert_eq!(run(&copy), ["aff", "aff", "aff"]);
}

#[test]
fn missing_state_is_an_error_and_parse_errors_are_unresolvable() {
    let pl = InterPodAffinity::default();
    let mut state = state_with_namespaces(vec![zoned("n1", "a", vec![])], &[]);
    let node = state.snapshot().nodes[0].clone();
    let pod = web("in");
    assert_eq!(pl.filter(&state, &pod, &node).code, Code::Error);
    assert_eq!(pl.score(&state, &pod, &node).unwrap_err().code, Code::Error);
    let bad = p(
        "bad",
        "default",
        json!({}),
        required_affinity(
            json!({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, "topologyKey": ZONE}),
        ),
    );
    let (_, status) = pl.pre_filter(&mut state, &bad);
    assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
    assert!(status.message().starts_with("parsing pod: "), "{status:?}");
}

/// Runs PreScore, Score and normalization over every node; `None` means PreScore skipped.
fn scores(pl: &InterPodAffinity, state: &mut CycleState, pod: &PodInfo) -> Option<Vec<i64>> {
    let nodes = state.snapshot().nodes.clone();
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

#[test]
fn scores_preferred_terms_and_symmetry() {
    let likes_web = p(
        "likes-web",
        "default",
        json!({}),
        preferred("podAffinity", 5, term("web", ZONE, json!({}))),
    );
    let needs_web = p(
        "needs-web",
        "default",
        json!({}),
        required_affinity(term("web", ZONE, json!({}))),
    );
    let hates_web = p(
        "hates-web",
        "default",
        json!({}),
        preferred("podAntiAffinity", 10, term("web", HOST, json!({}))),
    );
    // n1, n2 in zone a; n3 in zone b; n4 in zone c.
    let cluster = |a: Vec<Arc<PodInfo>>, b: Vec<Arc<PodInfo>>, c: Vec<Arc<PodInfo>>| {
        vec![
            zoned("n1", "a", a),
            zoned("n2", "a", vec![]),
            zoned("n3", "b", b),
            zoned("n4", "c", c),
        ]
    };
    let default = InterPodAffinityArgs::default();
    let cases: Vec<ScoreCase> = vec![
        (
            "nothing to score",
            default,
            cluster(vec![db("db1", "default")], vec![], vec![]),
            web("in"),
            None,
        ),
        (
            "incoming prefers db in its zone",
            default,
            cluster(vec![db("db1", "default")], vec![], vec![]),
            p(
                "in",
                "default",
                json!({}),
                preferred("podAffinity", 10, term("db", ZONE, json!({}))),
            ),
            Some(vec![100, 100, 0, 0]),
        ),
        (
            "incoming prefers to avoid db: min-max over negative scores",
            default,
            cluster(
                vec![db("db1", "default")],
                vec![db("db2", "default"), db("db3", "default")],
                vec![],
            ),
            p(
                "in",
                "default",
                json!({}),
                preferred("podAntiAffinity", 10, term("db", ZONE, json!({}))),
            ),
            Some(vec![50, 50, 0, 100]),
        ),
        (
            "existing pods' preferred affinity and anti-affinity (symmetry)",
            default,
            cluster(vec![likes_web.clone()], vec![], vec![hates_web.clone()]),
            web("in"),
            Some(vec![100, 100, 66, 0]),
        ),
        (
            "existing pod's required affinity weighs hardPodAffinityWeight",
            InterPodAffinityArgs {
                hard_pod_affinity_weight: 10,
                ..default
            },
            cluster(vec![likes_web.clone()], vec![needs_web.clone()], vec![]),
            web("in"),
            Some(vec![50, 50, 100, 0]),
        ),
        (
            "hardPodAffinityWeight 0 ignores required terms",
            InterPodAffinityArgs {
                hard_pod_affinity_weight: 0,
                ..default
            },
            cluster(vec![], vec![needs_web.clone()], vec![]),
            web("in"),
            None,
        ),
        (
            "ignorePreferredTermsOfExistingPods without own preferred terms: skipped",
            InterPodAffinityArgs {
                ignore_preferred_terms_of_existing_pods: true,
                ..default
            },
            cluster(vec![likes_web.clone()], vec![], vec![]),
            web("in"),
            None,
        ),
        (
            "ignorePreferredTermsOfExistingPods only skips pods without preferred terms",
            InterPodAffinityArgs {
                ignore_preferred_terms_of_existing_pods: true,
                ..default
            },
            cluster(vec![likes_web.clone()], vec![db("db1", "default")], vec![]),
            p(
                "in",
                "default",
                json!({"app": "web"}),
                preferred("podAffinity", 10, term("db", ZONE, json!({}))),
            ),
            Some(vec![50, 50, 100, 0]),
        ),
    ];
    for (name, args, nodes, pod, want) in cases {
        let mut state = state_with_namespaces(nodes, &namespaces());
        let got = scores(&InterPodAffinity::new(args), &mut state, &pod);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn scores_respect_namespace_selectors() {
    // An existing pod in ns-b prefers web pods from team=a namespaces.
    let picky = p(
        "picky",
        "ns-b",
        json!({}),
        preferred(
            "podAffinity",
            7,
            term(
                "web",
                ZONE,
                json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
            ),
        ),
    );
    let nodes = || {
        vec![
            zoned("n1", "a", vec![picky.clone()]),
            zoned("n2", "b", vec![]),
        ]
    };
    let cases = [
        (
            "web in team=a namespace",
            p("in", "ns-a", json!({"app": "web"}), Value::Null),
            Some(vec![100, 0]),
        ),
        (
            "web in team=b namespace",
            p("in", "ns-b", json!({"app": "web"}), Value::Null),
            None, // The term does not match: nothing to score.
        ),
        (
            "web in an unknown namespace",
            p("in", "ns-x", json!({"app": "web"}), Value::Null),
            None,
        ),
    ];
    for (name, pod, want) in cases {
        let mut state = state_with_namespaces(nodes(), &namespaces());
        let got = scores(&InterPodAffinity::default(), &mut state, &pod);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn plugin_surface() {
    let pl = InterPodAffinity::default();
    assert_eq!(pl.name(), "InterPodAffinity");
    assert!(pl.as_pre_filter().is_some() && pl.as_filter().is_some());
    assert!(pl.as_pre_score().is_some() && pl.as_score().is_some());
    assert!(pl.events().contains(&ClusterEvent::NamespaceChange));
    assert_eq!(pl.args().hard_pod_affinity_weight, 1);
    assert!(InterPodAffinity::from_json(Some(&json!({"hardPodAffinityWeight": 200}))).is_err());
}

#[test]
fn many_nodes_take_the_parallel_path() {
    // 3000 hosts in 30 zones, one web pod on every third host; anti-affinity on the host.
    let nodes: Vec<NodeInfo> = (0..3000)
        .map(|i| {
            let pods = if i % 3 == 0 {
                vec![web(&format!("w{i}"))]
            } else {
                vec![]
            };
            zoned(&format!("n{i}"), &format!("z{}", i % 30), pods)
        })
        .collect();
    let pod = p(
        "in",
        "default",
        json!({"app": "web"}),
        required_anti_affinity(term("web", HOST, json!({}))),
    );
    let mut state = state_with_namespaces(nodes, &namespaces());
    let got = filter_all(&InterPodAffinity::default(), &mut state, &pod).expect("not skipped");
    let ok = got.iter().filter(|s| s.is_success()).count();
    assert_eq!(ok, 2000);
    for (i, s) in got.iter().enumerate() {
        assert_eq!(s.is_success(), i % 3 != 0, "n{i}");
    }
}

/// Counts and weights as PreFilter and PreScore leave them, for comparing plugins.
fn computed(
    pl: &InterPodAffinity,
    snapshot: &Arc<crate::framework::Snapshot>,
    pod: &PodInfo,
) -> String {
    let mut state = CycleState::new(snapshot.clone());
    let (_, status) = pl.pre_filter(&mut state, pod);
    let filter = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY).map(|s| {
        format!(
            "{:?} {:?}",
            sorted(&s.existing_anti_affinity),
            (
                sorted(&s.incoming.affinity),
                sorted(&s.incoming.anti_affinity)
            )
        )
    });
    let nodes = snapshot.nodes.clone();
    let score_status = pl.pre_score(&mut state, pod, &nodes);
    let score = state
        .read::<super::scoring::PreScoreState>(super::scoring::PRE_SCORE_STATE_KEY)
        .map(|s| format!("{:?}", sorted(&s.scores)));
    format!(
        "{:?} {filter:?} {:?} {score:?}",
        status.code, score_status.code
    )
}

fn sorted(c: &TopologyCounts) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for key in [ZONE, HOST] {
        for (v, n) in c.values(key).into_iter().flat_map(|m| m.iter()) {
            out.push((key.to_string(), v.clone(), *n));
        }
    }
    out.sort();
    out
}

#[test]
fn cached_totals_follow_snapshot_changes() {
    let guard = |name: &str| {
        p(name, "default", json!({"app": "guard"}), {
            let mut a = required_anti_affinity(term("web", HOST, json!({})));
            a["podAffinity"] =
                preferred("podAffinity", 3, term("web", ZONE, json!({})))["podAffinity"].clone();
            a
        })
    };
    let mut snapshot = crate::framework::Snapshot::from_nodes(vec![
        zoned("n1", "a", vec![guard("g1"), web("w1")]),
        zoned("n2", "a", vec![]),
        zoned("n3", "b", vec![web("w2")]),
        zoned("n4", "c", vec![guard("g2")]),
    ]);
    let mut affinity = required_anti_affinity(term("web", HOST, json!({})));
    affinity["podAffinity"] =
        preferred("podAffinity", 5, term("web", ZONE, json!({})))["podAffinity"].clone();
    let pods = [
        p("in", "default", json!({"app": "web"}), affinity),
        web("plain"),
    ];
    let cached = InterPodAffinity::default();
    let mut snap = Arc::new(snapshot.clone());
    // Each step: replace some nodes (new Arcs), as the scheduler cache does, then compare the
    // cached plugin with a fresh one for both pods.
    let steps: Vec<Vec<(usize, NodeInfo)>> = vec![
        vec![],
        vec![(1, zoned("n2", "a", vec![web("w3")]))],
        vec![(0, zoned("n1", "a", vec![web("w1")]))],
        vec![
            (3, zoned("n4", "b", vec![guard("g2")])),
            (2, zoned("n3", "b", vec![])),
        ],
        vec![(0, zoned("n1", "a", vec![guard("g1"), guard("g3")]))],
    ];
    for (step, changes) in steps.into_iter().enumerate() {
        for (i, n) in changes {
            snapshot.replace(i, Arc::new(n));
        }
        snapshot.refresh_affinity_lists();
        snap = Arc::new(snapshot.clone());
        for pod in &pods {
            let fresh = computed(&InterPodAffinity::default(), &snap, pod);
            assert_eq!(
                computed(&cached, &snap, pod),
                fresh,
                "step {step}, pod {}",
                pod.name
            );
        }
    }
    // The same snapshot again is served from the cache.
    assert_eq!(
        computed(&cached, &snap, &pods[0]),
        computed(&InterPodAffinity::default(), &snap, &pods[0])
    );
}
