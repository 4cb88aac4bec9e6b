//! Pod and pod-template defaults (`SetDefaults_Pod`, `SetDefaults_PodSpec`, and the container,
//! probe, volume and resource defaults the generated defaulters apply).

use super::image::default_pull_policy;
use super::resources;
use super::{or_set, or_set_str};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, HTTPGetAction, Lifecycle, PersistentVolumeClaimSpec, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume,
};

/// Mode upstream gives secret, configMap, downwardAPI and projected volumes (0644).
pub const DEFAULT_MODE: i32 = 0o644;

/// Defaults of a Pod: the spec's defaults plus the Pod-only ones (requests from limits,
/// `enableServiceLinks`, host ports under host networking).
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        let res = c.resources.get_or_insert_with(Default::default);
        if let Some(limits) = &res.limits {
            let requests = res.requests.get_or_insert_with(Default::default);
            for (k, v) in limits {
                requests.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    or_set(&mut spec.enable_service_links, true);
    if spec.host_network == Some(true) {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
    default_pod_spec(spec);
}

/// Defaults of a pod template (the spec's defaults only; Pod-only ones are not applied).
pub fn default_template(t: &mut PodTemplateSpec) {
    default_pod_spec(t.spec.get_or_insert_with(Default::default));
}

/// Defaults of a pod spec, in a Pod or a template: DNS and restart policy, grace period,
/// scheduler, security context, volumes, containers and overhead.
pub fn default_pod_spec(spec: &mut PodSpec) {
    or_set_str(&mut spec.dns_policy, "ClusterFirst");
    or_set_str(&mut spec.restart_policy, "Always");
    or_set(&mut spec.security_context, PodSecurityContext::default());
    or_set(&mut spec.termination_grace_period_seconds, 30);
    or_set_str(&mut spec.scheduler_name, "default-scheduler");
    // The deprecated `serviceAccount` mirrors `serviceAccountName` (upstream's conversion).
    let sa_name = spec.service_account_name.as_deref().unwrap_or("");
    if sa_name.is_empty() {
        if let Some(sa) = spec.service_account.as_ref().filter(|s| !s.is_empty()) {
            spec.service_account_name = Some(sa.clone());
        }
    } else {
        spec.service_account = Some(sa_name.to_string());
    }
    for v in spec.volumes.iter_mut().flatten() {
        default_volume(v);
    }
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        default_container(c);
    }
    for ec in spec.ephemeral_containers.iter_mut().flatten() {
        if ec.image_pull_policy.as_deref().unwrap_or("").is_empty() {
            ec.image_pull_policy =
                Some(default_pull_policy(ec.image.as_deref().unwrap_or("")).to_string());
        }
        or_set_str(&mut ec.termination_message_path, "/dev/termination-log");
        or_set_str(&mut ec.termination_message_policy, "File");
        for p in ec.ports.iter_mut().flatten() {
            or_set_str(&mut p.protocol, "TCP");
        }
        for e in ec.env.iter_mut().flatten() {
            if let Some(fr) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
                or_set_str(&mut fr.api_version, "v1");
            }
        }
        let res = ec.resources.get_or_insert_with(Default::default);
        resources::resource_list(&mut res.limits);
        resources::resource_list(&mut res.requests);
        for p in [
            &mut ec.liveness_probe,
            &mut ec.readiness_probe,
            &mut ec.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            default_probe(p);
        }
        if let Some(l) = &mut ec.lifecycle {
            default_lifecycle(l);
        }
    }
    resources::resource_list(&mut spec.overhead);
}

/// Container defaults: pull policy from the image tag, termination message, port protocols,
/// downward API versions, canonical resources, probe timings.
pub fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        c.image_pull_policy =
            Some(default_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
    }
    or_set_str(&mut c.termination_message_path, "/dev/termination-log");
    or_set_str(&mut c.termination_message_policy, "File");
    for p in c.ports.iter_mut().flatten() {
        or_set_str(&mut p.protocol, "TCP");
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(fr) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            or_set_str(&mut fr.api_version, "v1");
        }
        if let Some(rf) = e
            .value_from
            .as_mut()
            .and_then(|v| v.resource_field_ref.as_mut())
        {
            resources::quantity(&mut rf.divisor);
        }
    }
    let res: &mut ResourceRequirements = c.resources.get_or_insert_with(Default::default);
    resources::resource_list(&mut res.limits);
    resources::resource_list(&mut res.requests);
    for p in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(p);
    }
    if let Some(l) = &mut c.lifecycle {
        default_lifecycle(l);
    }
}

fn zero_or_unset(v: &mut Option<i32>, value: i32) {
    if v.unwrap_or(0) == 0 {
        *v = Some(value);
    }
}

fn default_http_get(h: &mut HTTPGetAction) {
    or_set_str(&mut h.path, "/");
    or_set_str(&mut h.scheme, "HTTP");
}

/// Probe defaults: timeout 1s, period 10s, success 1, failure 3; HTTP path `/`, scheme HTTP;
/// gRPC service `""`.
pub fn default_probe(p: &mut Probe) {
    zero_or_unset(&mut p.timeout_seconds, 1);
    zero_or_unset(&mut p.period_seconds, 10);
    zero_or_unset(&mut p.success_threshold, 1);
    zero_or_unset(&mut p.failure_threshold, 3);
    if let Some(h) = &mut p.http_get {
        default_http_get(h);
    }
    if let Some(g) = &mut p.grpc {
        or_set(&mut g.service, String::new());
    }
}

fn default_lifecycle(l: &mut Lifecycle) {
    for h in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
        if let Some(hg) = &mut h.http_get {
            default_http_get(hg);
        }
    }
}

fn has_source(v: &Volume) -> bool {
    v.aws_elastic_block_store.is_some()
        || v.azure_disk.is_some()
        || v.azure_file.is_some()
        || v.cephfs.is_some()
        || v.cinder.is_some()
        || v.config_map.is_some()
        || v.csi.is_some()
        || v.downward_api.is_some()
        || v.empty_dir.is_some()
        || v.ephemeral.is_some()
        || v.fc.is_some()
        || v.flex_volume.is_some()
        || v.flocker.is_some()
        || v.gce_persistent_disk.is_some()
        || v.git_repo.is_some()
        || v.glusterfs.is_some()
        || v.host_path.is_some()
        || v.image.is_some()
        || v.iscsi.is_some()
        || v.nfs.is_some()
        || v.persistent_volume_claim.is_some()
        || v.photon_persistent_disk.is_some()
        || v.portworx_volume.is_some()
        || v.projected.is_some()
        || v.quobyte.is_some()
        || v.rbd.is_some()
        || v.scale_io.is_some()
        || v.secret.is_some()
        || v.storageos.is_some()
        || v.vsphere_volume.is_some()
}

/// Volume defaults: `emptyDir: {}` when no source is given, file modes 0644, hostPath type
/// `""`, token expiry 1h, and the legacy drivers' defaults.
pub fn default_volume(v: &mut Volume) {
    if !has_source(v) {
        v.empty_dir = Some(EmptyDirVolumeSource::default());
    }
    if let Some(e) = &mut v.empty_dir {
        resources::quantity(&mut e.size_limit);
    }
    if let Some(hp) = &mut v.host_path {
        or_set(&mut hp.type_, String::new());
    }
    if let Some(s) = &mut v.secret {
        or_set(&mut s.default_mode, DEFAULT_MODE);
    }
    if let Some(c) = &mut v.config_map {
        or_set(&mut c.default_mode, DEFAULT_MODE);
    }
    if let Some(d) = &mut v.downward_api {
        or_set(&mut d.default_mode, DEFAULT_MODE);
        for f in d.items.iter_mut().flatten() {
            if let Some(fr) = &mut f.field_ref {
                or_set_str(&mut fr.api_version, "v1");
            }
            if let Some(rf) = &mut f.resource_field_ref {
                resources::quantity(&mut rf.divisor);
            }
        }
    }
    if let Some(p) = &mut v.projected {
        or_set(&mut p.default_mode, DEFAULT_MODE);
        for src in p.sources.iter_mut().flatten() {
            if let Some(d) = &mut src.downward_api {
                for f in d.items.iter_mut().flatten() {
                    if let Some(fr) = &mut f.field_ref {
                        or_set_str(&mut fr.api_version, "v1");
                    }
                }
            }
            if let Some(t) = &mut src.service_account_token {
                or_set(&mut t.expiration_seconds, 3600);
            }
        }
    }
    if let Some(i) = &mut v.iscsi {
        or_set_str(&mut i.iscsi_interface, "default");
    }
    if let Some(r) = &mut v.rbd {
        or_set_str(&mut r.pool, "rbd");
        or_set_str(&mut r.user, "admin");
        or_set_str(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(a) = &mut v.azure_disk {
        or_set(&mut a.caching_mode, "ReadWrite".to_string());
        or_set(&mut a.kind, "Shared".to_string());
        or_set(&mut a.fs_type, "ext4".to_string());
        or_set(&mut a.read_only, false);
    }
    if let Some(s) = &mut v.scale_io {
        or_set_str(&mut s.storage_mode, "ThinProvisioned");
        or_set_str(&mut s.fs_type, "xfs");
    }
    if let Some(t) = v
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
    {
        default_pvc_spec(&mut t.spec);
    }
}

/// PVC spec defaults: `volumeMode: Filesystem`, canonical resources.
pub fn default_pvc_spec(spec: &mut PersistentVolumeClaimSpec) {
    or_set(&mut spec.volume_mode, "Filesystem".to_string());
    if let Some(r) = &mut spec.resources {
        resources::resource_list(&mut r.limits);
        resources::resource_list(&mut r.requests);
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn minimal_pod_gets_every_default() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}]}]}});
        apply("", "Pod", &mut pod);
        assert_eq!(
            pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "containers": [{"name": "web", "image": "nginx",
                        "imagePullPolicy": "Always",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst",
                    "enableServiceLinks": true,
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30}})
        );
    }

    #[test]
    fn containers_probes_volumes_and_resources() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {
            "serviceAccountName": "builder",
            "containers": [{"name": "c", "image": "nginx:1.25",
                "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": "100m"}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "livenessProbe": {"httpGet": {"port": 8080}},
                "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 0},
                "lifecycle": {"preStop": {"httpGet": {"port": 80}}}}],
            "volumes": [
                {"name": "scratch"},
                {"name": "s", "secret": {"secretName": "x"}},
                {"name": "cm", "configMap": {"name": "y"}},
                {"name": "h", "hostPath": {"path": "/tmp"}},
                {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}},
                    {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
                {"name": "e", "emptyDir": {"sizeLimit": "1024Mi"}}]}});
        apply("", "Pod", &mut pod);
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            c["resources"],
            json!({"limits": {"cpu": "500m", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "1Gi"}})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            c["readinessProbe"]["grpc"],
            json!({"port": 9000, "service": ""})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
        assert_eq!(
            c["lifecycle"]["preStop"]["httpGet"],
            json!({"path": "/", "port": 80, "scheme": "HTTP"})
        );
        let v = &pod["spec"]["volumes"];
        assert_eq!(v[0], json!({"name": "scratch", "emptyDir": {}}));
        assert_eq!(v[1]["secret"]["defaultMode"], 420);
        assert_eq!(v[2]["configMap"]["defaultMode"], 420);
        assert_eq!(v[3]["hostPath"], json!({"path": "/tmp", "type": ""}));
        assert_eq!(v[4]["projected"]["defaultMode"], 420);
        assert_eq!(
            v[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );
        assert_eq!(
            v[4]["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"],
            "v1"
        );
        assert_eq!(v[5]["emptyDir"]["sizeLimit"], "1Gi");
        assert_eq!(pod["spec"]["serviceAccount"], "builder");
    }

    #[test]
    fn host_network_defaults_host_ports_and_legacy_service_account() {
        let mut pod = json!({"spec": {"hostNetwork": true, "serviceAccount": "old",
            "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}});
        apply("", "Pod", &mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["ports"][0],
            json!({"containerPort": 53, "hostPort": 53, "protocol": "UDP"})
        );
        assert_eq!(pod["spec"]["serviceAccountName"], "old");
    }

    #[test]
    fn defaults_are_idempotent() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"limits": {"cpu": "1"}}}]}});
        apply("", "Pod", &mut pod);
        let once = pod.clone();
        apply("", "Pod", &mut pod);
        assert_eq!(pod, once);
    }
}
