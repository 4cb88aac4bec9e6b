//! Lookup of the strategic-merge-patch facts (generated in `strategies.rs`): how a field of a
//! built-in definition merges and which definition its values have.

use super::strategies::DEFINITIONS;

/// One field of a definition, as generated.
#[derive(Debug)]
pub struct Field {
    name: &'static str,
    strategy: &'static str,
    merge_key: &'static str,
    target: &'static str,
}

/// A table row: field name, `patchStrategy` tag (comma-separated, may be empty), merge key
/// (may be empty) and the definition of the field's values (may be empty).
pub(super) const fn f(
    name: &'static str,
    strategy: &'static str,
    merge_key: &'static str,
    target: &'static str,
) -> Field {
    Field {
        name,
        strategy,
        merge_key,
        target,
    }
}

/// How one field merges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldMeta {
    /// `merge`: lists merge item by item (by `merge_key` for objects, as sets for scalars).
    pub merge: bool,
    /// `replace`: the patch's value replaces the field as a whole.
    pub replace: bool,
    /// `retainKeys`: the field accepts the `$retainKeys` directive.
    pub retain_keys: bool,
    /// `patchMergeKey`: the key identifying list items.
    pub merge_key: Option<&'static str>,
    /// The definition of the field's values (its items for lists, its values for maps).
    pub target: Option<&'static str>,
}

/// Whether the table knows `definition` (every built-in kind is listed, through its metadata).
pub fn is_known(definition: &str) -> bool {
    fields_of(definition).is_some()
}

/// The definition name of a built-in kind (as upstream's OpenAPI names it, e.g.
/// `io.k8s.api.apps.v1.Deployment`), if the table knows it: strategic merge patches are
/// served for exactly these.
pub fn definition_of(group: &str, version: &str, kind: &str) -> Option<String> {
    let package = match group {
        "" => "io.k8s.api.core".to_string(),
        "apiextensions.k8s.io" => "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".into(),
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".into(),
        "internal.apiserver.k8s.io" => "io.k8s.api.apiserverinternal".into(),
        "metrics.k8s.io" => "io.k8s.metrics.pkg.apis.metrics".into(),
        // Upstream's package is the group's first label (`rbac.authorization.k8s.io` → rbac).
        other => format!("io.k8s.api.{}", other.split('.').next().unwrap_or(other)),
    };
    let name = format!("{package}.{version}.{kind}");
    is_known(&name).then_some(name)
}

fn fields_of(definition: &str) -> Option<&'static [Field]> {
    DEFINITIONS
        .binary_search_by(|(name, _)| (*name).cmp(definition))
        .ok()
        .map(|i| DEFINITIONS[i].1)
}

/// How `field` of `definition` merges; the defaults (objects merged, lists replaced, no
/// nested facts) when either is unknown.
pub fn lookup(definition: Option<&str>, field: &str) -> FieldMeta {
    let Some(row) = definition.and_then(fields_of).and_then(|fields| {
        fields
            .binary_search_by(|f| f.name.cmp(field))
            .ok()
            .map(|i| &fields[i])
    }) else {
        return FieldMeta::default();
    };
    let has = |s: &str| row.strategy.split(',').any(|x| x == s);
    FieldMeta {
        merge: has("merge"),
        replace: has("replace"),
        retain_keys: has("retainKeys"),
        merge_key: (!row.merge_key.is_empty()).then_some(row.merge_key),
        target: (!row.target.is_empty()).then_some(row.target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_targets_exist() {
        for pair in DEFINITIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} not sorted", pair[1].0);
        }
        for (def, fields) in DEFINITIONS {
            for pair in fields.windows(2) {
                assert!(
                    pair[0].name < pair[1].name,
                    "{def}.{} not sorted",
                    pair[1].name
                );
            }
            for field in *fields {
                assert!(
                    field.target.is_empty() || is_known(field.target),
                    "{def}.{} points at unknown {}",
                    field.name,
                    field.target
                );
            }
        }
    }

    #[test]
    fn upstream_strategies() {
        let pod_spec = Some("io.k8s.api.core.v1.PodSpec");
        let containers = lookup(pod_spec, "containers");
        assert!(containers.merge);
        assert_eq!(containers.merge_key, Some("name"));
        assert_eq!(containers.target, Some("io.k8s.api.core.v1.Container"));
        let volumes = lookup(pod_spec, "volumes");
        assert!(volumes.merge && volumes.retain_keys);
        assert_eq!(lookup(pod_spec, "tolerations"), FieldMeta::default());
        let ports = lookup(Some("io.k8s.api.core.v1.Container"), "ports");
        assert_eq!(ports.merge_key, Some("containerPort"));
        let finalizers = lookup(
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "finalizers",
        );
        assert!(finalizers.merge);
        assert_eq!(finalizers.merge_key, None);
        let strategy = lookup(Some("io.k8s.api.apps.v1.DeploymentSpec"), "strategy");
        assert!(strategy.retain_keys && !strategy.merge);
        assert!(
            lookup(
                Some("io.k8s.api.policy.v1.PodDisruptionBudgetSpec"),
                "selector"
            )
            .replace
        );
        assert_eq!(
            lookup(Some("io.k8s.api.core.v1.ServiceSpec"), "ports").merge_key,
            Some("port")
        );
        for kind in [
            "core.v1.Pod",
            "apps.v1.Deployment",
            "core.v1.ConfigMap",
            "batch.v1.Job",
        ] {
            assert!(is_known(&format!("io.k8s.api.{kind}")), "{kind}");
        }
        assert!(!is_known("io.example.v1.Widget"));
        assert_eq!(
            definition_of("rbac.authorization.k8s.io", "v1", "Role").as_deref(),
            Some("io.k8s.api.rbac.v1.Role")
        );
        assert_eq!(
            definition_of("", "v1", "Pod").as_deref(),
            Some("io.k8s.api.core.v1.Pod")
        );
        assert_eq!(definition_of("example.com", "v1", "Widget"), None);
    }

    #[test]
    fn every_builtin_kind_has_a_definition() {
        for info in crate::resources::BUILTIN {
            assert!(
                definition_of(info.group, info.version, info.kind).is_some(),
                "{}/{} {}",
                info.group,
                info.version,
                info.kind
            );
        }
    }
}
