//! What NodeResourcesFit's scoring strategies and NodeResourcesBalancedAllocation share
//! (upstream's `resourceAllocationScorer`): the configured resources with weights, how much of
//! each a node has and would have with the pod, the per-strategy scoring functions, and the
//! args plumbing (decoding, defaulting, validation errors printed as upstream's field errors).

use rkube_api::status::FieldCause;
use rkube_api::validation::names::qualified_name;
use serde::Deserialize;

use crate::framework::{MAX_NODE_SCORE, NodeInfo, PodInfo};

/// The highest score a `requestedToCapacityRatio` shape point may give (upstream's
/// `MaxCustomPriorityScore`); shape scores are scaled by `MAX_NODE_SCORE / 10`.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
/// The highest utilization a shape point may name, in percent.
pub const MAX_UTILIZATION: i64 = 100;

/// One resource a scorer looks at, with its weight (`resources[i]` in the args).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// The resource name (`cpu`, `memory`, `example.com/gpu`, …).
    #[serde(default)]
    pub name: String,
    /// Its weight (0 or absent: 1, as upstream's v1 defaulting).
    #[serde(default)]
    pub weight: i64,
}

impl ResourceSpec {
    /// `name` with weight `weight`.
    pub fn new(name: &str, weight: i64) -> ResourceSpec {
        ResourceSpec {
            name: name.to_string(),
            weight,
        }
    }
}

/// The default resources of both plugins: cpu and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1)]
}

/// Upstream's v1 defaulting of a resource list: empty means the defaults; weight 0 means 1.
pub fn default_weights(resources: Option<Vec<ResourceSpec>>) -> Vec<ResourceSpec> {
    let mut resources = resources.unwrap_or_default();
    if resources.is_empty() {
        return default_resources();
    }
    for r in &mut resources {
        if r.weight == 0 {
            r.weight = 1;
        }
    }
    resources
}

/// One point of a `requestedToCapacityRatio` shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShapePoint {
    /// Utilization in percent (0–100).
    #[serde(default)]
    pub utilization: i32,
    /// The score at that utilization (0–10).
    #[serde(default)]
    pub score: i32,
}

/// How a node's allocation of the configured resources becomes a score.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Favors nodes with more left over: `(capacity − requested) × 100 / capacity`, weighted.
    LeastAllocated,
    /// Favors nodes with less left over: `requested × 100 / capacity`, weighted.
    MostAllocated,
    /// A piecewise-linear function of utilization, with the shape's scores already scaled to
    /// 0–[`MAX_NODE_SCORE`] (points sorted by utilization, at least one).
    RequestedToCapacityRatio(Vec<(i64, i64)>),
    /// Favors nodes whose requested fractions are alike: `(1 − std deviation) × 100`.
    Balanced,
}

/// Scores a node by how much of each configured resource would be requested with the pod.
#[derive(Clone, Debug)]
pub struct ResourceAllocationScorer {
    /// The resources and their weights, in configuration order.
    pub resources: Vec<ResourceSpec>,
    /// The scoring function.
    pub strategy: Strategy,
    /// Use the plain requests for cpu and memory (BalancedAllocation); otherwise the non-zero
    /// requests, where a container without a request counts as 100m / 200Mi (NodeResourcesFit).
    pub use_requested: bool,
}

impl ResourceAllocationScorer {
    /// The pod's request of each configured resource, in `resources` order.
    pub fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        let requests = if self.use_requested {
            &pod.requests
        } else {
            &pod.non_zero_requests
        };
        self.resources
            .iter()
            .map(|r| requests.get(&r.name))
            .collect()
    }

    /// The node's score with the pod's `pod_requests` (from [`Self::pod_requests`]) added.
    pub fn score(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        // Scored once per node per cycle: keep the usual few resources off the heap.
        const INLINE: usize = 8;
        let n = self.resources.len();
        let (mut req_inline, mut alloc_inline) = ([0i64; INLINE], [0i64; INLINE]);
        let (mut req_heap, mut alloc_heap) = (Vec::new(), Vec::new());
        let (requested, allocatable): (&mut [i64], &mut [i64]) = if n <= INLINE {
            (&mut req_inline[..n], &mut alloc_inline[..n])
        } else {
            req_heap.resize(n, 0);
            alloc_heap.resize(n, 0);
            (&mut req_heap[..], &mut alloc_heap[..])
        };
        for (i, r) in self.resources.iter().enumerate() {
            let pod_request = pod_requests.get(i).copied().unwrap_or(0);
            let (alloc, req) = self.allocatable_and_requested(node, &r.name, pod_request);
            // A resource the node does not have is left out of the score.
            if alloc == 0 {
                continue;
            }
            allocatable[i] = alloc;
            requested[i] = req;
        }
        match &self.strategy {
            Strategy::LeastAllocated => weighted_floor(
                &self.resources,
                requested,
                allocatable,
                least_requested_score,
            ),
            Strategy::MostAllocated => weighted_floor(
                &self.resources,
                requested,
                allocatable,
                most_requested_score,
            ),
            Strategy::RequestedToCapacityRatio(shape) => {
                ratio_score(shape, &self.resources, requested, allocatable)
            }
            Strategy::Balanced => balanced_score(requested, allocatable),
        }
    }

    /// What the node can give of `resource` and what would be requested of it with the pod;
    /// `(0, 0)` when the resource is not to be scored (an extended resource the pod does not
    /// ask for, or one the node does not report).
    fn allocatable_and_requested(
        &self,
        node: &NodeInfo,
        resource: &str,
        pod_request: i64,
    ) -> (i64, i64) {
        let requested = if self.use_requested {
            &node.requested
        } else {
            &node.non_zero_requested
        };
        if pod_request == 0 && is_scalar_resource_name(resource) {
            return (0, 0);
        }
        match resource {
            "cpu" => (
                node.allocatable.milli_cpu,
                requested.milli_cpu.saturating_add(pod_request),
            ),
            "memory" => (
                node.allocatable.memory,
                requested.memory.saturating_add(pod_request),
            ),
            "ephemeral-storage" => (
                node.allocatable.ephemeral_storage,
                node.requested.ephemeral_storage.saturating_add(pod_request),
            ),
            other => match node.allocatable.scalar.get(other) {
                Some(alloc) if is_scalar_resource_name(other) => (
                    *alloc,
                    node.requested
                        .scalar
                        .get(other)
                        .copied()
                        .unwrap_or(0)
                        .saturating_add(pod_request),
                ),
                _ => (0, 0),
            },
        }
    }
}

/// Weighted mean of per-resource scores, rounded down (LeastAllocated, MostAllocated).
fn weighted_floor(
    resources: &[ResourceSpec],
    requested: &[i64],
    allocatable: &[i64],
    per_resource: fn(i64, i64) -> i64,
) -> i64 {
    // Scores are 0–100 and weights validated small, so i64 holds the sums; the i128 path is
    // only for weights no configuration should have.
    let mut total: i64 = 0;
    let mut weights: i64 = 0;
    for (i, r) in resources.iter().enumerate() {
        if allocatable[i] == 0 {
            continue;
        }
        let term = per_resource(requested[i], allocatable[i]).checked_mul(r.weight);
        match (
            term.and_then(|t| total.checked_add(t)),
            weights.checked_add(r.weight),
        ) {
            (Some(t), Some(w)) => (total, weights) = (t, w),
            _ => return weighted_floor_wide(resources, requested, allocatable, per_resource),
        }
    }
    if weights == 0 {
        return 0;
    }
    total / weights
}

/// [`weighted_floor`] in 128-bit arithmetic.
fn weighted_floor_wide(
    resources: &[ResourceSpec],
    requested: &[i64],
    allocatable: &[i64],
    per_resource: fn(i64, i64) -> i64,
) -> i64 {
    let mut total: i128 = 0;
    let mut weights: i128 = 0;
    for (i, r) in resources.iter().enumerate() {
        if allocatable[i] == 0 {
            continue;
        }
        total += i128::from(per_resource(requested[i], allocatable[i])) * i128::from(r.weight);
        weights += i128::from(r.weight);
    }
    if weights == 0 {
        return 0;
    }
    clamp_i64(total / weights)
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `part × MAX_NODE_SCORE / whole` for `0 ≤ part ≤ whole`, `whole > 0`, rounded down: in i64
/// unless the product would overflow (capacities beyond ~92 PB).
fn scaled(part: i64, whole: i64) -> i64 {
    match part.checked_mul(MAX_NODE_SCORE) {
        Some(p) => p / whole,
        None => clamp_i64(i128::from(part) * i128::from(MAX_NODE_SCORE) / i128::from(whole)),
    }
}

/// `(capacity − requested) × 100 / capacity`; 0 when over capacity (upstream's
/// `leastRequestedScore`).
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    // A negative request (impossible from the API) is treated like the wide arithmetic would.
    match capacity.checked_sub(requested) {
        Some(free) => scaled(free, capacity),
        None => clamp_i64(
            (i128::from(capacity) - i128::from(requested)) * i128::from(MAX_NODE_SCORE)
                / i128::from(capacity),
        ),
    }
}

/// `requested × 100 / capacity`, with requested capped at capacity (upstream's
/// `mostRequestedScore`).
pub fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 {
        return 0;
    }
    let r = requested.min(capacity);
    if r < 0 {
        return clamp_i64(i128::from(r) * i128::from(MAX_NODE_SCORE) / i128::from(capacity));
    }
    scaled(r, capacity)
}

/// The piecewise-linear function through `shape` (upstream's `BuildBrokenLinearFunction`):
/// the first point's score below it, the last point's above it, integer interpolation between.
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(utilization, score)) in shape.iter().enumerate() {
        if p <= utilization {
            if i == 0 {
                return score;
            }
            let (u0, s0) = shape[i - 1];
            let du = utilization - u0;
            if du == 0 {
                return score;
            }
            return s0 + (score - s0) * (p - u0) / du;
        }
    }
    shape.last().map(|&(_, s)| s).unwrap_or(0)
}

/// RequestedToCapacityRatio: each resource's utilization through the shape; resources scoring 0
/// are left out of the weighted mean, which is rounded to the nearest integer (as upstream).
fn ratio_score(
    shape: &[(i64, i64)],
    resources: &[ResourceSpec],
    requested: &[i64],
    allocatable: &[i64],
) -> i64 {
    let per_resource = |requested: i64, capacity: i64| -> i64 {
        if capacity == 0 || requested > capacity {
            return broken_linear(shape, MAX_UTILIZATION);
        }
        let utilization =
            i128::from(requested) * i128::from(MAX_UTILIZATION) / i128::from(capacity);
        broken_linear(shape, clamp_i64(utilization))
    };
    let mut total: i128 = 0;
    let mut weights: i128 = 0;
    for (i, r) in resources.iter().enumerate() {
        if allocatable[i] == 0 {
            continue;
        }
        let score = per_resource(requested[i], allocatable[i]);
        if score > 0 {
            total += i128::from(score) * i128::from(r.weight);
            weights += i128::from(r.weight);
        }
    }
    if weights == 0 {
        return 0;
    }
    (total as f64 / weights as f64).round() as i64
}

/// BalancedAllocation: `(1 − σ) × 100` over the requested fractions (each capped at 1) of the
/// resources the node has, truncated (upstream's `balancedResourceScorer`).
pub fn balanced_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    // Called for every scored node: the usual few resources stay off the heap.
    let mut inline = [0f64; 8];
    let mut heap = Vec::new();
    let mut len = 0;
    for (r, a) in requested.iter().zip(allocatable).filter(|(_, a)| **a != 0) {
        let f = (*r as f64 / *a as f64).min(1.0);
        if len < inline.len() {
            inline[len] = f;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&inline);
            }
            heap.push(f);
        }
        len += 1;
    }
    let fractions: &[f64] = if len <= inline.len() {
        &inline[..len]
    } else {
        &heap
    };
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            let sum: f64 = fractions.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// Whether `name` is a built-in resource (no `/`, or in the `kubernetes.io/` namespace).
pub fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Whether `name` is an extended resource (`example.com/gpu`: not native, and `requests.<name>`
/// is a qualified name), as upstream's `IsExtendedResourceName`.
pub fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether `name` is counted among the "scalar" resources (extended, huge pages, other
/// `kubernetes.io/` resources, attachable volumes), as upstream's `IsScalarResourceName`.
pub fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// Decodes plugin args strictly (unknown fields are errors); `None` decodes as `{}`. An
/// `apiVersion`/`kind` in the args is accepted; a `kind` must be `kind`.
pub fn decode_args<T: serde::de::DeserializeOwned + Default>(
    args: Option<&serde_json::Value>,
    kind: &str,
) -> Result<T, String> {
    let Some(value) = args else {
        return Ok(T::default());
    };
    let mut value = value.clone();
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("apiVersion");
        if let Some(k) = map.remove("kind")
            && k.as_str() != Some(kind)
        {
            return Err(format!("kind: Invalid value: {k}: must be {kind}"));
        }
    } else if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(|e| format!("decoding {kind}: {e}"))
}

/// Field errors joined as upstream's aggregate error prints them: one alone, several as
/// `[a, b]`; `Ok` when there are none.
pub fn aggregate(errors: Vec<FieldCause>) -> Result<(), String> {
    let mut msgs: Vec<String> = Vec::new();
    for e in errors {
        let msg = format!("{}: {}", e.field, e.message);
        if !msgs.contains(&msg) {
            msgs.push(msg);
        }
    }
    match msgs.len() {
        0 => Ok(()),
        1 => Err(msgs.remove(0)),
        _ => Err(format!("[{}]", msgs.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_linear_interpolates_like_upstream() {
        // (shape, [(utilization, expected score)]).
        type Points = &'static [(i64, i64)];
        let cases: [(Points, Points); 3] = [
            (
                &[(10, 1), (90, 9)],
                &[
                    (-10, 1),
                    (0, 1),
                    (9, 1),
                    (10, 1),
                    (15, 1),
                    (19, 1),
                    (20, 2),
                    (89, 8),
                    (90, 9),
                    (99, 9),
                    (100, 9),
                    (110, 9),
                ],
            ),
            (
                &[(0, 2), (40, 10), (100, 0)],
                &[
                    (-10, 2),
                    (0, 2),
                    (20, 6),
                    (30, 8),
                    (40, 10),
                    (70, 5),
                    (100, 0),
                    (110, 0),
                ],
            ),
            (
                &[(0, 2), (40, 2), (100, 2)],
                &[(-10, 2), (0, 2), (40, 2), (70, 2), (110, 2)],
            ),
        ];
        for (shape, points) in cases {
            for &(p, want) in points {
                assert_eq!(broken_linear(shape, p), want, "{shape:?} at {p}");
            }
        }
        // Decreasing segments truncate toward zero, as Go's integer division does.
        assert_eq!(broken_linear(&[(10, 1), (30, 5), (70, 2)], 50), 4);
    }

    #[test]
    fn per_resource_scores() {
        let cases = [
            // (requested, capacity, least, most)
            (0, 4000, 100, 0),
            (3000, 4000, 25, 75),
            (4000, 4000, 0, 100),
            (5000, 4000, 0, 100),
            (1, 0, 0, 0),
            (i64::MAX, i64::MAX, 0, 100),
            // Products past i64 take the 128-bit path and agree with it.
            (1, i64::MAX, 99, 0),
            (i64::MAX / 2, i64::MAX, 50, 49),
        ];
        for (req, cap, least, most) in cases {
            assert_eq!(least_requested_score(req, cap), least, "least {req}/{cap}");
            assert_eq!(most_requested_score(req, cap), most, "most {req}/{cap}");
        }
    }

    #[test]
    fn weighted_means_past_i64_agree_with_the_wide_arithmetic() {
        let specs = |w: i64| vec![ResourceSpec::new("cpu", w), ResourceSpec::new("memory", 1)];
        let (requested, allocatable) = ([1000, 0], [4000, 100]);
        // 75 and 100, weights 1 and 1: 87; weights 2^62 and 1: 75 (the sum overflows i64).
        for (weight, want) in [(1, 87), (1 << 62, 75)] {
            let resources = specs(weight);
            let narrow =
                weighted_floor(&resources, &requested, &allocatable, least_requested_score);
            let wide =
                weighted_floor_wide(&resources, &requested, &allocatable, least_requested_score);
            assert_eq!((narrow, wide), (want, want), "weight {weight}");
        }
    }

    #[test]
    fn balanced_uses_standard_deviation_of_capped_fractions() {
        let cases: [(&[i64], &[i64], i64); 7] = [
            // 0.75 and 0.5: σ = 0.125.
            (&[3000, 5000], &[4000, 10000], 87),
            (&[3000, 5000], &[6000, 10000], 100),
            // Over capacity counts as 1: fractions 1 and 0.5.
            (&[9000, 5000], &[6000, 10000], 75),
            // Three resources 0.6, 0.4, 0.2: σ = sqrt(0.08 / 3) ≈ 0.163.
            (&[6, 4, 2], &[10, 10, 10], 83),
            // One resource: no deviation.
            (&[1, 0], &[2, 0], 100),
            (&[], &[], 100),
            // More resources than are kept off the heap: 0.5 ×5 and 1 ×5, σ = 0.25.
            (&[1, 1, 1, 1, 1, 2, 2, 2, 2, 2], &[2; 10], 75),
        ];
        for (req, alloc, want) in cases {
            assert_eq!(balanced_score(req, alloc), want, "{req:?}/{alloc:?}");
        }
    }

    #[test]
    fn resource_name_classes() {
        let cases = [
            ("cpu", false, false),
            ("ephemeral-storage", false, false),
            ("example.com/gpu", true, true),
            ("nvidia.com/gpu", true, true),
            ("hugepages-2Mi", false, true),
            ("kubernetes.io/batch-cpu", false, true),
            ("attachable-volumes-aws-ebs", false, true),
            ("requests.example.com/x", false, false),
        ];
        for (name, extended, scalar) in cases {
            assert_eq!(is_extended_resource_name(name), extended, "{name} extended");
            assert_eq!(is_scalar_resource_name(name), scalar, "{name} scalar");
        }
    }

    #[test]
    fn aggregate_prints_like_upstream() {
        assert_eq!(aggregate(vec![]), Ok(()));
        let one = FieldCause::invalid("a", &serde_json::json!(0), "bad");
        let two = FieldCause::required_detail("b", "needed");
        assert_eq!(
            aggregate(vec![one.clone()]),
            Err("a: Invalid value: 0: bad".into())
        );
        assert_eq!(
            aggregate(vec![one.clone(), two, one]),
            Err("[a: Invalid value: 0: bad, b: Required value: needed]".into())
        );
    }
}
