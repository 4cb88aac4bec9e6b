//! ImageLocality: prefer nodes that already hold the pod's container images, so the pod starts
//! without a long pull. Each image present counts its size scaled by how widely it has spread
//! (nodes holding it / all nodes), so a popular image does not pull every pod onto the same few
//! nodes ("node heating"). The sum is clamped to a size range typical of images and mapped to
//! 0..=100.

use crate::framework::{
    ClusterEvent, CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, Score, Status,
};

/// The plugin's name.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this sum a node scores 0 (upstream's `minThreshold`).
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, at and above this sum a node scores 100 (upstream's `maxContainerThreshold`).
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Scores nodes by the images they already have.
pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // Score only: never rejects a pod.
        &[]
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

/// The name a node reports for `image` (upstream's `normalizedImageName`): `:latest` is added
/// when the reference has no tag. Registries are not normalized (neither upstream does:
/// `nginx` matches a node's `nginx:latest`, not `docker.io/library/nginx:latest`).
pub fn normalized_image_name(image: &str) -> String {
    let colon = image.rfind(':');
    let slash = image.rfind('/');
    // Go's LastIndex gives -1 for "absent", which `Option`'s order (None < Some) matches.
    if colon <= slash {
        format!("{image}:latest")
    } else {
        image.to_string()
    }
}

/// The image's size scaled by the share of nodes holding it.
fn scaled_image_score(size: i64, num_nodes: usize, total_nodes: usize) -> i64 {
    if total_nodes == 0 {
        return 0;
    }
    let spread = num_nodes as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

/// Maps the summed image scores to 0..=[`MAX_NODE_SCORE`] between the thresholds.
fn calculate_priority(sum: i64, num_containers: usize) -> i64 {
    let max_threshold =
        MAX_CONTAINER_THRESHOLD.saturating_mul(i64::try_from(num_containers).unwrap_or(i64::MAX));
    let sum = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum > max_threshold {
        max_threshold
    } else {
        sum
    };
    if max_threshold == MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if node.images.is_empty() {
            // Nothing to find (and the common case on simulated nodes): skip the lookups.
            return Ok(0);
        }
        let snapshot = state.snapshot();
        let total_nodes = snapshot.nodes.len();
        let spec = pod.spec();
        let containers: Vec<&str> = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .map(|c| c.image.as_deref().unwrap_or(""))
            .collect();
        let sum: i64 = containers
            .iter()
            .filter_map(|image| {
                let name = normalized_image_name(image);
                let size = *node.images.get(&name)?;
                let num_nodes = snapshot.image_nodes.get(&name).copied().unwrap_or(1);
                Some(scaled_image_score(size, num_nodes, total_nodes))
            })
            .fold(0i64, i64::saturating_add);
        Ok(calculate_priority(sum, containers.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, score_nodes};
    use serde_json::{Value, json};

    fn node_with_images(name: &str, images: &[(&[&str], i64)]) -> NodeInfo {
        let images: Vec<Value> = images
            .iter()
            .map(|(names, size)| json!({"names": names, "sizeBytes": size}))
            .collect();
        node(json!({"metadata": {"name": name}, "status": {"images": images}}))
    }

    fn pod_with_images(images: &[&str], init: &[&str]) -> PodInfo {
        let c = |imgs: &[&str]| -> Vec<Value> {
            imgs.iter()
                .enumerate()
                .map(|(i, img)| json!({"name": format!("c{i}"), "image": img}))
                .collect()
        };
        pod(json!({"metadata": {"name": "p"}, "spec": {
            "containers": c(images), "initContainers": c(init)
        }}))
    }

    #[test]
    fn normalizes_like_upstream() {
        let cases = [
            ("nginx", "nginx:latest"),
            ("nginx:1.25", "nginx:1.25"),
            ("registry:5000/app", "registry:5000/app:latest"),
            ("registry:5000/app:v1", "registry:5000/app:v1"),
            ("docker.io/library/nginx", "docker.io/library/nginx:latest"),
            ("", ":latest"),
        ];
        for (image, want) in cases {
            assert_eq!(normalized_image_name(image), want, "{image}");
        }
    }

    #[test]
    fn priority_mapping() {
        let cases = [
            (0, 1, 0),
            (MIN_THRESHOLD, 1, 0),
            (MAX_CONTAINER_THRESHOLD, 1, 100),
            (2 * MAX_CONTAINER_THRESHOLD, 1, 100),
            ((MIN_THRESHOLD + MAX_CONTAINER_THRESHOLD) / 2, 1, 50),
            (MAX_CONTAINER_THRESHOLD, 2, 49),
            (0, 0, 0),
        ];
        for (sum, containers, want) in cases {
            assert_eq!(
                calculate_priority(sum, containers),
                want,
                "{sum} {containers}"
            );
        }
    }

    #[test]
    fn scores_nodes_holding_the_images() {
        let gb = 1000 * MB;
        let nodes = || {
            vec![
                // Holds both images (the big one under two names).
                node_with_images(
                    "n1",
                    &[
                        (&["big:latest", "docker.io/library/big:latest"], gb),
                        (&["small:v1"], 300 * MB),
                    ],
                ),
                // Holds the small image only.
                node_with_images("n2", &[(&["small:v1"], 300 * MB)]),
                // Holds nothing.
                node_with_images("n3", &[]),
            ]
        };
        // Upstream's arithmetic for the expectations.
        let expect = |sum: i64, containers: i64| {
            let max = MAX_CONTAINER_THRESHOLD * containers;
            100 * (sum.clamp(MIN_THRESHOLD, max) - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
        };
        let spread_small = (300.0 * MB as f64 * (2.0 / 3.0)) as i64;
        let spread_big = (gb as f64 / 3.0) as i64;
        let cases: Vec<(&str, PodInfo, Vec<i64>)> = vec![
            (
                "one image on one of three nodes",
                pod_with_images(&["big"], &[]),
                vec![expect(spread_big, 1), 0, 0],
            ),
            (
                "two images",
                pod_with_images(&["big", "small:v1"], &[]),
                vec![
                    expect(spread_big + spread_small, 2),
                    expect(spread_small, 2),
                    0,
                ],
            ),
            (
                "init containers count",
                pod_with_images(&["missing"], &["small:v1"]),
                vec![expect(spread_small, 2), expect(spread_small, 2), 0],
            ),
            (
                "names must match exactly after normalization",
                pod_with_images(&["small"], &[]),
                vec![0, 0, 0],
            ),
            (
                "no images on nodes",
                pod_with_images(&["other"], &[]),
                vec![0, 0, 0],
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(score_nodes(&ImageLocality, &p, nodes()), want, "{name}");
        }
        // Sanity: the big image on one of three nodes scores (333MB - 23MB) / 977MB.
        assert_eq!(expect(spread_big, 1), 31);
    }
}
