//! The schema definitions of the served kinds, generated from k8s-openapi's `schemars` output and
//! shaped the way upstream publishes them: upstream definition names, the
//! `x-kubernetes-group-version-kind` extension on top-level kinds, `<Kind>List` definitions, and
//! the list-merge extensions of [`super::list_facts`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::SchemaGenerator;
use k8s_openapi::schemars::generate::SchemaSettings;
use rkube_api::resources::{ResourceInfo, is_virtual};
use serde_json::{Map, Value, json};

use super::gvk::Gvk;
use super::kinds::{self, register};
use super::list_facts;
use super::refs::V2_PREFIX;

/// `io.k8s.apimachinery.pkg.apis.meta.v1.Status`.
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions`.
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.Patch`.
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList`.
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const LIST_META_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// All definitions of the served API, with `#/definitions/<name>` references.
pub(crate) struct Catalog {
    /// Definition name → schema.
    pub definitions: Map<String, Value>,
    /// Group/version/kind → definition name, for kinds, lists and subresource kinds.
    names: BTreeMap<Gvk, String>,
}

impl Catalog {
    /// Generates the definitions for `resources`.
    pub(crate) fn build(resources: &[&ResourceInfo]) -> Catalog {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
        });
        let mut builder = Builder {
            generator: SchemaGenerator::new(settings),
            names: BTreeMap::new(),
            placeholders: Map::new(),
            lists: Vec::new(),
        };
        for name in [
            register::<meta::Status>,
            register::<meta::DeleteOptions>,
            register::<meta::Patch>,
            register::<meta::APIResourceList>,
            register::<meta::ListMeta>,
        ] {
            name(&mut builder.generator);
        }
        for r in resources {
            let item = builder.kind(r.group, r.version, r.kind);
            // A custom resource publishes its CRD version's schema.
            if let Some(cv) = crate::crd::custom(r) {
                builder
                    .placeholders
                    .insert(item.clone(), crate::crd::openapi::definition(cv));
            }
            if !is_virtual(r) {
                builder.lists.push(ListSpec {
                    gvk: Gvk::new(r.group, r.version, &r.list_kind()),
                    name: format!("{item}List"),
                    item,
                    item_kind: r.kind,
                    plural: r.plural,
                });
            }
            for sub in r.subresources {
                if let Some((g, v, k)) = kinds::subresource_gvk(r.group, r.version, r.kind, sub) {
                    builder.kind(g, v, k);
                }
            }
        }
        builder.finish(resources)
    }

    /// The definition name of a kind (or list kind) in the catalog.
    pub(crate) fn name(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.names
            .get(&Gvk::new(group, version, kind))
            .map(String::as_str)
    }
}

struct ListSpec {
    gvk: Gvk,
    name: String,
    item: String,
    item_kind: &'static str,
    plural: &'static str,
}

struct Builder {
    generator: SchemaGenerator,
    names: BTreeMap<Gvk, String>,
    placeholders: Map<String, Value>,
    lists: Vec<ListSpec>,
}

impl Builder {
    /// Registers one kind and returns its definition name.
    fn kind(&mut self, group: &str, version: &str, kind: &str) -> String {
        let gvk = Gvk::new(group, version, kind);
        if let Some(name) = self.names.get(&gvk) {
            return name.clone();
        }
        let name = match kinds::find(group, version, kind) {
            Some(known) => (known.register)(&mut self.generator),
            None => {
                let name = placeholder_name(group, version, kind);
                self.placeholders.insert(
                    name.clone(),
                    json!({
                        "description": format!("{kind} is served by this server without a published schema."),
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                    }),
                );
                name
            }
        };
        self.names.insert(gvk, name.clone());
        name
    }

    fn finish(mut self, resources: &[&ResourceInfo]) -> Catalog {
        let mut definitions = self.generator.take_definitions(false);
        definitions.append(&mut self.placeholders);
        for def in definitions.values_mut() {
            normalize(def);
        }

        // Top-level kinds carry their GVK; k8s-openapi marks `metadata` required on every
        // resource (a Rust artifact: upstream does not).
        let mut tags: BTreeMap<String, BTreeSet<Gvk>> = BTreeMap::new();
        for (gvk, name) in &self.names {
            tags.entry(name.clone()).or_default().insert(gvk.clone());
        }
        for (name, gvks) in &tags {
            if let Some(def) = definitions.get_mut(name).and_then(Value::as_object_mut) {
                unrequire_metadata(def);
            }
            tag(&mut definitions, name, gvks.iter().cloned());
        }

        for list in &self.lists {
            let def = list_definition(list, definitions.get(&list.item));
            definitions.insert(list.name.clone(), def);
            tag(&mut definitions, &list.name, [list.gvk.clone()]);
            self.names.insert(list.gvk.clone(), list.name.clone());
        }

        tag(&mut definitions, STATUS, [Gvk::new("", "v1", "Status")]);
        tag(
            &mut definitions,
            API_RESOURCE_LIST,
            [Gvk::new("", "v1", "APIResourceList")],
        );
        let mut delete_options: BTreeSet<Gvk> = resources
            .iter()
            .map(|r| Gvk::new(r.group, r.version, "DeleteOptions"))
            .collect();
        delete_options.insert(Gvk::new("", "v1", "DeleteOptions"));
        tag(&mut definitions, DELETE_OPTIONS, delete_options);

        list_facts::apply(&mut definitions);
        Catalog {
            definitions,
            names: self.names,
        }
    }
}

/// Upstream's naming for a kind without a typed schema: the reversed group (`io.k8s.api.<g>` for
/// Kubernetes groups), then version and kind.
fn placeholder_name(group: &str, version: &str, kind: &str) -> String {
    if group.is_empty() {
        return format!("io.k8s.api.core.{version}.{kind}");
    }
    if let Some(short) = group.strip_suffix(".k8s.io") {
        let first = short.split('.').next().unwrap_or(short);
        return format!("io.k8s.api.{first}.{version}.{kind}");
    }
    if !group.contains('.') {
        return format!("io.k8s.api.{group}.{version}.{kind}");
    }
    let reversed: Vec<&str> = group.rsplit('.').collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Replaces boolean schemas (`true`/`false`) by their object forms, which OpenAPI 2 and 3.0
/// require. Walks only the keywords whose values are schemas.
fn normalize(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({"not": {}}),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match (k.as_str(), v) {
                    ("properties" | "patternProperties" | "definitions", Value::Object(m)) => {
                        m.values_mut().for_each(normalize);
                    }
                    ("allOf" | "anyOf" | "oneOf", Value::Array(a)) => {
                        a.iter_mut().for_each(normalize);
                    }
                    ("items", Value::Array(a)) => a.iter_mut().for_each(normalize),
                    ("items" | "not", v) => normalize(v),
                    // `additionalProperties: true/false` is valid in both versions.
                    ("additionalProperties", v @ Value::Object(_)) => normalize(v),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn unrequire_metadata(def: &mut Map<String, Value>) {
    let empty = match def.get_mut("required").and_then(Value::as_array_mut) {
        Some(required) => {
            required.retain(|v| v != "metadata");
            required.is_empty()
        }
        None => false,
    };
    if empty {
        def.remove("required");
    }
}

/// Adds GVKs to a definition's `x-kubernetes-group-version-kind` list (kept sorted and unique).
fn tag(definitions: &mut Map<String, Value>, name: &str, gvks: impl IntoIterator<Item = Gvk>) {
    let Some(def) = definitions.get_mut(name).and_then(Value::as_object_mut) else {
        return;
    };
    let mut all: BTreeSet<(String, String, String)> = def
        .get("x-kubernetes-group-version-kind")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v.get("group")?.as_str()?.to_string(),
                v.get("version")?.as_str()?.to_string(),
                v.get("kind")?.as_str()?.to_string(),
            ))
        })
        .collect();
    all.extend(gvks.into_iter().map(|g| (g.group, g.version, g.kind)));
    let list: Vec<Value> = all
        .iter()
        .map(|(g, v, k)| Gvk::new(g, v, k).to_json())
        .collect();
    def.insert("x-kubernetes-group-version-kind".into(), Value::Array(list));
}

/// `<Kind>List`: apiVersion, kind, items, metadata — as upstream defines every list type.
fn list_definition(list: &ListSpec, item: Option<&Value>) -> Value {
    let described = |field: &str, fallback: &str| {
        item.and_then(|d| d.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({"description": fallback, "type": "string"}))
    };
    json!({
        "description": format!("{}List is a list of {} objects.", list.item_kind, list.item_kind),
        "type": "object",
        "properties": {
            "apiVersion": described("apiVersion", API_VERSION_DESCRIPTION),
            "kind": described("kind", KIND_DESCRIPTION),
            "items": {
                "description": format!("List of {}.", list.plural),
                "type": "array",
                "items": {"$ref": format!("{V2_PREFIX}{}", list.item)},
            },
            "metadata": {
                "$ref": format!("{V2_PREFIX}{LIST_META}"),
                "description": LIST_META_DESCRIPTION,
            },
        },
        "required": ["items"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::resources::BUILTIN;

    fn catalog() -> Catalog {
        let all: Vec<&ResourceInfo> = BUILTIN.iter().collect();
        Catalog::build(&all)
    }

    #[test]
    fn kinds_have_upstream_names_and_gvk() {
        let c = catalog();
        assert_eq!(c.name("", "v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        assert_eq!(
            c.name("apps", "v1", "DeploymentList"),
            Some("io.k8s.api.apps.v1.DeploymentList")
        );
        assert_eq!(
            c.name("autoscaling", "v1", "Scale"),
            Some("io.k8s.api.autoscaling.v1.Scale")
        );
        let pod = &c.definitions["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(
            pod.get("required").is_none(),
            "metadata must not be required"
        );
        assert_eq!(
            <meta::Status as k8s_openapi::schemars::JsonSchema>::schema_name(),
            STATUS
        );
    }

    #[test]
    fn lists_reference_their_items() {
        let c = catalog();
        let list = &c.definitions["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list.pointer("/properties/items/items/$ref"),
            Some(&json!("#/definitions/io.k8s.api.core.v1.Pod"))
        );
        assert_eq!(
            list["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "PodList", "version": "v1"}])
        );
    }

    #[test]
    fn placeholder_names_follow_upstream() {
        assert_eq!(placeholder_name("", "v1", "Foo"), "io.k8s.api.core.v1.Foo");
        assert_eq!(
            placeholder_name("rbac.authorization.k8s.io", "v1", "Foo"),
            "io.k8s.api.rbac.v1.Foo"
        );
        assert_eq!(
            placeholder_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
    }

    #[test]
    fn unknown_kinds_get_a_placeholder() {
        static FOO: ResourceInfo = ResourceInfo {
            group: "example.com",
            version: "v1",
            kind: "Foo",
            plural: "foos",
            singular: "foo",
            namespaced: true,
            short_names: &[],
            categories: &[],
            subresources: &["status"],
            storage: "foos",
        };
        let c = Catalog::build(&[&FOO]);
        let name = c.name("example.com", "v1", "Foo").unwrap();
        assert_eq!(name, "com.example.v1.Foo");
        assert!(c.definitions.contains_key("com.example.v1.FooList"));
    }
}
