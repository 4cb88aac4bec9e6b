//! NodeResourcesFit: a node fits a pod when it has room for one more pod and, for every
//! resource the pod requests (cpu, memory, ephemeral-storage, extended resources, huge pages),
//! what the node's pods already request plus the pod's request stays within allocatable. It
//! also scores nodes by how allocated they would be (`scoringStrategy`: LeastAllocated by
//! default, MostAllocated, RequestedToCapacityRatio), using non-zero requests for cpu/memory.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use rkube_api::status::FieldCause;
use rkube_api::validation::Path;
use rkube_api::validation::meta::validate_label_name;
use serde::Deserialize;
use serde_json::json;

use crate::framework::{
    ClusterEvent, Code, CycleState, Filter, NodeInfo, Plugin, PodInfo, PreFilter, PreFilterResult,
    PreScore, Resource, Score, Status,
};

use super::resource_scoring::{
    MAX_CUSTOM_PRIORITY_SCORE, ResourceAllocationScorer, ResourceSpec, ShapePoint, Strategy,
    aggregate, decode_args, default_resources, default_weights, is_extended_resource_name,
    is_scalar_resource_name,
};

/// The plugin's name.
pub const NAME: &str = "NodeResourcesFit";
/// The kind of its args object.
pub const ARGS_KIND: &str = "NodeResourcesFitArgs";
/// Why a node was rejected: it already runs as many pods as it allows.
pub const ERR_REASON_TOO_MANY_PODS: &str = "Too many pods";
/// Why a node was rejected: not enough CPU left.
pub const ERR_REASON_INSUFFICIENT_CPU: &str = "Insufficient cpu";
/// Why a node was rejected: not enough memory left.
pub const ERR_REASON_INSUFFICIENT_MEMORY: &str = "Insufficient memory";
/// Why a node was rejected: not enough local ephemeral storage left.
pub const ERR_REASON_INSUFFICIENT_EPHEMERAL_STORAGE: &str = "Insufficient ephemeral-storage";

/// The `scoringStrategy.type` values.
pub const LEAST_ALLOCATED: &str = "LeastAllocated";
/// Favors the most allocated nodes (bin packing).
pub const MOST_ALLOCATED: &str = "MostAllocated";
/// Scores by a configured utilization → score shape.
pub const REQUESTED_TO_CAPACITY_RATIO: &str = "RequestedToCapacityRatio";
const STRATEGIES: &[&str] = &[LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO];

const PRE_FILTER_KEY: &str = "PreFilterNodeResourcesFit";
const PRE_SCORE_KEY: &str = "PreScoreNodeResourcesFit";

/// Why a node was rejected for lack of resource `name` ("Insufficient <name>"; the pod count's
/// reason for `pods`).
pub fn insufficient(name: &str) -> Cow<'static, str> {
    match name {
        "cpu" => ERR_REASON_INSUFFICIENT_CPU.into(),
        "memory" => ERR_REASON_INSUFFICIENT_MEMORY.into(),
        "ephemeral-storage" => ERR_REASON_INSUFFICIENT_EPHEMERAL_STORAGE.into(),
        "pods" => ERR_REASON_TOO_MANY_PODS.into(),
        other => format!("Insufficient {other}").into(),
    }
}

/// `NodeResourcesFitArgs` as written in `pluginConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FitArgs {
    /// Extended resources the filter ignores.
    pub ignored_resources: Option<Vec<String>>,
    /// Extended-resource groups (the part before `/`) the filter ignores.
    pub ignored_resource_groups: Option<Vec<String>>,
    /// How nodes are scored.
    pub scoring_strategy: Option<ScoringStrategyArgs>,
}

/// `scoringStrategy`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringStrategyArgs {
    /// LeastAllocated, MostAllocated or RequestedToCapacityRatio (required when
    /// `scoringStrategy` is given).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// Resources to score and their weights (default cpu and memory, weight 1).
    pub resources: Option<Vec<ResourceSpec>>,
    /// The shape for RequestedToCapacityRatio.
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioArgs>,
}

/// `scoringStrategy.requestedToCapacityRatio`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestedToCapacityRatioArgs {
    /// Utilization → score points, sorted by utilization.
    #[serde(default)]
    pub shape: Vec<ShapePoint>,
}

/// A resource the node lacks for the pod (upstream's `InsufficientResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientResource {
    /// The resource (`pods` for the pod count).
    pub resource: String,
    /// The reason shown to users.
    pub reason: Cow<'static, str>,
    /// What the pod requests.
    pub requested: i64,
    /// What the node's pods already request.
    pub used: i64,
    /// What the node can give.
    pub capacity: i64,
}

/// Checks node resources against pod requests, and scores nodes by allocation.
pub struct NodeResourcesFit {
    ignored_resources: BTreeSet<String>,
    ignored_resource_groups: BTreeSet<String>,
    scorer: ResourceAllocationScorer,
}

impl NodeResourcesFit {
    /// Builds the plugin from its args (`None`: defaults), validating them as upstream does.
    pub fn new(args: Option<&serde_json::Value>) -> Result<NodeResourcesFit, String> {
        let args: FitArgs = decode_args(args, ARGS_KIND)?;
        let ignored_resources = args.ignored_resources.unwrap_or_default();
        let ignored_resource_groups = args.ignored_resource_groups.unwrap_or_default();
        let mut errs: Vec<FieldCause> = Vec::new();
        let path = Path::new("ignoredResources");
        for (i, r) in ignored_resources.iter().enumerate() {
            errs.extend(validate_label_name(r, &path.index(i)));
        }
        let path = Path::new("ignoredResourceGroups");
        for (i, g) in ignored_resource_groups.iter().enumerate() {
            if g.contains('/') {
                errs.push(FieldCause::invalid(
                    path.index(i),
                    &json!(g),
                    "resource group name can't contain '/'",
                ));
            }
            errs.extend(validate_label_name(g, &path.index(i)));
        }

        let (type_, resources, shape) = match args.scoring_strategy {
            None => (LEAST_ALLOCATED.to_string(), default_resources(), None),
            Some(s) => (
                s.type_,
                default_weights(s.resources),
                s.requested_to_capacity_ratio.map(|r| r.shape),
            ),
        };
        let path = Path::new("scoringStrategy");
        if !STRATEGIES.contains(&type_.as_str()) {
            errs.push(FieldCause::not_supported(
                path.child("type"),
                &json!(type_),
                STRATEGIES,
            ));
        }
        for (i, r) in resources.iter().enumerate() {
            if r.weight <= 0 || r.weight > 100 {
                errs.push(FieldCause::invalid(
                    path.child("resources").index(i).child("weight"),
                    &json!(r.weight),
                    format!("resource weight of {} not in valid range (0, 100]", r.name),
                ));
            }
        }
        let shape_path = path.child("shape");
        if let Some(shape) = &shape {
            errs.extend(validate_shape(shape, &shape_path));
        } else if type_ == REQUESTED_TO_CAPACITY_RATIO {
            // Upstream dereferences the missing shape; say what is missing instead.
            errs.push(FieldCause::required_detail(
                &shape_path,
                "at least one point must be specified",
            ));
        }
        aggregate(errs)?;

        let strategy = match type_.as_str() {
            MOST_ALLOCATED => Strategy::MostAllocated,
            REQUESTED_TO_CAPACITY_RATIO => {
                let scale = crate::framework::MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE;
                Strategy::RequestedToCapacityRatio(
                    shape
                        .unwrap_or_default()
                        .iter()
                        .map(|p| (i64::from(p.utilization), i64::from(p.score) * scale))
                        .collect(),
                )
            }
            _ => Strategy::LeastAllocated,
        };
        Ok(NodeResourcesFit {
            ignored_resources: ignored_resources.into_iter().collect(),
            ignored_resource_groups: ignored_resource_groups.into_iter().collect(),
            scorer: ResourceAllocationScorer {
                resources,
                strategy,
                use_requested: false,
            },
        })
    }

    /// Every resource `node` lacks for a pod requesting `request`, in upstream's order (pods,
    /// cpu, memory, ephemeral-storage, then other resources by name).
    pub fn insufficient_resources(
        &self,
        request: &Resource,
        node: &NodeInfo,
    ) -> Vec<InsufficientResource> {
        fits_request(
            request,
            node,
            &self.ignored_resources,
            &self.ignored_resource_groups,
        )
    }
}

/// Upstream's `validateFunctionShape`.
fn validate_shape(shape: &[ShapePoint], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if shape.is_empty() {
        errs.push(FieldCause::required_detail(
            path,
            "at least one point must be specified",
        ));
        return errs;
    }
    if let Some(i) = (1..shape.len()).find(|&i| shape[i - 1].utilization >= shape[i].utilization) {
        errs.push(FieldCause::invalid(
            path.index(i).child("utilization"),
            &json!(shape[i].utilization),
            "values must be sorted in increasing order",
        ));
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            errs.push(FieldCause::invalid(
                path.index(i).child("utilization"),
                &json!(p.utilization),
                "not in valid range [0, 100]",
            ));
        }
        if !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&i64::from(p.score)) {
            errs.push(FieldCause::invalid(
                path.index(i).child("score"),
                &json!(p.score),
                format!("not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]"),
            ));
        }
    }
    errs
}

/// Every resource `node` lacks for a pod requesting `request` (upstream's `fitsRequest`).
/// Resources the pod requests none of are never checked, so an overcommitted node still takes
/// pods that do not ask for the overcommitted resource.
pub fn fits_request(
    request: &Resource,
    node: &NodeInfo,
    ignored_resources: &BTreeSet<String>,
    ignored_resource_groups: &BTreeSet<String>,
) -> Vec<InsufficientResource> {
    let mut out = Vec::new();
    let allowed_pods = node.allocatable.allowed_pod_number;
    let pods = node.pods.len() as i64;
    if pods.saturating_add(1) > allowed_pods {
        out.push(InsufficientResource {
            resource: "pods".into(),
            reason: ERR_REASON_TOO_MANY_PODS.into(),
            requested: 1,
            used: pods,
            capacity: allowed_pods,
        });
    }
    let well_known = [
        (
            "cpu",
            request.milli_cpu,
            node.requested.milli_cpu,
            node.allocatable.milli_cpu,
        ),
        (
            "memory",
            request.memory,
            node.requested.memory,
            node.allocatable.memory,
        ),
        (
            "ephemeral-storage",
            request.ephemeral_storage,
            node.requested.ephemeral_storage,
            node.allocatable.ephemeral_storage,
        ),
    ];
    for (name, want, used, capacity) in well_known {
        if want > 0 && want > capacity.saturating_sub(used) {
            out.push(InsufficientResource {
                resource: name.into(),
                reason: insufficient(name),
                requested: want,
                used,
                capacity,
            });
        }
    }
    for (name, &want) in &request.scalar {
        if want == 0 || !is_scalar_resource_name(name) {
            continue;
        }
        if is_extended_resource_name(name) {
            let group = name.split('/').next().unwrap_or_default();
            if ignored_resources.contains(name) || ignored_resource_groups.contains(group) {
                continue;
            }
        }
        let capacity = node.allocatable.scalar.get(name).copied().unwrap_or(0);
        let used = node.requested.scalar.get(name).copied().unwrap_or(0);
        if want > capacity.saturating_sub(used) {
            out.push(InsufficientResource {
                resource: name.clone(),
                reason: insufficient(name),
                requested: want,
                used,
                capacity,
            });
        }
    }
    out
}

/// What PreFilter computed: the pod's requests.
#[derive(Clone, Debug)]
struct PreFilterState(Resource);

/// What PreScore computed: the pod's non-zero request of each scored resource.
#[derive(Clone, Debug)]
struct PreScoreState(Vec<i64>);

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // Freed resources (a pod went away or, with in-place resize, was scaled down) and
        // nodes added or grown. Upstream also registers node label/taint updates, which the
        // NodeUpdate event here covers.
        &[
            ClusterEvent::AssignedPodDelete,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
        ]
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl PreFilter for NodeResourcesFit {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        state.write(PRE_FILTER_KEY, PreFilterState(pod.requests.clone()));
        (None, Status::success())
    }
}

impl Filter for NodeResourcesFit {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // Without PreFilter (a caller running Filter alone), the pod's own precomputed
        // requests are the same thing.
        let request = state
            .read::<PreFilterState>(PRE_FILTER_KEY)
            .map(|s| &s.0)
            .unwrap_or(&pod.requests);
        let insufficient = self.insufficient_resources(request, node);
        if insufficient.is_empty() {
            return Status::success();
        }
        Status {
            code: Code::Unschedulable,
            reasons: insufficient.into_iter().map(|r| r.reason).collect(),
            plugin: "",
        }
    }
}

impl PreScore for NodeResourcesFit {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        state.write(PRE_SCORE_KEY, PreScoreState(self.scorer.pod_requests(pod)));
        Status::success()
    }
}

impl Score for NodeResourcesFit {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let score = match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => self.scorer.score(node, &s.0),
            None => self.scorer.score(node, &self.scorer.pod_requests(pod)),
        };
        Ok(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{
        node_with, pod, resource_node, resource_node_json, resource_pod, state,
    };
    use serde_json::{Value, json};

    fn fit(args: Value) -> NodeResourcesFit {
        NodeResourcesFit::new(Some(&args)).expect("valid args")
    }

    fn run_filter(plugin: &NodeResourcesFit, p: &PodInfo, n: &NodeInfo) -> Status {
        let mut st = state();
        let (_, s) = plugin.pre_filter(&mut st, p);
        assert!(s.is_success());
        plugin.filter(&st, p, n)
    }

    #[test]
    fn filter_checks_every_requested_resource() {
        // Node: 10 cpu, 20 memory, 32 pods, 5 example.com/foo; one pod using 5 cpu, 19 memory,
        // 2 foo.
        let node = || {
            node_with(
                resource_node_json(
                    "n",
                    json!({"cpu": "10", "memory": "20", "pods": "32", "example.com/foo": "5",
                           "ephemeral-storage": "20"}),
                ),
                vec![Arc::new(resource_pod(
                    "used",
                    json!([{"cpu": "5", "memory": "19", "example.com/foo": "2"}]),
                ))],
            )
        };
        let cases: [(&str, Value, &[&str]); 9] = [
            ("nothing requested", json!([{}]), &[]),
            ("fits exactly", json!([{"cpu": "5", "memory": "1"}]), &[]),
            (
                "cpu",
                json!([{"cpu": "6", "memory": "1"}]),
                &["Insufficient cpu"],
            ),
            (
                "memory",
                json!([{"cpu": "1", "memory": "2"}]),
                &["Insufficient memory"],
            ),
            (
                "every insufficient resource is reported",
                json!([{"cpu": "8", "memory": "2", "ephemeral-storage": "21"}]),
                &[
                    "Insufficient cpu",
                    "Insufficient memory",
                    "Insufficient ephemeral-storage",
                ],
            ),
            ("extended fits", json!([{"example.com/foo": "3"}]), &[]),
            (
                "extended",
                json!([{"example.com/foo": "4"}]),
                &["Insufficient example.com/foo"],
            ),
            (
                "extended the node lacks",
                json!([{"example.com/bar": "1"}]),
                &["Insufficient example.com/bar"],
            ),
            (
                "containers add up",
                json!([{"cpu": "3"}, {"cpu": "3"}]),
                &["Insufficient cpu"],
            ),
        ];
        let plugin = fit(json!({}));
        for (name, containers, reasons) in cases {
            let status = run_filter(&plugin, &resource_pod("p", containers), &node());
            assert_eq!(
                status.is_success(),
                reasons.is_empty(),
                "{name}: {status:?}"
            );
            if !reasons.is_empty() {
                assert_eq!(status.code, Code::Unschedulable, "{name}");
                assert_eq!(status.reasons, reasons.to_vec(), "{name}");
            }
        }
    }

    #[test]
    fn init_containers_sidecars_and_overhead_count() {
        let node = || resource_node("n", json!({"cpu": "4", "memory": "4Gi", "pods": "10"}));
        let spec = |extra: Value| {
            let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "c", "resources": {"requests": {"cpu": "1"}}}
            ]}});
            for (k, v) in extra.as_object().into_iter().flatten() {
                p["spec"][k] = v.clone();
            }
            pod(p)
        };
        let init = |cpu: &str| json!({"name": "i", "resources": {"requests": {"cpu": cpu}}});
        let side = |cpu: &str| json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": cpu}}});
        let cases = [
            (
                "init container within the node",
                json!({"initContainers": [init("4")]}),
                true,
            ),
            (
                "init container above the node",
                json!({"initContainers": [init("5")]}),
                false,
            ),
            // A sidecar runs alongside the containers: 1 + 3.5 > 4.
            (
                "sidecar adds to containers",
                json!({"initContainers": [side("3500m")]}),
                false,
            ),
            (
                "sidecar that fits",
                json!({"initContainers": [side("3")]}),
                true,
            ),
            (
                "overhead that fits",
                json!({"overhead": {"cpu": "3"}}),
                true,
            ),
            (
                "overhead above the node",
                json!({"overhead": {"cpu": "3100m"}}),
                false,
            ),
        ];
        let plugin = fit(json!({}));
        for (name, extra, fits) in cases {
            let status = run_filter(&plugin, &spec(extra), &node());
            assert_eq!(status.is_success(), fits, "{name}: {status:?}");
            if !fits {
                assert_eq!(status.reasons, vec!["Insufficient cpu"], "{name}");
            }
        }
    }

    #[test]
    fn pod_count_is_always_checked() {
        let full = node_with(
            resource_node_json("n", json!({"cpu": "1", "pods": "1"})),
            vec![Arc::new(resource_pod("a", json!([{}])))],
        );
        // An overcommitted node: pods requesting nothing only check the count.
        let overcommitted = node_with(
            resource_node_json("n", json!({"cpu": "1", "memory": "1Gi", "pods": "5"})),
            vec![Arc::new(resource_pod("a", json!([{"cpu": "2"}])))],
        );
        let plugin = fit(json!({}));
        let cases = [
            (
                "full, requesting nothing",
                json!([{}]),
                &full,
                vec!["Too many pods"],
            ),
            (
                "full and short of cpu",
                json!([{"cpu": "2"}]),
                &full,
                vec!["Too many pods", "Insufficient cpu"],
            ),
            (
                "overcommitted, requesting nothing",
                json!([{}]),
                &overcommitted,
                vec![],
            ),
            (
                "overcommitted, requesting memory",
                json!([{"memory": "1Mi"}]),
                &overcommitted,
                vec![],
            ),
            (
                "overcommitted, requesting cpu",
                json!([{"cpu": "1m"}]),
                &overcommitted,
                vec!["Insufficient cpu"],
            ),
        ];
        for (name, containers, node, reasons) in cases {
            let status = run_filter(&plugin, &resource_pod("p", containers), node);
            assert_eq!(status.reasons, reasons, "{name}");
        }
        // A node without a pods allocatable takes none.
        let status = run_filter(
            &plugin,
            &resource_pod("p", json!([{}])),
            &resource_node("n", json!({})),
        );
        assert_eq!(status.reasons, vec!["Too many pods"]);
    }

    #[test]
    fn ignored_resources_and_groups() {
        let node = || resource_node("n", json!({"pods": "10"}));
        let cases = [
            (json!({}), "example.com/foo", false),
            (
                json!({"ignoredResources": ["example.com/foo"]}),
                "example.com/foo",
                true,
            ),
            (
                json!({"ignoredResources": ["example.com/foo"]}),
                "example.com/bar",
                false,
            ),
            (
                json!({"ignoredResourceGroups": ["example.com"]}),
                "example.com/bar",
                true,
            ),
            (
                json!({"ignoredResourceGroups": ["example.com"]}),
                "other.io/bar",
                false,
            ),
            // Only extended resources can be ignored.
            (
                json!({"ignoredResources": ["hugepages-2Mi"]}),
                "hugepages-2Mi",
                false,
            ),
        ];
        for (args, resource, fits) in cases {
            let plugin = fit(args.clone());
            let mut requests = json!({});
            requests[resource] = json!("1");
            let p = resource_pod("p", json!([requests]));
            let status = run_filter(&plugin, &p, &node());
            assert_eq!(status.is_success(), fits, "{args} {resource}");
            if !fits {
                assert_eq!(status.reasons, vec![format!("Insufficient {resource}")]);
            }
        }
    }

    #[test]
    fn filter_without_pre_filter_uses_pod_requests() {
        let plugin = fit(json!({}));
        let p = resource_pod("p", json!([{"cpu": "2"}]));
        let n = resource_node("n", json!({"cpu": "1", "pods": "10"}));
        assert_eq!(
            plugin.filter(&state(), &p, &n).reasons,
            vec!["Insufficient cpu"]
        );
    }

    /// Upstream's "nothing scheduled, resources requested, differently sized nodes": a pod
    /// requesting 1000+2000 cores and 2000+3000 bytes; node1 4000 cores / 10000 bytes, node2
    /// 6000 cores / 10000 bytes.
    fn sized_nodes() -> (PodInfo, [NodeInfo; 2]) {
        let p = resource_pod(
            "p",
            json!([{"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}]),
        );
        let n1 = resource_node(
            "node1",
            json!({"cpu": "4000", "memory": "10000", "pods": "110"}),
        );
        let n2 = resource_node(
            "node2",
            json!({"cpu": "6000", "memory": "10000", "pods": "110"}),
        );
        (p, [n1, n2])
    }

    fn scores(plugin: &NodeResourcesFit, p: &PodInfo, nodes: &[NodeInfo]) -> Vec<i64> {
        let mut st = state();
        assert!(plugin.pre_score(&mut st, p, &[]).is_success());
        nodes
            .iter()
            .map(|n| plugin.score(&st, p, n).expect("score"))
            .collect()
    }

    #[test]
    fn scoring_strategies_give_upstream_scores() {
        let (p, nodes) = sized_nodes();
        let shape = json!([{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]);
        let cases = [
            // cpu 75% / 50%, memory 50% / 50%.
            // Least: node1 (25 + 50) / 2 = 37, node2 (50 + 50) / 2 = 50.
            (json!({}), vec![37, 50]),
            (
                json!({"scoringStrategy": {"type": "LeastAllocated"}}),
                vec![37, 50],
            ),
            // Most: node1 (75 + 50) / 2 = 62, node2 50.
            (
                json!({"scoringStrategy": {"type": "MostAllocated"}}),
                vec![62, 50],
            ),
            // Weighted: node1 (75×3 + 50×1) / 4 = 68.
            (
                json!({"scoringStrategy": {"type": "MostAllocated",
                    "resources": [{"name": "cpu", "weight": 3}, {"name": "memory"}]}}),
                vec![68, 50],
            ),
            // Shape 0→100, 100→0 (scaled ×10): node1 (25 + 50) / 2 = 37.5, rounded to 38.
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {"shape": shape}}}),
                vec![38, 50],
            ),
        ];
        for (args, want) in cases {
            assert_eq!(scores(&fit(args.clone()), &p, &nodes), want, "{args}");
            // Score without PreScore computes the same.
            let plugin = fit(args.clone());
            let direct: Vec<i64> = nodes
                .iter()
                .map(|n| plugin.score(&state(), &p, n).unwrap())
                .collect();
            assert_eq!(direct, want, "{args} without PreScore");
        }
    }

    #[test]
    fn scoring_counts_non_zero_requests() {
        // A pod requesting nothing counts as 100m cpu and 200Mi memory, and so do the pods on
        // the node: node 1000m / 1000Mi with one such pod → cpu 200/1000, memory 400/1000.
        let n = node_with(
            resource_node_json("n", json!({"cpu": "1", "memory": "1000Mi", "pods": "10"})),
            vec![Arc::new(resource_pod("a", json!([{}])))],
        );
        let p = resource_pod("p", json!([{}]));
        // Least: (80 + 60) / 2 = 70. Most: (20 + 40) / 2 = 30.
        assert_eq!(
            scores(&fit(json!({})), &p, std::slice::from_ref(&n)),
            vec![70]
        );
        let most = fit(json!({"scoringStrategy": {"type": "MostAllocated"}}));
        assert_eq!(scores(&most, &p, std::slice::from_ref(&n)), vec![30]);
    }

    #[test]
    fn extended_resources_scored_only_when_requested() {
        // Upstream's bin-packing examples: shape 0→0, 100→1 (×10); foo weight 3, bar weight 5.
        let args = json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
            "resources": [{"name": "intel.com/foo", "weight": 3}, {"name": "intel.com/bar", "weight": 5}],
            "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 1}]}}});
        let plugin = fit(args);
        let n1 = resource_node(
            "node1",
            json!({"cpu": "4", "intel.com/foo": "8", "intel.com/bar": "4"}),
        );
        let n2 = resource_node(
            "node2",
            json!({"cpu": "4", "intel.com/foo": "4", "intel.com/bar": "8"}),
        );
        let nodes = [n1, n2];
        let nothing = resource_pod("p", json!([{}]));
        assert_eq!(scores(&plugin, &nothing, &nodes), vec![0, 0]);
        // node1: foo 25% → 2, bar 50% → 5: (2×3 + 5×5) / 8 = 3.875 → 4.
        // node2: foo 50% → 5, bar 25% → 2: (5×3 + 2×5) / 8 = 3.125 → 3.
        let p = resource_pod("p", json!([{"intel.com/foo": "2", "intel.com/bar": "2"}]));
        assert_eq!(scores(&plugin, &p, &nodes), vec![4, 3]);
    }

    #[test]
    fn args_are_validated() {
        let cases = [
            (
                json!({"scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": -1}]}}),
                "scoringStrategy.resources[0].weight: Invalid value: -1: resource weight of cpu not in valid range (0, 100]",
            ),
            (
                json!({"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu"}, {"name": "memory", "weight": 101}]}}),
                "scoringStrategy.resources[1].weight: Invalid value: 101: resource weight of memory not in valid range (0, 100]",
            ),
            (
                json!({"scoringStrategy": {"type": "Foo"}}),
                "scoringStrategy.type: Unsupported value: \"Foo\": supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\"",
            ),
            (
                json!({"scoringStrategy": {"resources": [{"name": "cpu"}]}}),
                "scoringStrategy.type: Unsupported value: \"\": supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\"",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio"}}),
                "scoringStrategy.shape: Required value: at least one point must be specified",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": []}}}),
                "scoringStrategy.shape: Required value: at least one point must be specified",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
                    {"utilization": 50, "score": 1}, {"utilization": 50, "score": 11}]}}}),
                "[scoringStrategy.shape[1].utilization: Invalid value: 50: values must be sorted in increasing order, \
                 scoringStrategy.shape[1].score: Invalid value: 11: not in valid range [0, 10]]",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
                    {"utilization": -1, "score": 0}, {"utilization": 101, "score": 0}]}}}),
                "[scoringStrategy.shape[0].utilization: Invalid value: -1: not in valid range [0, 100], \
                 scoringStrategy.shape[1].utilization: Invalid value: 101: not in valid range [0, 100]]",
            ),
            (
                json!({"ignoredResourceGroups": ["example.com/foo"]}),
                "ignoredResourceGroups[0]: Invalid value: \"example.com/foo\": resource group name can't contain '/'",
            ),
            (
                json!({"scoringStrategy": {"type": "LeastAllocated", "weights": 1}}),
                "unknown field `weights`",
            ),
            (
                json!({"kind": "NodeAffinityArgs"}),
                "kind: Invalid value: \"NodeAffinityArgs\": must be NodeResourcesFitArgs",
            ),
        ];
        for (args, want) in cases {
            let err = NodeResourcesFit::new(Some(&args)).err().unwrap_or_default();
            assert!(err.contains(want), "{args}:\n got {err}\nwant {want}");
        }
        let err = NodeResourcesFit::new(Some(&json!({"ignoredResources": ["a/b/c"]})))
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with("ignoredResources[0]: Invalid value: \"a/b/c\": "),
            "{err}"
        );

        // Valid: defaults, weight 0 defaulted to 1, apiVersion/kind, null.
        let valid = [
            json!(null),
            json!({}),
            json!({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "NodeResourcesFitArgs",
                   "ignoredResources": ["example.com/foo"], "ignoredResourceGroups": ["example.com"]}),
            json!({"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 0}]}}),
            json!({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
                {"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}}),
        ];
        for args in valid {
            assert!(NodeResourcesFit::new(Some(&args)).is_ok(), "{args}");
        }
        assert!(NodeResourcesFit::new(None).is_ok());
    }

    #[test]
    fn config_file_errors_name_the_plugin_args() {
        let text = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 200
"#;
        let config = crate::config::SchedulerConfiguration::parse(text).expect("parses");
        let err = config.frameworks().err().expect("invalid").to_string();
        assert!(
            err.contains(
                "profiles[0].pluginConfig[NodeResourcesFit].args: Invalid value: \
                 scoringStrategy.resources[0].weight: Invalid value: 200: \
                 resource weight of cpu not in valid range (0, 100]"
            ),
            "{err}"
        );
        let ok = text.replace("200", "5");
        let config = crate::config::SchedulerConfiguration::parse(&ok).expect("parses");
        assert!(config.frameworks().is_ok());
    }

    #[test]
    fn registered_by_name_with_events() {
        let plugin = crate::plugins::factory(NAME).expect("registered")(None).expect("builds");
        assert_eq!(plugin.name(), NAME);
        assert!(plugin.as_pre_filter().is_some() && plugin.as_filter().is_some());
        assert!(plugin.as_pre_score().is_some() && plugin.as_score().is_some());
        assert!(plugin.events().contains(&ClusterEvent::AssignedPodDelete));
        assert!(plugin.events().contains(&ClusterEvent::NodeUpdate));
    }
}
