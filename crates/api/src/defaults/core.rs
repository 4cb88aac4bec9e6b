//! Defaults of the core group's kinds other than Pod (`pkg/apis/core/v1/defaults.go`).

use super::pod::{default_pvc_spec, default_template};
use super::resources;
use super::{or_set, or_set_str};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ClientIPConfig, Endpoints, LimitRange, Namespace, NamespaceSpec, NamespaceStatus, Node,
    PersistentVolume, PersistentVolumeClaim, PodTemplate, ReplicationController, ResourceQuota,
    Secret, Service, SessionAffinityConfig,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Default ClientIP session affinity timeout (3 hours).
pub const DEFAULT_CLIENT_IP_TIMEOUT: i32 = 10800;

/// PodTemplate: the template's pod spec defaults.
pub fn default_pod_template(t: &mut PodTemplate) {
    default_template(t.template.get_or_insert_with(Default::default));
}

/// ReplicationController: selector and labels from the template's labels, one replica, and
/// the template's defaults.
pub fn default_replication_controller(rc: &mut ReplicationController) {
    let spec = rc.spec.get_or_insert_with(Default::default);
    if let Some(labels) = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
    {
        if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
            spec.selector = Some(labels.clone());
        }
        if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            rc.metadata.labels = Some(labels);
        }
    }
    or_set(&mut spec.replicas, 1);
    if let Some(t) = &mut spec.template {
        default_template(t);
    }
}

/// Service: type ClusterIP, session affinity None (or ClientIP's 3h timeout), port protocol
/// TCP, targetPort = port, traffic policies, LoadBalancer node ports, ingress ipMode VIP.
pub fn default_service(svc: &mut Service) {
    let spec = svc.spec.get_or_insert_with(Default::default);
    or_set_str(&mut spec.session_affinity, "None");
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .is_some();
            if !has_timeout {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_CLIENT_IP_TIMEOUT),
                    }),
                });
            }
        }
        _ => {}
    }
    or_set_str(&mut spec.type_, "ClusterIP");
    for p in spec.ports.iter_mut().flatten() {
        or_set_str(&mut p.protocol, "TCP");
        let unset = match &p.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset {
            p.target_port = Some(IntOrString::Int(p.port));
        }
    }
    let type_ = spec.type_.clone().unwrap_or_default();
    let externally_accessible = type_ == "LoadBalancer"
        || type_ == "NodePort"
        || (type_ == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    if externally_accessible {
        or_set_str(&mut spec.external_traffic_policy, "Cluster");
    }
    if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&type_.as_str()) {
        or_set(&mut spec.internal_traffic_policy, "Cluster".to_string());
    }
    if type_ == "LoadBalancer" {
        or_set(&mut spec.allocate_load_balancer_node_ports, true);
        let ingress = svc
            .status
            .as_mut()
            .and_then(|s| s.load_balancer.as_mut())
            .and_then(|lb| lb.ingress.as_mut());
        for ing in ingress.into_iter().flatten() {
            if !ing.ip.as_deref().unwrap_or("").is_empty() {
                or_set(&mut ing.ip_mode, "VIP".to_string());
            }
        }
    }
}

/// Secret: type Opaque; `stringData` merged into `data` (upstream's conversion does this on
/// every write, so `stringData` is never stored).
pub fn default_secret(s: &mut Secret) {
    or_set_str(&mut s.type_, "Opaque");
    if let Some(string_data) = s.string_data.take()
        && !string_data.is_empty()
    {
        let data = s.data.get_or_insert_with(Default::default);
        for (k, v) in string_data {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
}

/// Namespace: the `kubernetes.io/metadata.name` label, status phase Active.
pub fn default_namespace(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("kubernetes.io/metadata.name".to_string(), name);
    }
    let status = ns.status.get_or_insert_with(NamespaceStatus::default);
    or_set_str(&mut status.phase, "Active");
}

/// A new namespace gets the `kubernetes` finalizer (upstream's strategy, create only).
pub fn prepare_namespace_for_create(ns: &mut Namespace) {
    let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
    let finalizers = spec.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == "kubernetes") {
        finalizers.push("kubernetes".to_string());
    }
}

/// Node: allocatable defaults to capacity; quantities canonical.
pub fn default_node(node: &mut Node) {
    if let Some(status) = &mut node.status {
        if status.allocatable.is_none() && status.capacity.is_some() {
            status.allocatable = status.capacity.clone();
        }
        resources::resource_list(&mut status.capacity);
        resources::resource_list(&mut status.allocatable);
    }
}

/// Endpoints: port protocol TCP.
pub fn default_endpoints(ep: &mut Endpoints) {
    for ss in ep.subsets.iter_mut().flatten() {
        for p in ss.ports.iter_mut().flatten() {
            or_set_str(&mut p.protocol, "TCP");
        }
    }
}

/// PersistentVolume: phase Pending, reclaim policy Retain, volume mode Filesystem, and the
/// volume sources' own defaults.
pub fn default_persistent_volume(pv: &mut PersistentVolume) {
    let status = pv.status.get_or_insert_with(Default::default);
    or_set_str(&mut status.phase, "Pending");
    let spec = pv.spec.get_or_insert_with(Default::default);
    or_set_str(&mut spec.persistent_volume_reclaim_policy, "Retain");
    or_set(&mut spec.volume_mode, "Filesystem".to_string());
    resources::resource_list(&mut spec.capacity);
    if let Some(hp) = &mut spec.host_path {
        or_set(&mut hp.type_, String::new());
    }
    if let Some(r) = &mut spec.rbd {
        or_set_str(&mut r.pool, "rbd");
        or_set_str(&mut r.user, "admin");
        or_set_str(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(i) = &mut spec.iscsi {
        or_set_str(&mut i.iscsi_interface, "default");
    }
    if let Some(a) = &mut spec.azure_disk {
        or_set(&mut a.caching_mode, "ReadWrite".to_string());
        or_set(&mut a.kind, "Shared".to_string());
        or_set(&mut a.fs_type, "ext4".to_string());
        or_set(&mut a.read_only, false);
    }
    if let Some(s) = &mut spec.scale_io {
        or_set_str(&mut s.storage_mode, "ThinProvisioned");
        or_set_str(&mut s.fs_type, "xfs");
    }
}

/// PersistentVolumeClaim: phase Pending, volume mode Filesystem, canonical quantities.
pub fn default_persistent_volume_claim(pvc: &mut PersistentVolumeClaim) {
    let status = pvc.status.get_or_insert_with(Default::default);
    or_set_str(&mut status.phase, "Pending");
    resources::resource_list(&mut status.capacity);
    resources::resource_list(&mut status.allocated_resources);
    default_pvc_spec(pvc.spec.get_or_insert_with(Default::default));
}

/// LimitRange: for `Container` items, default limit from max, default request from the
/// default limit or min; quantities canonical.
pub fn default_limit_range(lr: &mut LimitRange) {
    for item in lr.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
        if item.type_ == "Container" {
            let default = item.default.get_or_insert_with(Default::default);
            for (k, v) in item.max.iter().flatten() {
                default.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let request = item.default_request.get_or_insert_with(Default::default);
            for (k, v) in item.default.iter().flatten() {
                request.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in item.min.iter().flatten() {
                request.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        resources::resource_list(&mut item.max);
        resources::resource_list(&mut item.min);
        resources::resource_list(&mut item.default);
        resources::resource_list(&mut item.default_request);
        resources::resource_list(&mut item.max_limit_request_ratio);
    }
}

/// ResourceQuota: canonical quantities.
pub fn default_resource_quota(rq: &mut ResourceQuota) {
    if let Some(spec) = &mut rq.spec {
        resources::resource_list(&mut spec.hard);
    }
    if let Some(status) = &mut rq.status {
        resources::resource_list(&mut status.hard);
        resources::resource_list(&mut status.used);
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::{apply, apply_on_create};
    use serde_json::json;

    #[test]
    fn service_defaults() {
        for (input, want) in [
            (
                json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
                json!({"spec": {"selector": {"app": "web"},
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                    "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}}),
            ),
            (
                json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}]}}),
                json!({"spec": {"ports": [{"port": 80, "protocol": "UDP", "targetPort": "http"}],
                    "type": "NodePort", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                    "externalTrafficPolicy": "Cluster"}}),
            ),
            (
                json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 443, "targetPort": 0}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb"}]}}}),
                json!({"spec": {"ports": [{"port": 443, "protocol": "TCP", "targetPort": 443}],
                    "type": "LoadBalancer", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                    "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster",
                    "allocateLoadBalancerNodePorts": true},
                    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "lb"}]}}}),
            ),
            (
                json!({"spec": {"type": "ExternalName", "externalName": "example.com",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
                json!({"spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}}),
            ),
            (
                json!({"spec": {"externalIPs": ["1.2.3.4"], "ports": [{"port": 1}]}}),
                json!({"spec": {"externalIPs": ["1.2.3.4"], "ports": [{"port": 1, "protocol": "TCP", "targetPort": 1}],
                    "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                    "externalTrafficPolicy": "Cluster"}}),
            ),
        ] {
            let mut got = input.clone();
            apply("", "Service", &mut got);
            let mut want = want;
            want["metadata"] = json!({});
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn replication_controller_defaults() {
        let mut rc = json!({"metadata": {"name": "mysql"}, "spec": {"template": {
            "metadata": {"labels": {"app": "mysql"}},
            "spec": {"containers": [{"name": "mysql", "image": "mysql:8"}]}}}});
        apply("", "ReplicationController", &mut rc);
        assert_eq!(rc["metadata"]["labels"], json!({"app": "mysql"}));
        assert_eq!(rc["spec"]["selector"], json!({"app": "mysql"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        let spec = &rc["spec"]["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(spec.get("enableServiceLinks").is_none(), "pod-only default");
    }

    #[test]
    fn secret_namespace_and_storage_defaults() {
        let mut s =
            json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee"}});
        apply("", "Secret", &mut s);
        assert_eq!(
            s,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ==", "b": "YmVl"}})
        );

        let mut ns = json!({"metadata": {"name": "team-a"}});
        apply("", "Namespace", &mut ns);
        apply_on_create("", "Namespace", &mut ns);
        assert_eq!(
            ns,
            json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let mut again = ns.clone();
        apply_on_create("", "Namespace", &mut again);
        assert_eq!(again, ns);

        let mut pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}});
        apply("", "PersistentVolumeClaim", &mut pvc);
        assert_eq!(
            pvc,
            json!({"metadata": {}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}})
        );

        let mut pv =
            json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}});
        apply("", "PersistentVolume", &mut pv);
        assert_eq!(
            pv,
            json!({"metadata": {}, "spec": {"capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/data", "type": ""}, "persistentVolumeReclaimPolicy": "Retain",
            "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
        );
    }

    #[test]
    fn node_endpoints_limits() {
        let mut node = json!({"status": {"capacity": {"cpu": "2", "memory": "4096Mi"}}});
        apply("", "Node", &mut node);
        assert_eq!(
            node["status"]["allocatable"],
            json!({"cpu": "2", "memory": "4Gi"})
        );
        assert_eq!(
            node["status"]["capacity"],
            json!({"cpu": "2", "memory": "4Gi"})
        );

        let mut ep =
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        apply("", "Endpoints", &mut ep);
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");

        let mut lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}});
        apply("", "LimitRange", &mut lr);
        assert_eq!(
            lr["spec"]["limits"][0],
            json!({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"},
            "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2", "memory": "64Mi"}})
        );
    }
}
