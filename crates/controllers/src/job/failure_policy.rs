//! Matching a failed pod against a Job's `podFailurePolicy`: rules in order, the first whose
//! `onExitCodes` (a terminated container, regular then init, with a non-zero exit code) or
//! `onPodConditions` matches decides; no match means the failure counts.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// What a matched rule does with the failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Counts towards backoffLimit (a `Count` rule, or no rule matched).
    Count,
    /// Not counted (an `Ignore` rule).
    Ignore,
    /// Fails the whole Job with this message (a `FailJob` rule).
    FailJob(String),
    /// Fails the pod's index (a `FailIndex` rule; counted).
    FailIndex,
}

impl Outcome {
    /// Whether the failure counts towards backoffLimit.
    pub fn counts(&self) -> bool {
        !matches!(self, Outcome::Ignore)
    }
}

/// The outcome of `pod`'s failure under `policy`.
pub fn evaluate(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Outcome {
    let Some(policy) = policy else {
        return Outcome::Count;
    };
    let status = pod.status.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(req) = &rule.on_exit_codes {
            let lists = [
                status.container_statuses.as_deref().unwrap_or_default(),
                status
                    .init_container_statuses
                    .as_deref()
                    .unwrap_or_default(),
            ];
            lists
                .iter()
                .find_map(|l| matching_container(l, req))
                .map(|(c, code)| {
                    format!(
                        "Container {c} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                        rule.action
                    )
                })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            status
                .conditions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find_map(|c| {
                    patterns
                    .iter()
                    .any(|p| {
                        let want = if p.status.is_empty() { "True" } else { &p.status };
                        p.type_ == c.type_ && want == c.status
                    })
                    .then(|| {
                        format!(
                            "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                            c.type_, rule.action
                        )
                    })
                })
        } else {
            None
        };
        if let Some(message) = matched {
            return match rule.action.as_str() {
                "Ignore" => Outcome::Ignore,
                "FailJob" => Outcome::FailJob(message),
                "FailIndex" => Outcome::FailIndex,
                _ => Outcome::Count,
            };
        }
    }
    Outcome::Count
}

fn matching_container(
    list: &[ContainerStatus],
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<(String, i32)> {
    list.iter().find_map(|c| {
        let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
        let name_ok = req.container_name.as_ref().is_none_or(|n| *n == c.name);
        let listed = req.values.contains(&code);
        let op_ok = match req.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        };
        (name_ok && code != 0 && op_ok).then(|| (c.name.clone(), code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(exit_codes: &[(&str, i32)], conditions: &[(&str, &str)]) -> Pod {
        let cs: Vec<_> = exit_codes
            .iter()
            .map(|(n, c)| {
                json!({"name": n, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": c}}})
            })
            .collect();
        let conds: Vec<_> = conditions
            .iter()
            .map(|(t, s)| json!({"type": t, "status": s}))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "containerStatuses": cs, "conditions": conds}}))
        .unwrap()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    #[test]
    fn rules_in_order() {
        let p = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [2]}},
        ]));
        let table = [
            (pod(&[("main", 1)], &[("DisruptionTarget", "True")]), Outcome::Ignore),
            (
                pod(&[("main", 42)], &[]),
                Outcome::FailJob(
                    "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into(),
                ),
            ),
            (pod(&[("side", 42)], &[]), Outcome::Count),
            (pod(&[("main", 2)], &[]), Outcome::FailIndex),
            (pod(&[("main", 1)], &[("DisruptionTarget", "False")]), Outcome::Count),
            // Exit code 0 never matches, even NotIn.
            (pod(&[("main", 0)], &[]), Outcome::Count),
        ];
        for (pod, want) in table {
            assert_eq!(evaluate(Some(&p), &pod), want);
        }
        assert_eq!(evaluate(None, &pod(&[("main", 42)], &[])), Outcome::Count);
    }

    #[test]
    fn condition_message() {
        let p = policy(
            json!([{"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}]),
        );
        assert_eq!(
            evaluate(Some(&p), &pod(&[], &[("ConfigIssue", "True")])),
            Outcome::FailJob(
                "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0".into()
            )
        );
    }
}
