//! The namespace's deletion progress as `status.conditions`, with upstream's five condition
//! types: each is `True` with a failure reason while that problem holds, else `False` with its
//! "all good" reason, so `kubectl describe ns` shows why a namespace is still Terminating.

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::content::Remaining;

/// Discovery of the server's resources failed.
pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
/// A discovered group version could not be parsed.
pub const GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
/// Deleting some resource type failed.
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
/// Objects remain in the namespace.
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
/// Objects remain because of their finalizers.
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// The condition types this controller maintains, in the order it writes them.
const TYPES: [(&str, &str, &str); 5] = [
    (
        DISCOVERY_FAILURE,
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        GROUP_VERSION_PARSING_FAILURE,
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        CONTENT_FAILURE,
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        CONTENT_REMAINING,
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        FINALIZERS_REMAINING,
        "ContentRemoved",
        "All content successfully removed",
    ),
];

/// A failing condition: its type, reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failing {
    /// The condition type.
    pub type_: &'static str,
    /// Upstream's reason for it.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The failing condition for a discovery error.
pub fn discovery_failed(error: &kube::Error) -> Failing {
    Failing {
        type_: DISCOVERY_FAILURE,
        reason: "DiscoveryFailed",
        message: error.to_string(),
    }
}

/// The failing conditions describing what a deletion pass left behind.
pub fn from_remaining(remaining: &Remaining) -> Vec<Failing> {
    let mut out = Vec::new();
    if !remaining.failures.is_empty() {
        let mut msgs = remaining.failures.clone();
        msgs.sort();
        out.push(Failing {
            type_: CONTENT_FAILURE,
            reason: "ContentDeletionFailed",
            message: format!(
                "Failed to delete all resource types, {} remaining: {}",
                msgs.len(),
                msgs.join(", ")
            ),
        });
    }
    if !remaining.resources.is_empty() {
        // BTreeMap order is sorted, keeping the message stable between passes.
        let parts: Vec<String> = remaining
            .resources
            .iter()
            .map(|(r, n)| format!("{r} has {n} resource instances"))
            .collect();
        out.push(Failing {
            type_: CONTENT_REMAINING,
            reason: "SomeResourcesRemain",
            message: format!("Some resources are remaining: {}", parts.join(", ")),
        });
    }
    if !remaining.finalizers.is_empty() {
        let parts: Vec<String> = remaining
            .finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        out.push(Failing {
            type_: FINALIZERS_REMAINING,
            reason: "SomeFinalizersRemain",
            message: format!(
                "Some content in the namespace has finalizers remaining: {}",
                parts.join(", ")
            ),
        });
    }
    out
}

/// Merges `failing` into `conditions` (every maintained type ends up present); the transition
/// time moves only when a status flips. Returns whether anything changed.
pub fn update(conditions: &mut Vec<NamespaceCondition>, failing: &[Failing], now: Time) -> bool {
    let mut changed = false;
    for (type_, ok_reason, ok_message) in TYPES {
        let (status, reason, message) = match failing.iter().find(|f| f.type_ == type_) {
            Some(f) => ("True", f.reason, f.message.as_str()),
            None => ("False", ok_reason, ok_message),
        };
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: type_.into(),
                    status: status.into(),
                    reason: Some(reason.into()),
                    message: Some(message.into()),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(c) => {
                let same = c.status == status
                    && c.reason.as_deref() == Some(reason)
                    && c.message.as_deref() == Some(message);
                if same {
                    continue;
                }
                if c.status != status {
                    c.last_transition_time = Some(now.clone());
                }
                c.status = status.into();
                c.reason = Some(reason.into());
                c.message = Some(message.into());
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Time {
        Time(jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn remaining_content_and_finalizers_are_named() {
        let mut r = Remaining::default();
        r.resources.insert("pods.".into(), 2);
        r.resources.insert("widgets.example.com".into(), 1);
        r.finalizers.insert("example.com/hold".into(), 1);
        let failing = from_remaining(&r);
        let mut conditions = Vec::new();
        assert!(update(&mut conditions, &failing, t()));
        assert_eq!(conditions.len(), 5);
        let remaining = conditions
            .iter()
            .find(|c| c.type_ == CONTENT_REMAINING)
            .unwrap();
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some(
                "Some resources are remaining: pods. has 2 resource instances, \
                 widgets.example.com has 1 resource instances"
            )
        );
        let finalizers = conditions
            .iter()
            .find(|c| c.type_ == FINALIZERS_REMAINING)
            .unwrap();
        assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert_eq!(
            finalizers.message.as_deref(),
            Some(
                "Some content in the namespace has finalizers remaining: \
                 example.com/hold in 1 resource instances"
            )
        );
        let discovery = conditions
            .iter()
            .find(|c| c.type_ == DISCOVERY_FAILURE)
            .unwrap();
        assert_eq!(discovery.status, "False");
        assert_eq!(discovery.reason.as_deref(), Some("ResourcesDiscovered"));
        // The same pass again changes nothing.
        assert!(!update(&mut conditions, &failing, t()));
        // Content gone: back to the "all good" reasons.
        assert!(update(&mut conditions, &[], t()));
        assert!(conditions.iter().all(|c| c.status == "False"));
    }
}
