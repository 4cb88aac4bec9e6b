//! `DefaultPreemptionArgs`: how many nodes preemption dry-runs before picking one.

use serde::Deserialize;

/// The plugin's args (upstream's `DefaultPreemptionArgs`, v1 defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultPreemptionArgs {
    /// At least this percentage of the potential nodes is dry-run (0–100; default 10).
    pub min_candidate_nodes_percentage: i32,
    /// At least this many potential nodes are dry-run (≥ 0; default 100).
    pub min_candidate_nodes_absolute: i32,
}

impl Default for DefaultPreemptionArgs {
    fn default() -> DefaultPreemptionArgs {
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

/// The args as written in `pluginConfig` (absent fields take the defaults).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawArgs {
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
    #[serde(default)]
    min_candidate_nodes_percentage: Option<i64>,
    #[serde(default)]
    min_candidate_nodes_absolute: Option<i64>,
}

const PERCENTAGE: &str = "minCandidateNodesPercentage";
const ABSOLUTE: &str = "minCandidateNodesAbsolute";

impl DefaultPreemptionArgs {
    /// Decodes and validates `pluginConfig` args (`None`: defaults). Errors name the field, as
    /// upstream's `ValidateDefaultPreemptionArgs`:
    /// `minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]`.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<DefaultPreemptionArgs, String> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(DefaultPreemptionArgs::default());
        };
        if !value.is_object() {
            return Err(format!(
                "decoding DefaultPreemptionArgs: expected an object, got {value}"
            ));
        }
        let raw = RawArgs::deserialize(value)
            .map_err(|e| format!("decoding DefaultPreemptionArgs: {e}"))?;
        let defaults = DefaultPreemptionArgs::default();
        let percentage = raw
            .min_candidate_nodes_percentage
            .unwrap_or(defaults.min_candidate_nodes_percentage.into());
        let absolute = raw
            .min_candidate_nodes_absolute
            .unwrap_or(defaults.min_candidate_nodes_absolute.into());
        let mut errors = Vec::new();
        if !(0..=100).contains(&percentage) {
            errors.push(invalid(
                PERCENTAGE,
                percentage,
                "not in valid range [0, 100]",
            ));
        }
        if !(0..=i64::from(i32::MAX)).contains(&absolute) {
            errors.push(invalid(ABSOLUTE, absolute, "not in valid range [0, inf)"));
        }
        if percentage == 0 && absolute == 0 {
            errors.push(invalid(
                PERCENTAGE,
                percentage,
                "cannot be zero at the same time as minCandidateNodesAbsolute",
            ));
            errors.push(invalid(
                ABSOLUTE,
                absolute,
                "cannot be zero at the same time as minCandidateNodesPercentage",
            ));
        }
        if !errors.is_empty() {
            return Err(aggregate(&errors));
        }
        Ok(DefaultPreemptionArgs {
            min_candidate_nodes_percentage: i32::try_from(percentage).unwrap_or(0),
            min_candidate_nodes_absolute: i32::try_from(absolute).unwrap_or(0),
        })
    }

    /// How many candidates the dry run must produce out of `num_nodes` potential nodes
    /// (upstream's `calculateNumCandidates`): the percentage, at least the absolute number,
    /// never more than `num_nodes`.
    pub fn num_candidates(&self, num_nodes: usize) -> usize {
        let percentage = usize::try_from(self.min_candidate_nodes_percentage).unwrap_or(0);
        let absolute = usize::try_from(self.min_candidate_nodes_absolute).unwrap_or(0);
        (num_nodes.saturating_mul(percentage) / 100)
            .max(absolute)
            .min(num_nodes)
    }
}

fn invalid(field: &str, value: i64, detail: &str) -> String {
    format!("{field}: Invalid value: {value}: {detail}")
}

/// Joins error messages as upstream's `utilerrors.Aggregate`: one as is, several deduplicated
/// in brackets.
pub(crate) fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}
