//! Whether a toleration tolerates a taint (upstream's `Toleration.ToleratesTaint`), shared by
//! every plugin that looks at taints.

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// Whether `toleration` tolerates `taint`: effects match (or the toleration names none), keys
/// match (or the toleration names none), and the operator is `Exists` or the values are equal.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref() {
        Some("Exists") => true,
        None | Some("") | Some("Equal") => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        Some(_) => false,
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated_by(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(
        key: Option<&str>,
        op: Option<&str>,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: None,
        }
    }

    #[test]
    fn upstream_matching_rules() {
        let t = taint("dedicated", Some("web"), "NoSchedule");
        let cases = [
            (
                tol(
                    Some("dedicated"),
                    Some("Equal"),
                    Some("web"),
                    Some("NoSchedule"),
                ),
                true,
            ),
            (tol(Some("dedicated"), None, Some("web"), None), true),
            (
                tol(Some("dedicated"), Some("Equal"), Some("db"), None),
                false,
            ),
            (tol(Some("dedicated"), Some("Exists"), None, None), true),
            (tol(None, Some("Exists"), None, None), true),
            (tol(None, Some("Exists"), None, Some("NoExecute")), false),
            (tol(Some("other"), Some("Exists"), None, None), false),
            (
                tol(Some("dedicated"), Some("Exists"), None, Some("NoSchedule")),
                true,
            ),
        ];
        for (toleration, want) in cases {
            assert_eq!(tolerates(&toleration, &t), want, "{toleration:?}");
        }
    }
}
