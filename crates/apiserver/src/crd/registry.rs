//! The live table of resources CustomResourceDefinitions serve.
//!
//! Everything in the apiserver names a resource by `&'static ResourceInfo`, so each served
//! version of a CRD becomes a leaked [`CustomVersion`] (its `ResourceInfo` plus what the CRD
//! says about that version: schema, subresources, printer columns). Entries are interned by
//! their whole content, so re-creating or re-reconciling the same CRD reuses them: memory grows
//! only with the number of *distinct* CRD version definitions a process ever sees (CRD churn
//! is rare; a schema edit adds one entry). Which entries a server serves right now is its
//! [`CrdTable`]; the interned entries are process-wide and pure data.

use rkube_api::resources::{self, ResourceInfo};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, RwLock};

/// The `scale` subresource's paths (`spec.versions[*].subresources.scale`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScalePaths {
    /// `.spec.replicas` or similar.
    pub spec_replicas: String,
    /// `.status.replicas` or similar.
    pub status_replicas: String,
    /// `.status.selector` or similar, if any.
    pub label_selector: Option<String>,
}

/// One served version of a CRD, with its resource entry.
#[derive(Debug)]
pub struct CustomVersion {
    /// The resource as the rest of the apiserver sees it.
    pub info: ResourceInfo,
    /// The CRD's name (`<plural>.<group>`).
    pub crd_name: String,
    /// The version objects are stored in (`spec.versions[storage=true].name`).
    pub storage_version: String,
    /// `schema.openAPIV3Schema` of this version.
    pub schema: Value,
    /// Whether `/status` is served.
    pub status: bool,
    /// The `/scale` paths, when served.
    pub scale: Option<ScalePaths>,
    /// `additionalPrinterColumns` of this version.
    pub columns: Vec<Value>,
}

impl CustomVersion {
    /// `group/<storage version>`: the apiVersion objects are stored with.
    pub fn storage_api_version(&self) -> String {
        format!("{}/{}", self.info.group, self.storage_version)
    }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_list(items: Vec<String>) -> &'static [&'static str] {
    Box::leak(
        items
            .iter()
            .map(|s| leak_str(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

type Interned = HashMap<String, &'static CustomVersion>;

fn interned() -> &'static Mutex<Interned> {
    static INTERNED: OnceLock<Mutex<Interned>> = OnceLock::new();
    INTERNED.get_or_init(Default::default)
}

/// Every interned entry by the address of its `info` (how [`custom`] recognizes one).
fn by_address() -> &'static RwLock<HashMap<usize, &'static CustomVersion>> {
    static BY_ADDRESS: OnceLock<RwLock<HashMap<usize, &'static CustomVersion>>> = OnceLock::new();
    BY_ADDRESS.get_or_init(Default::default)
}

/// The CRD entry behind `info`, if `info` is a custom resource.
pub fn custom(info: &ResourceInfo) -> Option<&'static CustomVersion> {
    if resources::is_builtin(info) {
        return None;
    }
    let addr = info as *const ResourceInfo as usize;
    by_address()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&addr)
        .copied()
}

/// The versions a CRD object serves, as interned entries (those with `served: true`).
pub fn versions_of(crd: &Value) -> Vec<&'static CustomVersion> {
    let spec = &crd["spec"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let group = s(&spec["group"]);
    let names = &spec["names"];
    let versions = spec["versions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let storage_version = versions
        .iter()
        .find(|v| v["storage"] == true)
        .map(|v| s(&v["name"]))
        .unwrap_or_default();
    let crd_name = s(&crd["metadata"]["name"]);
    let mut out = Vec::new();
    for v in versions.iter().filter(|v| v["served"] == true) {
        let status = v["subresources"]["status"].is_object();
        let scale = v["subresources"]["scale"].as_object().map(|sc| ScalePaths {
            spec_replicas: sc.get("specReplicasPath").map(s).unwrap_or_default(),
            status_replicas: sc.get("statusReplicasPath").map(s).unwrap_or_default(),
            label_selector: sc.get("labelSelectorPath").map(s).filter(|p| !p.is_empty()),
        });
        let mut subresources = Vec::new();
        if status {
            subresources.push("status".to_string());
        }
        if scale.is_some() {
            subresources.push("scale".to_string());
        }
        let key = serde_json::json!([crd_name, group, names, v, storage_version, spec["scope"]])
            .to_string();
        let mut table = interned().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = table.get(&key) {
            out.push(*existing);
            continue;
        }
        let plural = s(&names["plural"]);
        let entry: &'static CustomVersion = Box::leak(Box::new(CustomVersion {
            info: ResourceInfo {
                group: leak_str(&group),
                version: leak_str(&s(&v["name"])),
                kind: leak_str(&s(&names["kind"])),
                plural: leak_str(&plural),
                singular: leak_str(&s(&names["singular"])),
                namespaced: spec["scope"] != "Cluster",
                short_names: leak_list(strings(&names["shortNames"])),
                categories: leak_list(strings(&names["categories"])),
                subresources: leak_list(subresources),
                storage: leak_str(&format!("{group}/{plural}")),
            },
            crd_name: crd_name.clone(),
            storage_version: storage_version.clone(),
            schema: v["schema"]["openAPIV3Schema"].clone(),
            status,
            scale,
            columns: v["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        }));
        table.insert(key, entry);
        by_address()
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(&entry.info as *const ResourceInfo as usize, entry);
        out.push(entry);
    }
    out
}

/// One served CRD: its versions and whether it is being deleted.
#[derive(Clone, Debug)]
struct ServedCrd {
    name: String,
    versions: Vec<&'static CustomVersion>,
    terminating: bool,
}

/// What one apiserver serves from CRDs right now (kept by the controller).
#[derive(Default)]
pub struct CrdTable {
    served: RwLock<Vec<ServedCrd>>,
    openapi: super::openapi::Cache,
}

impl CrdTable {
    /// The OpenAPI documents last built for the served set.
    pub(crate) fn openapi_cache(&self) -> &super::openapi::Cache {
        &self.openapi
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ServedCrd>> {
        self.served.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks a resource up: the built-ins first, then the served CRD versions.
    pub fn resolve(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceInfo> {
        resources::find(group, version, plural).or_else(|| {
            self.read()
                .iter()
                .flat_map(|c| c.versions.iter())
                .find(|v| {
                    v.info.group == group && v.info.version == version && v.info.plural == plural
                })
                .map(|v| &v.info)
        })
    }

    /// Every served custom version, in CRD order.
    pub fn all(&self) -> Vec<&'static CustomVersion> {
        self.read()
            .iter()
            .flat_map(|c| c.versions.iter().copied())
            .collect()
    }

    /// Whether the CRD named `name` is being deleted (its resources take no new objects).
    pub fn terminating(&self, name: &str) -> bool {
        self.read().iter().any(|c| c.name == name && c.terminating)
    }

    /// Serves `versions` for the CRD `name` (replacing what it served before).
    pub fn set(&self, name: &str, versions: Vec<&'static CustomVersion>, terminating: bool) {
        let mut served = self.served.write().unwrap_or_else(|p| p.into_inner());
        let entry = ServedCrd {
            name: name.to_string(),
            versions,
            terminating,
        };
        match served.iter_mut().find(|c| c.name == name) {
            Some(c) => *c = entry,
            None => served.push(entry),
        }
    }

    /// Stops serving every CRD not in `keep`.
    pub fn retain(&self, keep: &[String]) {
        self.served
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| keep.contains(&c.name));
    }

    /// The groups CRDs serve, with their versions (preferred first), for discovery.
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for v in self.all() {
            match out.iter_mut().find(|(g, _)| *g == v.info.group) {
                Some((_, versions)) if !versions.contains(&v.info.version) => {
                    versions.push(v.info.version)
                }
                Some(_) => {}
                None => out.push((v.info.group, vec![v.info.version])),
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }
}

/// Upstream's version ordering for discovery (`v2` > `v1` > `v1beta2` > `v1beta1` >
/// `v1alpha1` > anything else), as a sortable key.
pub fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(u64::MAX))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(u64::MAX))
    } else {
        return (0, 0, 0);
    };
    if minor == u64::MAX {
        return (0, 0, 0);
    }
    (level, major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(schema_type: &str) -> Value {
        json!({"metadata": {"name": "things.reg.example.com"},
            "spec": {"group": "reg.example.com", "scope": "Cluster",
                "names": {"plural": "things", "singular": "thing", "kind": "Thing", "listKind": "ThingList"},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": {"type": schema_type}}},
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v0", "served": false, "storage": false}]}})
    }

    #[test]
    fn versions_are_interned_and_recognized() {
        let a = versions_of(&crd("object"));
        let b = versions_of(&crd("object"));
        assert_eq!(a.len(), 2, "unserved versions are left out");
        assert!(std::ptr::eq(a[0], b[0]), "the same definition is reused");
        assert_eq!(
            a[0].info.storage_prefix(),
            "/registry/reg.example.com/things/"
        );
        assert!(!a[0].info.namespaced);
        assert_eq!(a[0].info.subresources, ["status"]);
        assert_eq!(a[1].storage_api_version(), "reg.example.com/v1");
        assert!(std::ptr::eq(custom(&a[1].info).unwrap(), a[1]));
        assert!(custom(resources::find("", "v1", "pods").unwrap()).is_none());
        let c = versions_of(&crd("string"));
        assert!(!std::ptr::eq(a[0], c[0]), "a changed schema is a new entry");
    }

    #[test]
    fn the_table_resolves_after_the_builtins() {
        let table = CrdTable::default();
        assert!(table.resolve("reg.example.com", "v1", "things").is_none());
        table.set("things.reg.example.com", versions_of(&crd("object")), false);
        assert_eq!(
            table
                .resolve("reg.example.com", "v1", "things")
                .unwrap()
                .kind,
            "Thing"
        );
        assert!(table.resolve("", "v1", "pods").is_some());
        assert_eq!(table.groups(), [("reg.example.com", vec!["v1", "v1beta1"])]);
        table.retain(&[]);
        assert!(table.resolve("reg.example.com", "v1", "things").is_none());
    }

    #[test]
    fn version_order_is_upstreams() {
        let mut v = vec!["v1alpha1", "foo", "v1", "v1beta2", "v2", "v1beta1"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}
