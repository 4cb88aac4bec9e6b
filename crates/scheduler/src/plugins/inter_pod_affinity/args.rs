//! `InterPodAffinityArgs`: the weight of existing pods' required affinity in scoring, and
//! whether existing pods' preferred terms are scored at all.

use serde::Deserialize;

/// The plugin's args (upstream's `InterPodAffinityArgs`, v1 defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterPodAffinityArgs {
    /// The score weight of an existing pod's required affinity term that the incoming pod
    /// matches (0–100; default 1; 0 disables it).
    pub hard_pod_affinity_weight: i32,
    /// Score only the incoming pod's preferred terms, not existing pods' (default false).
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> InterPodAffinityArgs {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
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
    hard_pod_affinity_weight: Option<i64>,
    #[serde(default)]
    ignore_preferred_terms_of_existing_pods: Option<bool>,
}

impl InterPodAffinityArgs {
    /// Decodes and validates `pluginConfig` args (`None`: defaults), as upstream's
    /// `ValidateInterPodAffinityArgs`:
    /// `hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]`.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<InterPodAffinityArgs, String> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(InterPodAffinityArgs::default());
        };
        let raw = RawArgs::deserialize(value)
            .map_err(|e| format!("decoding InterPodAffinityArgs: {e}"))?;
        let defaults = InterPodAffinityArgs::default();
        let weight = raw
            .hard_pod_affinity_weight
            .unwrap_or(defaults.hard_pod_affinity_weight.into());
        if !(0..=100).contains(&weight) {
            return Err(format!(
                "hardPodAffinityWeight: Invalid value: {weight}: not in valid range [0, 100]"
            ));
        }
        Ok(InterPodAffinityArgs {
            hard_pod_affinity_weight: i32::try_from(weight).unwrap_or(0),
            ignore_preferred_terms_of_existing_pods: raw
                .ignore_preferred_terms_of_existing_pods
                .unwrap_or(defaults.ignore_preferred_terms_of_existing_pods),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_validation() {
        let cases = [
            (None, Ok(InterPodAffinityArgs::default())),
            (
                Some(
                    json!({"hardPodAffinityWeight": 0, "ignorePreferredTermsOfExistingPods": true}),
                ),
                Ok(InterPodAffinityArgs {
                    hard_pod_affinity_weight: 0,
                    ignore_preferred_terms_of_existing_pods: true,
                }),
            ),
            (
                Some(
                    json!({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "InterPodAffinityArgs", "hardPodAffinityWeight": 100}),
                ),
                Ok(InterPodAffinityArgs {
                    hard_pod_affinity_weight: 100,
                    ignore_preferred_terms_of_existing_pods: false,
                }),
            ),
            (
                Some(json!({"hardPodAffinityWeight": 101})),
                Err(
                    "hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]"
                        .to_string(),
                ),
            ),
            (
                Some(json!({"hardPodAffinityWeight": -1})),
                Err(
                    "hardPodAffinityWeight: Invalid value: -1: not in valid range [0, 100]"
                        .to_string(),
                ),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(
                InterPodAffinityArgs::from_json(value.as_ref()),
                want,
                "{value:?}"
            );
        }
        let err = InterPodAffinityArgs::from_json(Some(&json!({"bogus": 1}))).unwrap_err();
        assert!(
            err.starts_with("decoding InterPodAffinityArgs: unknown field"),
            "{err}"
        );
    }
}
