//! Which admission plugins run: upstream's `--disable-admission-plugins`. rkube's plugins are
//! all on by default, as upstream's are; a name upstream registers but rkube does not run is
//! accepted (that plugin is off already), and any other name is refused at start with
//! upstream's message.
//!
//! Upstream's own integration tests turn some off: scheduler_perf, whose published floors the
//! scheduler benchmark prints beside its figures, runs its apiserver with
//! `--disable-admission-plugins=ServiceAccount,TaintNodesByCondition,Priority`.

/// An admission plugin rkube runs, by upstream's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    /// Refuses creates in a namespace that does not exist or is being deleted.
    NamespaceLifecycle,
    /// Applies a namespace's LimitRange defaults and bounds.
    LimitRanger,
    /// Fills in a pod's ServiceAccount and mounts its token.
    ServiceAccount,
    /// Resolves a pod's priority from its PriorityClass; keeps one global default class.
    Priority,
    /// Adds the 300 s not-ready/unreachable tolerations to pods.
    DefaultTolerationSeconds,
    /// Refuses creates beyond a namespace's ResourceQuota.
    ResourceQuota,
}

impl Plugin {
    /// Every plugin rkube runs, in the order upstream runs them.
    pub const ALL: [Plugin; 6] = [
        Plugin::NamespaceLifecycle,
        Plugin::LimitRanger,
        Plugin::ServiceAccount,
        Plugin::Priority,
        Plugin::DefaultTolerationSeconds,
        Plugin::ResourceQuota,
    ];

    /// Upstream's name of the plugin.
    pub fn name(self) -> &'static str {
        match self {
            Plugin::NamespaceLifecycle => "NamespaceLifecycle",
            Plugin::LimitRanger => "LimitRanger",
            Plugin::ServiceAccount => "ServiceAccount",
            Plugin::Priority => "Priority",
            Plugin::DefaultTolerationSeconds => "DefaultTolerationSeconds",
            Plugin::ResourceQuota => "ResourceQuota",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The other plugins upstream's kube-apiserver (1.33) registers: rkube does not run them, so
/// disabling one changes nothing.
const NOT_RUN: &[&str] = &[
    "AlwaysAdmit",
    "AlwaysDeny",
    "AlwaysPullImages",
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "ClusterTrustBundleAttest",
    "DefaultIngressClass",
    "DefaultStorageClass",
    "DenyServiceExternalIPs",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "ImagePolicyWebhook",
    "LimitPodHardAntiAffinityTopology",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "NamespaceAutoProvision",
    "NamespaceExists",
    "NodeRestriction",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "PodNodeSelector",
    "PodSecurity",
    "PodTolerationRestriction",
    "RuntimeClass",
    "StorageObjectInUseProtection",
    "TaintNodesByCondition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
];

/// A name in `--disable-admission-plugins` that upstream does not register either.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "disable-admission-plugins plugin {0:?} is unknown (rkube runs {ran}; \
     names are case-sensitive)",
    ran = ran_names()
)]
pub struct UnknownPlugin(pub String);

fn ran_names() -> String {
    Plugin::ALL.map(Plugin::name).join(", ")
}

/// The admission plugins that run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionPlugins {
    enabled: u8,
}

impl Default for AdmissionPlugins {
    /// Every plugin rkube has.
    fn default() -> AdmissionPlugins {
        AdmissionPlugins {
            enabled: Plugin::ALL.iter().fold(0, |bits, p| bits | p.bit()),
        }
    }
}

impl AdmissionPlugins {
    /// Every plugin but those `disabled` names (upstream's names; empty ones are ignored, as
    /// an empty flag value is).
    pub fn disabling<S: AsRef<str>>(disabled: &[S]) -> Result<AdmissionPlugins, UnknownPlugin> {
        let mut plugins = AdmissionPlugins::default();
        for name in disabled.iter().map(AsRef::as_ref).map(str::trim) {
            if name.is_empty() || NOT_RUN.contains(&name) {
                continue;
            }
            match Plugin::ALL.iter().find(|p| p.name() == name) {
                Some(p) => plugins.enabled &= !p.bit(),
                None => return Err(UnknownPlugin(name.to_string())),
            }
        }
        Ok(plugins)
    }

    /// Whether `plugin` runs.
    pub fn runs(&self, plugin: Plugin) -> bool {
        self.enabled & plugin.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plugin_runs_by_default() {
        let plugins = AdmissionPlugins::default();
        for p in Plugin::ALL {
            assert!(plugins.runs(p), "{}", p.name());
        }
    }

    #[test]
    fn disabling_turns_off_exactly_the_named_plugins() {
        let cases: &[(&[&str], &[Plugin])] = &[
            (&[], &[]),
            (&[""], &[]),
            (&["Priority"], &[Plugin::Priority]),
            (
                // scheduler_perf's list: TaintNodesByCondition is upstream's, not run here.
                &["ServiceAccount", "TaintNodesByCondition", "Priority"],
                &[Plugin::ServiceAccount, Plugin::Priority],
            ),
            (&[" LimitRanger ", "PodSecurity"], &[Plugin::LimitRanger]),
            (&Plugin::ALL.map(Plugin::name), &Plugin::ALL),
        ];
        for (names, off) in cases {
            let plugins = AdmissionPlugins::disabling(names).unwrap();
            for p in Plugin::ALL {
                assert_eq!(
                    plugins.runs(p),
                    !off.contains(&p),
                    "{names:?}: {}",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn a_name_upstream_does_not_register_is_refused_with_the_plugins_that_run() {
        for name in ["priority", "Quota", "NamespaceLifeCycle"] {
            let err = AdmissionPlugins::disabling(&["Priority", name]).unwrap_err();
            assert_eq!(err, UnknownPlugin(name.to_string()));
            assert_eq!(
                err.to_string(),
                format!(
                    "disable-admission-plugins plugin \"{name}\" is unknown (rkube runs \
                     NamespaceLifecycle, LimitRanger, ServiceAccount, Priority, \
                     DefaultTolerationSeconds, ResourceQuota; names are case-sensitive)"
                )
            );
        }
    }

    #[test]
    fn the_plugins_run_and_not_run_are_distinct_names() {
        for p in Plugin::ALL {
            assert!(!NOT_RUN.contains(&p.name()), "{}", p.name());
        }
        let mut sorted = NOT_RUN.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, NOT_RUN, "NOT_RUN is sorted and has no repeats");
    }
}
