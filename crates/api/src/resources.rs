//! The built-in resources: what discovery advertises and how the registry stores each one.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One served resource (a group/version/kind with its REST name and storage place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; `""` for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// The kind, e.g. `Pod`.
    pub kind: &'static str,
    /// The REST name, e.g. `pods`.
    pub plural: &'static str,
    /// Lower-case singular name, e.g. `pod`.
    pub singular: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names, e.g. `po`.
    pub short_names: &'static [&'static str],
    /// Categories, e.g. `all`.
    pub categories: &'static [&'static str],
    /// Subresources served, e.g. `status`, `scale`.
    pub subresources: &'static [&'static str],
    /// Storage key segment under `/registry/` (upstream's etcd layout, e.g. `minions`).
    pub storage: &'static str,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as upstream names a resource in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind of a list of these, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether `sub` is a served subresource.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    /// The store key prefix of all objects of this resource (ends with `/`).
    pub fn storage_prefix(&self) -> String {
        ["/registry/", self.storage, "/"].concat()
    }

    /// The store key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        // `concat` sizes the key once; `format!` grew it (keys are built on every request).
        match namespace {
            Some(ns) if self.namespaced => {
                ["/registry/", self.storage, "/", ns, "/", name].concat()
            }
            _ => ["/registry/", self.storage, "/", name].concat(),
        }
    }
}

/// Verbs every built-in resource supports (discovery lists them).
pub const RESOURCE_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Verbs of a subresource, as discovery lists them (`log`, `exec`, `attach`, `portforward` and
/// `proxy` are
/// served by the kubelet through the apiserver).
pub fn subresource_verbs(sub: &str) -> &'static [&'static str] {
    match sub {
        "binding" | "eviction" | "token" => &["create"],
        "log" => &["get"],
        "exec" | "attach" | "portforward" => &["create", "get"],
        "proxy" => &["create", "delete", "get", "patch", "update"],
        _ => &["get", "patch", "update"],
    }
}

/// The kind a subresource speaks, when it is not the resource's own kind.
pub fn subresource_kind(info: &ResourceInfo, sub: &str) -> &'static str {
    match sub {
        "scale" => "Scale",
        "binding" => "Binding",
        "eviction" => "Eviction",
        "token" => "TokenRequest",
        "exec" => "PodExecOptions",
        "attach" => "PodAttachOptions",
        "portforward" => "PodPortForwardOptions",
        "proxy" if info.kind == "Node" => "NodeProxyOptions",
        _ => info.kind,
    }
}

/// The group and version a subresource speaks when it is not its resource's own.
pub fn subresource_group_version(sub: &str) -> Option<(&'static str, &'static str)> {
    match sub {
        "scale" => Some(("autoscaling", "v1")),
        "eviction" => Some(("policy", "v1")),
        "token" => Some(("authentication.k8s.io", "v1")),
        _ => None,
    }
}

/// Subresources served by their own routes rather than the generic handlers (group, plural,
/// subresource): discovery advertises them, the generic handlers do not claim them.
pub static DEDICATED_SUBRESOURCES: &[(&str, &str, &str)] = &[
    // TokenRequest, served by the apiserver's service-account token issuer.
    ("", "serviceaccounts", "token"),
];

/// Every subresource discovery lists for `info`: the generically served ones, then the
/// dedicated ones.
pub fn discovery_subresources(info: &ResourceInfo) -> Vec<&'static str> {
    let dedicated = DEDICATED_SUBRESOURCES
        .iter()
        .filter(|(g, p, _)| *g == info.group && *p == info.plural && info.version == "v1")
        .map(|(_, _, sub)| *sub);
    info.subresources.iter().copied().chain(dedicated).collect()
}

macro_rules! resources {
    ($( $group:literal $version:literal $kind:literal $plural:literal $singular:literal
        ns=$ns:literal short=[$($short:literal),*] cat=[$($cat:literal),*]
        sub=[$($sub:literal),*] storage=$storage:literal ;)*) => {
        /// Every built-in resource, in discovery order within each group version.
        pub static BUILTIN: &[ResourceInfo] = &[$(ResourceInfo {
            group: $group, version: $version, kind: $kind, plural: $plural,
            singular: $singular, namespaced: $ns, short_names: &[$($short),*],
            categories: &[$($cat),*], subresources: &[$($sub),*], storage: $storage,
        }),*];
    };
}

resources! {
    "" "v1" "Binding" "bindings" "binding" ns=true short=[] cat=[] sub=[] storage="bindings";
    "" "v1" "ConfigMap" "configmaps" "configmap" ns=true short=["cm"] cat=[] sub=[] storage="configmaps";
    "" "v1" "Endpoints" "endpoints" "endpoints" ns=true short=["ep"] cat=[] sub=[] storage="services/endpoints";
    "" "v1" "Event" "events" "event" ns=true short=["ev"] cat=[] sub=[] storage="events";
    "" "v1" "LimitRange" "limitranges" "limitrange" ns=true short=["limits"] cat=[] sub=[] storage="limitranges";
    "" "v1" "Namespace" "namespaces" "namespace" ns=false short=["ns"] cat=[] sub=["status", "finalize"] storage="namespaces";
    "" "v1" "Node" "nodes" "node" ns=false short=["no"] cat=[] sub=["proxy", "status"] storage="minions";
    "" "v1" "PersistentVolumeClaim" "persistentvolumeclaims" "persistentvolumeclaim" ns=true short=["pvc"] cat=[] sub=["status"] storage="persistentvolumeclaims";
    "" "v1" "PersistentVolume" "persistentvolumes" "persistentvolume" ns=false short=["pv"] cat=[] sub=["status"] storage="persistentvolumes";
    "" "v1" "Pod" "pods" "pod" ns=true short=["po"] cat=["all"] sub=["attach", "binding", "eviction", "exec", "log", "portforward", "status"] storage="pods";
    "" "v1" "PodTemplate" "podtemplates" "podtemplate" ns=true short=[] cat=[] sub=[] storage="podtemplates";
    "" "v1" "ReplicationController" "replicationcontrollers" "replicationcontroller" ns=true short=["rc"] cat=["all"] sub=["status", "scale"] storage="controllers";
    "" "v1" "ResourceQuota" "resourcequotas" "resourcequota" ns=true short=["quota"] cat=[] sub=["status"] storage="resourcequotas";
    "" "v1" "Secret" "secrets" "secret" ns=true short=[] cat=[] sub=[] storage="secrets";
    "" "v1" "ServiceAccount" "serviceaccounts" "serviceaccount" ns=true short=["sa"] cat=[] sub=[] storage="serviceaccounts";
    "" "v1" "Service" "services" "service" ns=true short=["svc"] cat=["all"] sub=["status"] storage="services/specs";
    "apiextensions.k8s.io" "v1" "CustomResourceDefinition" "customresourcedefinitions" "customresourcedefinition" ns=false short=["crd", "crds"] cat=["api-extensions"] sub=["status"] storage="apiextensions.k8s.io/customresourcedefinitions";
    "apps" "v1" "ControllerRevision" "controllerrevisions" "controllerrevision" ns=true short=[] cat=[] sub=[] storage="controllerrevisions";
    "apps" "v1" "DaemonSet" "daemonsets" "daemonset" ns=true short=["ds"] cat=["all"] sub=["status"] storage="daemonsets";
    "apps" "v1" "Deployment" "deployments" "deployment" ns=true short=["deploy"] cat=["all"] sub=["status", "scale"] storage="deployments";
    "apps" "v1" "ReplicaSet" "replicasets" "replicaset" ns=true short=["rs"] cat=["all"] sub=["status", "scale"] storage="replicasets";
    "apps" "v1" "StatefulSet" "statefulsets" "statefulset" ns=true short=["sts"] cat=["all"] sub=["status", "scale"] storage="statefulsets";
    "autoscaling" "v2" "HorizontalPodAutoscaler" "horizontalpodautoscalers" "horizontalpodautoscaler" ns=true short=["hpa"] cat=["all"] sub=["status"] storage="horizontalpodautoscalers";
    "autoscaling" "v1" "HorizontalPodAutoscaler" "horizontalpodautoscalers" "horizontalpodautoscaler" ns=true short=["hpa"] cat=["all"] sub=["status"] storage="horizontalpodautoscalers";
    "batch" "v1" "CronJob" "cronjobs" "cronjob" ns=true short=["cj"] cat=["all"] sub=["status"] storage="cronjobs";
    "batch" "v1" "Job" "jobs" "job" ns=true short=[] cat=["all"] sub=["status"] storage="jobs";
    "coordination.k8s.io" "v1" "Lease" "leases" "lease" ns=true short=[] cat=[] sub=[] storage="leases";
    "discovery.k8s.io" "v1" "EndpointSlice" "endpointslices" "endpointslice" ns=true short=[] cat=[] sub=[] storage="endpointslices";
    "events.k8s.io" "v1" "Event" "events" "event" ns=true short=["ev"] cat=[] sub=[] storage="events";
    "networking.k8s.io" "v1" "IngressClass" "ingressclasses" "ingressclass" ns=false short=[] cat=[] sub=[] storage="ingressclasses";
    "networking.k8s.io" "v1" "Ingress" "ingresses" "ingress" ns=true short=["ing"] cat=[] sub=["status"] storage="ingress";
    "networking.k8s.io" "v1" "NetworkPolicy" "networkpolicies" "networkpolicy" ns=true short=["netpol"] cat=[] sub=[] storage="networkpolicies";
    "policy" "v1" "PodDisruptionBudget" "poddisruptionbudgets" "poddisruptionbudget" ns=true short=["pdb"] cat=[] sub=["status"] storage="poddisruptionbudgets";
    "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" "clusterrolebindings" "clusterrolebinding" ns=false short=[] cat=[] sub=[] storage="clusterrolebindings";
    "rbac.authorization.k8s.io" "v1" "ClusterRole" "clusterroles" "clusterrole" ns=false short=[] cat=[] sub=[] storage="clusterroles";
    "rbac.authorization.k8s.io" "v1" "RoleBinding" "rolebindings" "rolebinding" ns=true short=[] cat=[] sub=[] storage="rolebindings";
    "rbac.authorization.k8s.io" "v1" "Role" "roles" "role" ns=true short=[] cat=[] sub=[] storage="roles";
    "scheduling.k8s.io" "v1" "PriorityClass" "priorityclasses" "priorityclass" ns=false short=["pc"] cat=[] sub=[] storage="priorityclasses";
    "storage.k8s.io" "v1" "StorageClass" "storageclasses" "storageclass" ns=false short=["sc"] cat=[] sub=[] storage="storageclasses";
}

/// The resource whose version objects of `info` are stored in: the first one listed with the
/// same storage place (`events.k8s.io/v1` Events are stored as core `v1` Events, `autoscaling/v1`
/// HorizontalPodAutoscalers as `autoscaling/v2` ones). Usually `info` itself.
pub fn storage_version(info: &'static ResourceInfo) -> &'static ResourceInfo {
    BUILTIN
        .iter()
        .find(|r| r.storage == info.storage)
        .unwrap_or(info)
}

/// Whether `info` is the version its objects are stored in (not another version's view).
pub fn is_storage_version(info: &'static ResourceInfo) -> bool {
    std::ptr::eq(storage_version(info), info)
}

/// Whether `info` is one of the built-in resources (not one a CustomResourceDefinition serves).
pub fn is_builtin(info: &ResourceInfo) -> bool {
    // The table is one contiguous slice: an address check, not a scan (hot: every response).
    BUILTIN
        .as_ptr_range()
        .contains(&(info as *const ResourceInfo))
}

/// Resources that are only a verb on another object (POST-only), not stored or listed.
pub fn is_virtual(info: &ResourceInfo) -> bool {
    info.plural == "bindings"
}

/// Looks a resource up by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    // A map, not a scan: every request looks its resource up, some several times, and the
    // scan's string compares were ~2 % of a pod create's CPU.
    static BY_PLURAL: Index = LazyLock::new(|| index_by(|r| r.plural));
    lookup(&BY_PLURAL, group, version, plural)
}

/// Looks a resource up by group, version and kind.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    static BY_KIND: Index = LazyLock::new(|| index_by(|r| r.kind));
    lookup(&BY_KIND, group, version, kind)
}

/// The built-in resources by (group, version, name).
type Index = LazyLock<HashMap<(&'static str, &'static str, &'static str), &'static ResourceInfo>>;

fn index_by(
    name: fn(&ResourceInfo) -> &'static str,
) -> HashMap<(&'static str, &'static str, &'static str), &'static ResourceInfo> {
    let mut map = HashMap::with_capacity(BUILTIN.len());
    for r in BUILTIN {
        // The first wins, as the scan it replaces did.
        map.entry((r.group, r.version, name(r))).or_insert(r);
    }
    map
}

fn lookup(
    index: &'static Index,
    group: &str,
    version: &str,
    name: &str,
) -> Option<&'static ResourceInfo> {
    // The map is covariant in its key: its `&'static str`s compare with shorter-lived ones.
    let map: &HashMap<(&str, &str, &str), &'static ResourceInfo> = index;
    map.get(&(group, version, name)).copied()
}

/// The served groups with their versions, preferred version first, core group excluded.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in BUILTIN.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// The resources of one group version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    BUILTIN
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexes_find_what_a_scan_of_the_table_finds() {
        for r in BUILTIN {
            let by_plural = BUILTIN
                .iter()
                .find(|o| (o.group, o.version, o.plural) == (r.group, r.version, r.plural));
            assert_eq!(find(r.group, r.version, r.plural), by_plural);
            let by_kind = BUILTIN
                .iter()
                .find(|o| (o.group, o.version, o.kind) == (r.group, r.version, r.kind));
            assert_eq!(find_kind(r.group, r.version, r.kind), by_kind);
        }
        // Names from a request (not 'static) look up the same.
        let (group, version, plural) = (
            String::from("apps"),
            String::from("v1"),
            String::from("deployments"),
        );
        assert_eq!(
            find(&group, &version, &plural).map(|r| r.kind),
            Some("Deployment")
        );
        assert_eq!(
            find_kind(&group, &version, "Deployment").map(|r| r.plural),
            Some("deployments")
        );
        assert!(find_kind("apps", "v1", "deployments").is_none());
    }

    #[test]
    fn token_requests_are_a_dedicated_service_account_subresource() {
        let sa = find("", "v1", "serviceaccounts").unwrap();
        assert!(!sa.has_subresource("token"), "not served generically");
        assert_eq!(discovery_subresources(sa), ["token"]);
        assert_eq!(subresource_kind(sa, "token"), "TokenRequest");
        assert_eq!(subresource_verbs("token"), ["create"]);
        assert_eq!(
            subresource_group_version("token"),
            Some(("authentication.k8s.io", "v1"))
        );
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(discovery_subresources(pods), pods.subresources);
    }

    #[test]
    fn lookups() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.kind, "Pod");
        assert!(is_builtin(pods));
        assert!(
            !is_builtin(&pods.clone()),
            "a copy is not the table's entry"
        );
        let crds = find("apiextensions.k8s.io", "v1", "customresourcedefinitions").unwrap();
        assert!(!crds.namespaced && crds.short_names == ["crd", "crds"]);
        assert_eq!(
            pods.storage_key(Some("default"), "a"),
            "/registry/pods/default/a"
        );
        assert_eq!(
            find_kind("apps", "v1", "Deployment").unwrap().plural,
            "deployments"
        );
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(
            nodes.storage_key(Some("ignored"), "n1"),
            "/registry/minions/n1"
        );
        assert_eq!(
            find("apps", "v1", "deployments")
                .unwrap()
                .qualified_plural(),
            "deployments.apps"
        );
        assert!(find("", "v1", "nothing").is_none());
    }

    #[test]
    fn every_resource_is_unique_and_k8s_openapi_agrees() {
        for (i, a) in BUILTIN.iter().enumerate() {
            for b in &BUILTIN[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "{} listed twice",
                    a.plural
                );
            }
        }
        // The storage prefixes must not nest into each other (a list of one would see the other).
        for a in BUILTIN {
            for b in BUILTIN {
                if a.storage != b.storage {
                    assert!(
                        !b.storage_prefix().starts_with(&a.storage_prefix()),
                        "{} nests in {}",
                        b.storage,
                        a.storage
                    );
                }
            }
        }
        use k8s_openapi::Resource;
        fn check<T: Resource>() {
            let r = find(T::GROUP, T::VERSION, T::URL_PATH_SEGMENT)
                .unwrap_or_else(|| panic!("{} missing", T::KIND));
            assert_eq!(r.kind, T::KIND);
        }
        use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
        check::<core::Pod>();
        check::<core::Service>();
        check::<core::Endpoints>();
        check::<core::Node>();
        check::<core::ReplicationController>();
        check::<apps::Deployment>();
        check::<batch::CronJob>();
        check::<k8s_openapi::api::networking::v1::Ingress>();
        check::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>();
        check::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>();
        check::<k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler>();
        check::<k8s_openapi::api::events::v1::Event>();
        check::<k8s_openapi::api::scheduling::v1::PriorityClass>();
    }

    #[test]
    fn views_are_stored_as_their_storage_version() {
        let core = find("", "v1", "events").unwrap();
        let events_v1 = find("events.k8s.io", "v1", "events").unwrap();
        assert!(std::ptr::eq(storage_version(events_v1), core));
        assert!(is_storage_version(core) && !is_storage_version(events_v1));
        let v2 = find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let v1 = find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        assert!(std::ptr::eq(storage_version(v1), v2));
        assert_eq!(
            v1.storage_key(Some("d"), "h"),
            v2.storage_key(Some("d"), "h")
        );
        // The stored version is the preferred one: listed first in its group.
        let g = groups();
        assert!(
            g.iter()
                .any(|(g, v)| *g == "autoscaling" && v == &["v2", "v1"])
        );
        assert!(g.iter().any(|(g, v)| *g == "events.k8s.io" && v == &["v1"]));
    }

    #[test]
    fn groups_list_each_group_once() {
        let g = groups();
        assert!(g.iter().any(|(g, v)| *g == "apps" && v == &["v1"]));
        assert_eq!(g.iter().filter(|(g, _)| *g == "apps").count(), 1);
    }
}
