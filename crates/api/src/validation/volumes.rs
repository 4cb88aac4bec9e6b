//! Pod volumes (upstream's `ValidateVolumes` / `validateVolumeSource`): unique DNS-label names,
//! exactly one source per volume, and each common source's own rules.

use super::names;
use super::{Errors, Path, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, Volume};
use serde_json::Value;
use std::collections::BTreeMap;

/// What containers need to know about a valid volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Backed by a PVC (directly or ephemeral): usable as a block device.
    pub pvc_like: bool,
    /// An image volume: no subPath allowed.
    pub image: bool,
}

/// Valid volumes by name, as container mounts resolve them.
pub type VolumeMap = BTreeMap<String, VolumeInfo>;

const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Downward API paths a volume file may project.
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// Checks `volumes`; `pod_name` is the pod's own name when validating a real pod (used to name
/// the PVCs of ephemeral volumes). Returns the valid volumes for mount checks.
pub fn validate_volumes(
    volumes: &[Volume],
    pod_name: Option<&str>,
    path: &Path,
) -> (VolumeMap, Errors) {
    let mut errs = Vec::new();
    let mut map = VolumeMap::new();
    let created_pvcs: Vec<String> = match pod_name {
        Some(pod) if !pod.is_empty() => volumes
            .iter()
            .filter(|v| v.ephemeral.is_some())
            .map(|v| format!("{pod}-{}", v.name))
            .collect(),
        _ => Vec::new(),
    };
    for (i, v) in volumes.iter().enumerate() {
        let ip = path.index(i);
        let name_path = ip.child("name");
        let mut el = validate_volume_source(v, &ip, pod_name);
        if v.name.is_empty() {
            el.push(FieldCause::required(&name_path));
        } else {
            for msg in names::dns1123_label(&v.name) {
                el.push(FieldCause::invalid(&name_path, &jstr(&v.name), msg));
            }
        }
        if map.contains_key(&v.name) {
            el.push(FieldCause::duplicate(&name_path, &jstr(&v.name)));
        }
        if el.is_empty() {
            map.insert(
                v.name.clone(),
                VolumeInfo {
                    pvc_like: v.persistent_volume_claim.is_some() || v.ephemeral.is_some(),
                    image: v.image.is_some(),
                },
            );
        } else {
            errs.extend(el);
        }
        if let Some(pvc) = &v.persistent_volume_claim
            && created_pvcs.contains(&pvc.claim_name)
        {
            errs.push(FieldCause::invalid(
                ip.child("persistentVolumeClaim").child("claimName"),
                &jstr(&pvc.claim_name),
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    (map, errs)
}

/// Counts set sources and runs each source's checks; more than one or none is an error.
fn validate_volume_source(v: &Volume, path: &Path, pod_name: Option<&str>) -> Errors {
    let mut errs = Vec::new();
    let mut count = 0;
    let mut one = |present: bool, field: &str, errs: &mut Errors| -> bool {
        if !present {
            return false;
        }
        if count > 0 {
            errs.push(FieldCause::forbidden(
                path.child(field),
                "may not specify more than 1 volume type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if one(v.empty_dir.is_some(), "emptyDir", &mut errs)
        && let Some(size) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref())
        && let Ok(Some(q)) = super::quantity::Quantity::parse(&size.0)
        && q.signum() < 0
    {
        errs.push(FieldCause::forbidden(
            path.child("emptyDir").child("sizeLimit"),
            "SizeLimit field must be a valid resource quantity",
        ));
    }
    if one(v.host_path.is_some(), "hostPath", &mut errs)
        && let Some(hp) = &v.host_path
    {
        errs.extend(validate_host_path(
            &hp.path,
            hp.type_.as_deref(),
            &path.child("hostPath"),
        ));
    }
    if one(v.git_repo.is_some(), "gitRepo", &mut errs)
        && let Some(g) = &v.git_repo
    {
        let p = path.child("gitRepo");
        if g.repository.is_empty() {
            errs.push(FieldCause::required(p.child("repository")));
        }
        errs.extend(local_descending_path(
            s(&g.directory),
            &p.child("directory"),
        ));
    }
    if one(
        v.gce_persistent_disk.is_some(),
        "gcePersistentDisk",
        &mut errs,
    ) && let Some(pd) = &v.gce_persistent_disk
        && pd.pd_name.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("persistentDisk").child("pdName"),
        ));
    }
    if one(
        v.aws_elastic_block_store.is_some(),
        "awsElasticBlockStore",
        &mut errs,
    ) && let Some(pd) = &v.aws_elastic_block_store
        && pd.volume_id.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("awsElasticBlockStore").child("volumeID"),
        ));
    }
    if one(v.secret.is_some(), "secret", &mut errs)
        && let Some(sec) = &v.secret
    {
        let p = path.child("secret");
        if s(&sec.secret_name).is_empty() {
            errs.push(FieldCause::required(p.child("secretName")));
        }
        errs.extend(file_mode(sec.default_mode, &p.child("defaultMode")));
        for (i, kp) in sec.items.iter().flatten().enumerate() {
            errs.extend(key_to_path(kp, &p.child("items").index(i)));
        }
    }
    if one(v.nfs.is_some(), "nfs", &mut errs)
        && let Some(nfs) = &v.nfs
    {
        let p = path.child("nfs");
        if nfs.server.is_empty() {
            errs.push(FieldCause::required(p.child("server")));
        }
        if nfs.path.is_empty() {
            errs.push(FieldCause::required(p.child("path")));
        }
        if !nfs.path.starts_with('/') {
            errs.push(FieldCause::invalid(
                p.child("path"),
                &jstr(&nfs.path),
                "must be an absolute path",
            ));
        }
    }
    if one(v.iscsi.is_some(), "iscsi", &mut errs)
        && let Some(iscsi) = &v.iscsi
    {
        let p = path.child("iscsi");
        if iscsi.target_portal.is_empty() {
            errs.push(FieldCause::required(p.child("targetPortal")));
        }
        if iscsi.iqn.is_empty() {
            errs.push(FieldCause::required(p.child("iqn")));
        }
        if !(0..=255).contains(&iscsi.lun) {
            errs.push(FieldCause::invalid(
                p.child("lun"),
                &Value::from(iscsi.lun),
                names::inclusive_range_error(0, 255),
            ));
        }
    }
    if one(v.glusterfs.is_some(), "glusterfs", &mut errs)
        && let Some(g) = &v.glusterfs
    {
        let p = path.child("glusterfs");
        if g.endpoints.is_empty() {
            errs.push(FieldCause::required(p.child("endpoints")));
        }
        if g.path.is_empty() {
            errs.push(FieldCause::required(p.child("path")));
        }
    }
    if one(v.flocker.is_some(), "flocker", &mut errs)
        && let Some(f) = &v.flocker
    {
        let p = path.child("flocker");
        let (n, u) = (s(&f.dataset_name), s(&f.dataset_uuid));
        if n.is_empty() && u.is_empty() {
            errs.push(FieldCause::required_detail(
                &p,
                "one of datasetName and datasetUUID is required",
            ));
        }
        if !n.is_empty() && !u.is_empty() {
            errs.push(FieldCause::invalid(
                &p,
                &jstr("resource"),
                "datasetName and datasetUUID can not be specified simultaneously",
            ));
        }
        if n.contains('/') {
            errs.push(FieldCause::invalid(
                p.child("datasetName"),
                &jstr(n),
                "must not contain '/'",
            ));
        }
    }
    if one(
        v.persistent_volume_claim.is_some(),
        "persistentVolumeClaim",
        &mut errs,
    ) && let Some(pvc) = &v.persistent_volume_claim
        && pvc.claim_name.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("persistentVolumeClaim").child("claimName"),
        ));
    }
    if one(v.rbd.is_some(), "rbd", &mut errs)
        && let Some(rbd) = &v.rbd
    {
        let p = path.child("rbd");
        if rbd.monitors.is_empty() {
            errs.push(FieldCause::required(p.child("monitors")));
        }
        if rbd.image.is_empty() {
            errs.push(FieldCause::required(p.child("image")));
        }
    }
    if one(v.cinder.is_some(), "cinder", &mut errs)
        && let Some(c) = &v.cinder
        && c.volume_id.is_empty()
    {
        errs.push(FieldCause::required(path.child("cinder").child("volumeID")));
    }
    if one(v.cephfs.is_some(), "cephFS", &mut errs)
        && let Some(c) = &v.cephfs
        && c.monitors.is_empty()
    {
        errs.push(FieldCause::required(path.child("cephfs").child("monitors")));
    }
    if one(v.quobyte.is_some(), "quobyte", &mut errs)
        && let Some(q) = &v.quobyte
    {
        let p = path.child("quobyte");
        if q.registry.is_empty() {
            errs.push(FieldCause::required_detail(
                p.child("registry"),
                "must be a host:port pair or multiple pairs separated by commas",
            ));
        }
        if q.volume.is_empty() {
            errs.push(FieldCause::required(p.child("volume")));
        }
    }
    if one(v.downward_api.is_some(), "downwarAPI", &mut errs)
        && let Some(d) = &v.downward_api
    {
        let p = path.child("downwardAPI");
        errs.extend(file_mode(d.default_mode, &p.child("defaultMode")));
        for f in d.items.iter().flatten() {
            errs.extend(downward_api_file(f, &p));
        }
    }
    if one(v.fc.is_some(), "fc", &mut errs)
        && let Some(fc) = &v.fc
    {
        let p = path.child("fc");
        let wwns = fc.target_wwns.as_deref().unwrap_or_default();
        let wwids = fc.wwids.as_deref().unwrap_or_default();
        if wwns.is_empty() && wwids.is_empty() {
            errs.push(FieldCause::required_detail(
                p.child("targetWWNs"),
                "must specify either targetWWNs or wwids, but not both",
            ));
        }
        if !wwns.is_empty() && !wwids.is_empty() {
            errs.push(FieldCause::invalid_rendered(
                p.child("targetWWNs"),
                super::go_strings(Some(wwns)),
                "targetWWNs and wwids can not be specified simultaneously",
            ));
        }
        if !wwns.is_empty() {
            match fc.lun {
                None => errs.push(FieldCause::required_detail(
                    p.child("lun"),
                    "lun is required if targetWWNs is specified",
                )),
                Some(l) if !(0..=255).contains(&l) => errs.push(FieldCause::invalid(
                    p.child("lun"),
                    &Value::from(l),
                    names::inclusive_range_error(0, 255),
                )),
                _ => {}
            }
        }
    }
    if one(v.flex_volume.is_some(), "flexVolume", &mut errs)
        && let Some(f) = &v.flex_volume
        && f.driver.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("flexVolume").child("driver"),
        ));
    }
    if one(v.config_map.is_some(), "configMap", &mut errs)
        && let Some(cm) = &v.config_map
    {
        let p = path.child("configMap");
        if cm.name.is_empty() {
            errs.push(FieldCause::required(p.child("name")));
        }
        errs.extend(file_mode(cm.default_mode, &p.child("defaultMode")));
        for (i, kp) in cm.items.iter().flatten().enumerate() {
            errs.extend(key_to_path(kp, &p.child("items").index(i)));
        }
    }
    if one(v.azure_file.is_some(), "azureFile", &mut errs)
        && let Some(a) = &v.azure_file
    {
        let p = path.child("azureFile");
        if a.secret_name.is_empty() {
            errs.push(FieldCause::required(p.child("secretName")));
        }
        if a.share_name.is_empty() {
            errs.push(FieldCause::required(p.child("shareName")));
        }
    }
    if one(v.vsphere_volume.is_some(), "vsphereVolume", &mut errs)
        && let Some(vs) = &v.vsphere_volume
        && vs.volume_path.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("vsphereVolume").child("volumePath"),
        ));
    }
    if one(
        v.photon_persistent_disk.is_some(),
        "photonPersistentDisk",
        &mut errs,
    ) && let Some(pd) = &v.photon_persistent_disk
        && pd.pd_id.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("photonPersistentDisk").child("pdID"),
        ));
    }
    if one(v.portworx_volume.is_some(), "portworxVolume", &mut errs)
        && let Some(pw) = &v.portworx_volume
        && pw.volume_id.is_empty()
    {
        errs.push(FieldCause::required(
            path.child("portworxVolume").child("volumeID"),
        ));
    }
    if one(v.azure_disk.is_some(), "azureDisk", &mut errs)
        && let Some(a) = &v.azure_disk
    {
        let p = path.child("azureDisk");
        if a.disk_name.is_empty() {
            errs.push(FieldCause::required(p.child("diskName")));
        }
        if a.disk_uri.is_empty() {
            errs.push(FieldCause::required(p.child("diskURI")));
        }
        if let Some(mode) = &a.caching_mode
            && !["None", "ReadOnly", "ReadWrite"].contains(&mode.as_str())
        {
            errs.push(FieldCause::not_supported(
                p.child("cachingMode"),
                &jstr(mode),
                &["None", "ReadOnly", "ReadWrite"],
            ));
        }
        if let Some(kind) = &a.kind
            && !["Dedicated", "Managed", "Shared"].contains(&kind.as_str())
        {
            errs.push(FieldCause::not_supported(
                p.child("kind"),
                &jstr(kind),
                &["Dedicated", "Managed", "Shared"],
            ));
        }
    }
    if one(v.storageos.is_some(), "storageos", &mut errs)
        && let Some(so) = &v.storageos
    {
        let p = path.child("storageos");
        let n = s(&so.volume_name);
        if n.is_empty() {
            errs.push(FieldCause::required(p.child("volumeName")));
        } else {
            for msg in names::dns1123_label(n) {
                errs.push(FieldCause::invalid(p.child("volumeName"), &jstr(n), msg));
            }
        }
    }
    if one(v.projected.is_some(), "projected", &mut errs)
        && let Some(pr) = &v.projected
    {
        errs.extend(projected(pr, &path.child("projected")));
    }
    if one(v.scale_io.is_some(), "scaleIO", &mut errs)
        && let Some(sio) = &v.scale_io
    {
        let p = path.child("scaleIO");
        if sio.gateway.is_empty() {
            errs.push(FieldCause::required(p.child("gateway")));
        }
        if sio.system.is_empty() {
            errs.push(FieldCause::required(p.child("system")));
        }
        if s(&sio.volume_name).is_empty() {
            errs.push(FieldCause::required(p.child("volumeName")));
        }
    }
    if one(v.csi.is_some(), "csi", &mut errs)
        && let Some(csi) = &v.csi
    {
        let p = path.child("csi");
        errs.extend(csi_driver_name(&csi.driver, &p.child("driver")));
        if let Some(r) = &csi.node_publish_secret_ref {
            if r.name.is_empty() {
                errs.push(FieldCause::required(
                    p.child("nodePublishSecretRef").child("name"),
                ));
            } else {
                for msg in names::dns1123_subdomain(&r.name) {
                    errs.push(FieldCause::invalid(p.child("name"), &jstr(&r.name), msg));
                }
            }
        }
    }
    if one(v.ephemeral.is_some(), "ephemeral", &mut errs)
        && let Some(eph) = &v.ephemeral
    {
        let p = path.child("ephemeral");
        match &eph.volume_claim_template {
            None => errs.push(FieldCause::required(p.child("volumeClaimTemplate"))),
            Some(t) => {
                let tp = p.child("volumeClaimTemplate");
                errs.extend(super::meta::validate_template_meta(
                    t.metadata.as_ref(),
                    &tp.child("metadata"),
                ));
                if let Some(meta) = &t.metadata {
                    let set = meta.name.is_some()
                        || meta.generate_name.is_some()
                        || meta.namespace.is_some()
                        || meta.uid.is_some()
                        || meta.finalizers.is_some()
                        || meta.owner_references.is_some();
                    if set {
                        errs.push(FieldCause::forbidden(tp.child("metadata"), "cannot be set"));
                    }
                }
                errs.extend(super::core::validate_pvc_spec(&t.spec, &tp.child("spec")));
                if let Some(pod) = pod_name
                    && !pod.is_empty()
                    && !v.name.is_empty()
                {
                    let pvc = format!("{pod}-{}", v.name);
                    for msg in names::dns1123_subdomain(&pvc) {
                        errs.push(FieldCause::invalid(
                            path.child("name"),
                            &jstr(&v.name),
                            format!("PVC name {pvc:?}: {msg}"),
                        ));
                    }
                }
            }
        }
    }
    if one(v.image.is_some(), "image", &mut errs)
        && let Some(img) = &v.image
    {
        let p = path.child("image");
        if pod_name.is_some() && s(&img.reference).is_empty() {
            errs.push(FieldCause::required(p.child("reference")));
        }
        if let Some(pp) = &img.pull_policy {
            errs.extend(super::pod::validate_pull_policy(pp, &p.child("pullPolicy")));
        }
    }
    if count == 0 {
        errs.push(FieldCause::required_detail(
            path,
            "must specify a volume type",
        ));
    }
    errs
}

/// Host path: required, no `..`, a known type.
pub(crate) fn validate_host_path(p: &str, type_: Option<&str>, path: &Path) -> Errors {
    if p.is_empty() {
        return vec![FieldCause::required(path.child("path"))];
    }
    let mut errs = no_backsteps(p, &path.child("path"));
    const TYPES: &[&str] = &[
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(t) = type_
        && !TYPES.contains(&t)
    {
        errs.push(FieldCause::not_supported(
            path.child("type"),
            &jstr(t),
            TYPES,
        ));
    }
    errs
}

/// A CSI driver name: required, at most 63 characters, a DNS subdomain (case-insensitive).
pub(crate) fn csi_driver_name(driver: &str, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if driver.is_empty() {
        errs.push(FieldCause::required(path));
    }
    if driver.len() > 63 {
        errs.push(FieldCause::too_long(path, 63));
    }
    for msg in names::dns1123_subdomain(&driver.to_lowercase()) {
        errs.push(FieldCause::invalid(path, &jstr(driver), msg));
    }
    errs
}

fn file_mode(mode: Option<i32>, path: &Path) -> Errors {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldCause::invalid(path, &Value::from(m), FILE_MODE_ERROR)]
        }
        _ => Vec::new(),
    }
}

/// `must not contain '..'` when any path element is `..`.
pub(crate) fn no_backsteps(p: &str, path: &Path) -> Errors {
    if p.replace('\\', "/").split('/').any(|e| e == "..") {
        vec![FieldCause::invalid(path, &jstr(p), "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// A relative path without `..` elements.
pub(crate) fn local_descending_path(p: &str, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if p.starts_with('/') {
        errs.push(FieldCause::invalid(
            path,
            &jstr(p),
            "must be a relative path",
        ));
    }
    errs.extend(no_backsteps(p, path));
    errs
}

/// A relative path without `..` elements that does not start with `..`.
pub(crate) fn local_non_reserved_path(p: &str, path: &Path) -> Errors {
    let mut errs = local_descending_path(p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldCause::invalid(
            path,
            &jstr(p),
            "must not start with '..'",
        ));
    }
    errs
}

fn key_to_path(kp: &KeyToPath, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if kp.key.is_empty() {
        errs.push(FieldCause::required(path.child("key")));
    }
    if kp.path.is_empty() {
        errs.push(FieldCause::required(path.child("path")));
    }
    errs.extend(local_non_reserved_path(&kp.path, &path.child("path")));
    errs.extend(file_mode(kp.mode, &path.child("mode")));
    errs
}

fn downward_api_file(f: &DownwardAPIVolumeFile, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if f.path.is_empty() {
        errs.push(FieldCause::required(path.child("path")));
    }
    errs.extend(local_non_reserved_path(&f.path, &path.child("path")));
    if let Some(fr) = &f.field_ref {
        errs.extend(object_field_selector(
            fr,
            VOLUME_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
        if f.resource_field_ref.is_some() {
            errs.push(FieldCause::invalid(
                path,
                &jstr("resource"),
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if let Some(rf) = &f.resource_field_ref {
        errs.extend(super::pod::resource_field_selector(
            rf,
            &path.child("resourceFieldRef"),
            true,
        ));
    } else {
        errs.push(FieldCause::required_detail(
            path,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    errs.extend(file_mode(f.mode, &path.child("mode")));
    errs
}

/// A downward API field reference: apiVersion and fieldPath set, a supported path (labels and
/// annotations may be subscripted).
pub(crate) fn object_field_selector(
    fs: &ObjectFieldSelector,
    allowed: &[&str],
    path: &Path,
) -> Errors {
    let api_version = s(&fs.api_version);
    if api_version.is_empty() {
        return vec![FieldCause::required(path.child("apiVersion"))];
    }
    if fs.field_path.is_empty() {
        return vec![FieldCause::required(path.child("fieldPath"))];
    }
    if api_version != "v1" {
        return vec![FieldCause::invalid(
            path.child("fieldPath"),
            &jstr(&fs.field_path),
            format!("error converting fieldPath: unsupported pod version: {api_version}"),
        )];
    }
    let fp = fs.field_path.as_str();
    if let Some((base, rest)) = fp.split_once('[')
        && let Some(sub) = rest.strip_suffix(']')
    {
        let sub = sub.trim_matches('\'');
        return match base {
            "metadata.annotations" => {
                super::meta::validate_qualified_name(&sub.to_lowercase(), path)
            }
            "metadata.labels" => super::meta::validate_qualified_name(sub, path),
            _ => vec![FieldCause::invalid(
                path,
                &jstr(base),
                "does not support subscript",
            )],
        };
    }
    if !allowed.contains(&fp) {
        return vec![FieldCause::not_supported(
            path.child("fieldPath"),
            &jstr(fp),
            allowed,
        )];
    }
    Vec::new()
}

fn projected(pr: &k8s_openapi::api::core::v1::ProjectedVolumeSource, path: &Path) -> Errors {
    let mut errs = file_mode(pr.default_mode, &path.child("defaultMode"));
    let mut paths: Vec<String> = Vec::new();
    let mut seen = |p: &str, name: &str, errs: &mut Errors| {
        if p.is_empty() {
            return;
        }
        if paths.iter().any(|x| x == p) {
            errs.push(FieldCause::invalid(
                path,
                &jstr(name),
                "conflicting duplicate paths",
            ));
        } else {
            paths.push(p.to_string());
        }
    };
    for (i, src) in pr.sources.iter().flatten().enumerate() {
        let sp = path.child("sources").index(i);
        let mut n = 0;
        if let Some(sec) = &src.secret {
            n += 1;
            let p = sp.child("secret");
            if sec.name.is_empty() {
                errs.push(FieldCause::required(p.child("name")));
            }
            for (j, kp) in sec.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(j)));
                seen(&kp.path, &sec.name, &mut errs);
            }
        }
        if let Some(cm) = &src.config_map {
            n += 1;
            let p = sp.child("configMap");
            if cm.name.is_empty() {
                errs.push(FieldCause::required(p.child("name")));
            }
            for (j, kp) in cm.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(j)));
                seen(&kp.path, &cm.name, &mut errs);
            }
        }
        if let Some(d) = &src.downward_api {
            n += 1;
            let p = sp.child("downwardAPI");
            for f in d.items.iter().flatten() {
                errs.extend(downward_api_file(f, &p));
                seen(&f.path, &f.path, &mut errs);
            }
        }
        if let Some(t) = &src.service_account_token {
            n += 1;
            let p = sp.child("serviceAccountToken");
            let exp = t.expiration_seconds.unwrap_or(3600);
            if exp < 600 {
                errs.push(FieldCause::invalid(
                    p.child("expirationSeconds"),
                    &Value::from(exp),
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(FieldCause::invalid(
                    p.child("expirationSeconds"),
                    &Value::from(exp),
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(FieldCause::required(path.child("path")));
            } else {
                errs.extend(local_non_reserved_path(&t.path, &path.child("path")));
            }
        }
        if let Some(ctb) = &src.cluster_trust_bundle {
            n += 1;
            let p = sp.child("clusterTrustBundle");
            match (&ctb.name, &ctb.signer_name) {
                (Some(_), Some(_)) => errs.push(FieldCause::invalid_rendered(
                    &p,
                    super::json_of(ctb),
                    "only one of name and signerName may be used",
                )),
                (Some(name), None) if name.is_empty() => errs.push(FieldCause::required_detail(
                    p.child("name"),
                    "must be a valid object name",
                )),
                (None, Some(signer)) if signer.is_empty() => {
                    errs.push(FieldCause::required_detail(
                        p.child("signerName"),
                        "must be a valid signer name",
                    ))
                }
                (None, None) => errs.push(FieldCause::required_detail(
                    &p,
                    "either name or signerName must be specified",
                )),
                _ => {}
            }
            if ctb.path.is_empty() {
                errs.push(FieldCause::required(p.child("path")));
            }
            errs.extend(local_non_reserved_path(&ctb.path, &p.child("path")));
            seen(&ctb.path, &ctb.path, &mut errs);
        }
        if n > 1 {
            errs.push(FieldCause::forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    fn vols(v: Value) -> Vec<Volume> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_sources_and_duplicates() {
        let (map, errs) = validate_volumes(
            &vols(json!([
                {"name": "a", "emptyDir": {}},
                {"name": "a", "emptyDir": {}},
                {"name": "B", "emptyDir": {}},
                {"name": "c"},
                {"name": "d", "emptyDir": {}, "hostPath": {"path": "/x"}},
                {"name": "", "configMap": {"name": "cm"}}
            ])),
            None,
            &Path::new("spec.volumes"),
        );
        assert!(map.contains_key("a"));
        assert_has(&errs, "spec.volumes[1].name", "Duplicate value: \"a\"");
        assert_has_prefix(
            &errs,
            "spec.volumes[2].name",
            "Invalid value: \"B\": a lowercase RFC 1123 label",
        );
        assert_has(
            &errs,
            "spec.volumes[3]",
            "Required value: must specify a volume type",
        );
        assert_has(
            &errs,
            "spec.volumes[4].hostPath",
            "Forbidden: may not specify more than 1 volume type",
        );
        assert_has(&errs, "spec.volumes[5].name", "Required value");
    }

    #[test]
    fn source_rules() {
        let (_, errs) = validate_volumes(
            &vols(json!([
                {"name": "s", "secret": {"defaultMode": 1000, "items": [{"key": "", "path": "../x"}]}},
                {"name": "h", "hostPath": {"path": "/a/../b", "type": "Weird"}},
                {"name": "n", "nfs": {"server": "s", "path": "rel"}},
                {"name": "p", "persistentVolumeClaim": {"claimName": ""}},
                {"name": "d", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}]}},
                {"name": "pr", "projected": {"sources": [{"secret": {"name": "a"}, "configMap": {"name": "b"}}]}}
            ])),
            None,
            &Path::new("spec.volumes"),
        );
        assert_has(&errs, "spec.volumes[0].secret.secretName", "Required value");
        assert_has(
            &errs,
            "spec.volumes[0].secret.defaultMode",
            "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
        );
        assert_has(
            &errs,
            "spec.volumes[0].secret.items[0].key",
            "Required value",
        );
        assert_has(
            &errs,
            "spec.volumes[0].secret.items[0].path",
            "Invalid value: \"../x\": must not contain '..'",
        );
        assert_has(
            &errs,
            "spec.volumes[1].hostPath.path",
            "Invalid value: \"/a/../b\": must not contain '..'",
        );
        assert_has_prefix(
            &errs,
            "spec.volumes[1].hostPath.type",
            "Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\"",
        );
        assert_has(
            &errs,
            "spec.volumes[2].nfs.path",
            "Invalid value: \"rel\": must be an absolute path",
        );
        assert_has(
            &errs,
            "spec.volumes[3].persistentVolumeClaim.claimName",
            "Required value",
        );
        assert_has_prefix(
            &errs,
            "spec.volumes[4].downwardAPI.fieldRef.fieldPath",
            "Unsupported value: \"spec.nodeName\"",
        );
        assert_has(
            &errs,
            "spec.volumes[5].projected.sources[0]",
            "Forbidden: may not specify more than 1 volume type per source",
        );
    }

    #[test]
    fn ephemeral_pvc_names() {
        let (_, errs) = validate_volumes(
            &vols(json!([
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}},
                {"name": "other", "persistentVolumeClaim": {"claimName": "pod-scratch"}}
            ])),
            Some("pod"),
            &Path::new("spec.volumes"),
        );
        assert_eq!(
            lines(&errs),
            vec![
                "spec.volumes[1].persistentVolumeClaim.claimName: Invalid value: \"pod-scratch\": must not reference a PVC that gets created for an ephemeral volume"
            ]
        );
    }
}
