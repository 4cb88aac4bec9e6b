//! The REST operations of the served resources, in a form independent of the OpenAPI version:
//! which paths exist, with which verbs, parameters, bodies, responses and GVKs.

use rkube_api::resources::{ResourceInfo, is_virtual, subresource_verbs};

use super::gvk::Gvk;
use super::kinds;
use super::params::{self, Param};
use super::schemas::{API_RESOURCE_LIST, Catalog, DELETE_OPTIONS, STATUS};

/// An HTTP method of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
}

impl Method {
    /// The key of the operation in a path item.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }
}

/// A request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// An object of this definition, required.
    Object(String),
    /// A patch document (`io.k8s.apimachinery.pkg.apis.meta.v1.Patch`) in any patch type.
    Patch,
    /// Optional `DeleteOptions`.
    DeleteOptions,
}

/// One operation on one path.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    /// HTTP method.
    pub method: Method,
    /// Unique `operationId`, upstream's naming.
    pub id: String,
    /// Human description.
    pub description: String,
    /// `x-kubernetes-action`, when the operation is on a resource.
    pub action: Option<&'static str>,
    /// `x-kubernetes-group-version-kind`, when the operation is on a resource.
    pub gvk: Option<Gvk>,
    /// Operation-level parameters.
    pub params: Vec<Param>,
    /// Request body.
    pub body: Option<Body>,
    /// Status code → definition name of the response body.
    pub responses: Vec<(u16, String)>,
    /// Tag, e.g. `core_v1`.
    pub tag: String,
    /// Whether the response may also be a watch stream (list operations).
    pub watch: bool,
}

/// One path with its operations.
#[derive(Clone, Debug)]
pub(crate) struct PathItem {
    /// Path, e.g. `/api/v1/namespaces/{namespace}/pods`.
    pub path: String,
    /// Parameters shared by all operations of the path.
    pub params: Vec<Param>,
    /// Operations.
    pub ops: Vec<Operation>,
}

/// The paths of one group version.
#[derive(Clone, Debug)]
pub(crate) struct GroupVersion {
    /// API group, `""` for core.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Paths, in build order.
    pub items: Vec<PathItem>,
}

impl GroupVersion {
    /// `api/v1` or `apis/<group>/<version>`: the key of the OpenAPI v3 document.
    pub(crate) fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }
}

/// Builds the paths of `resources`, grouped by group version in order of first appearance.
pub(crate) fn build(resources: &[&ResourceInfo], catalog: &Catalog) -> Vec<GroupVersion> {
    let mut out: Vec<GroupVersion> = Vec::new();
    for r in resources {
        let index = match out
            .iter()
            .position(|gv| gv.group == r.group && gv.version == r.version)
        {
            Some(i) => i,
            None => {
                out.push(GroupVersion {
                    group: r.group,
                    version: r.version,
                    items: vec![discovery_item(r.group, r.version)],
                });
                out.len() - 1
            }
        };
        let items = resource_items(r, catalog);
        out[index].items.extend(items);
    }
    out
}

/// `Core`, `Apps`, `RbacAuthorization`, …: the group part of upstream's operation ids.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let short = group.strip_suffix(".k8s.io").unwrap_or(group);
    short.split(['.', '-']).map(capitalize).collect()
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: upstream's tags.
fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lower: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn base_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// `GET /api/v1/`: the group version's resource list.
fn discovery_item(group: &'static str, version: &'static str) -> PathItem {
    let gv = format!("{}{}", group_camel(group), capitalize(version));
    PathItem {
        path: format!("{}/", base_path(group, version)),
        params: Vec::new(),
        ops: vec![Operation {
            method: Method::Get,
            id: format!("get{gv}APIResources"),
            description: "get available resources".into(),
            action: None,
            gvk: None,
            params: Vec::new(),
            body: None,
            responses: vec![(200, API_RESOURCE_LIST.into())],
            tag: tag(group, version),
            watch: false,
        }],
    }
}

/// Shared facts for building one resource's operations.
struct Ctx<'a> {
    r: &'a ResourceInfo,
    /// `CoreV1`.
    gv: String,
    /// `Namespaced` or empty.
    scope: &'static str,
    tag: String,
    gvk: Gvk,
}

impl Ctx<'_> {
    fn op(
        &self,
        method: Method,
        id: String,
        description: String,
        action: &'static str,
        gvk: &Gvk,
    ) -> Operation {
        Operation {
            method,
            id,
            description,
            action: Some(action),
            gvk: Some(gvk.clone()),
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
            tag: self.tag.clone(),
            watch: false,
        }
    }

    fn list(&self, id: String, list_def: &str) -> Operation {
        let mut op = self.op(
            Method::Get,
            id,
            format!("list or watch objects of kind {}", self.r.kind),
            "list",
            &self.gvk,
        );
        op.params = params::list_options();
        op.responses = vec![(200, list_def.into())];
        op.watch = true;
        op
    }

    /// A POST creating `def` (the resource itself or a create-only subresource).
    fn create(&self, id: String, description: String, gvk: &Gvk, def: &str) -> Operation {
        let mut op = self.op(Method::Post, id, description, "post", gvk);
        op.params = vec![
            params::dry_run(),
            params::field_manager(false),
            params::field_validation(),
        ];
        op.body = Some(Body::Object(def.into()));
        op.responses = vec![(200, def.into()), (201, def.into()), (202, def.into())];
        op
    }

    fn read(&self, id: String, description: String, gvk: &Gvk, def: &str) -> Operation {
        let mut op = self.op(Method::Get, id, description, "get", gvk);
        op.responses = vec![(200, def.into())];
        op
    }

    fn replace(&self, id: String, description: String, gvk: &Gvk, def: &str) -> Operation {
        let mut op = self.op(Method::Put, id, description, "put", gvk);
        op.params = vec![
            params::dry_run(),
            params::field_manager(false),
            params::field_validation(),
        ];
        op.body = Some(Body::Object(def.into()));
        op.responses = vec![(200, def.into()), (201, def.into())];
        op
    }

    fn patch(&self, id: String, description: String, gvk: &Gvk, def: &str) -> Operation {
        let mut op = self.op(Method::Patch, id, description, "patch", gvk);
        op.params = vec![
            params::dry_run(),
            params::field_manager(true),
            params::field_validation(),
            params::force(),
        ];
        op.body = Some(Body::Patch);
        op.responses = vec![(200, def.into()), (201, def.into())];
        op
    }
}

/// The paths of one resource: collection, item, all-namespaces list, subresources.
fn resource_items(r: &ResourceInfo, catalog: &Catalog) -> Vec<PathItem> {
    let Some(kind_def) = catalog.name(r.group, r.version, r.kind) else {
        return Vec::new();
    };
    let ctx = Ctx {
        r,
        gv: format!("{}{}", group_camel(r.group), capitalize(r.version)),
        scope: if r.namespaced { "Namespaced" } else { "" },
        tag: tag(r.group, r.version),
        gvk: Gvk::new(r.group, r.version, r.kind),
    };
    let (gv, scope, kind) = (&ctx.gv, ctx.scope, r.kind);
    let base = base_path(r.group, r.version);
    let collection = if r.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };
    let mut collection_params = Vec::new();
    let mut item_params = vec![params::name(kind)];
    if r.namespaced {
        collection_params.push(params::namespace());
        item_params.push(params::namespace());
    }
    collection_params.push(params::pretty());
    item_params.push(params::pretty());

    if is_virtual(r) {
        let create = ctx.create(
            format!("create{gv}{scope}{kind}"),
            format!("create a {kind}"),
            &ctx.gvk,
            kind_def,
        );
        return vec![PathItem {
            path: collection,
            params: collection_params,
            ops: vec![create],
        }];
    }

    let Some(list_def) = catalog.name(r.group, r.version, &r.list_kind()) else {
        return Vec::new();
    };
    let mut items = Vec::new();

    let mut delete_collection = ctx.op(
        Method::Delete,
        format!("delete{gv}Collection{scope}{kind}"),
        format!("delete collection of {kind}"),
        "deletecollection",
        &ctx.gvk,
    );
    delete_collection.params = params::delete_collection_options();
    delete_collection.body = Some(Body::DeleteOptions);
    delete_collection.responses = vec![(200, STATUS.into())];
    items.push(PathItem {
        path: collection.clone(),
        params: collection_params,
        ops: vec![
            ctx.list(format!("list{gv}{scope}{kind}"), list_def),
            ctx.create(
                format!("create{gv}{scope}{kind}"),
                format!("create a {kind}"),
                &ctx.gvk,
                kind_def,
            ),
            delete_collection,
        ],
    });

    let mut delete = ctx.op(
        Method::Delete,
        format!("delete{gv}{scope}{kind}"),
        format!("delete a {kind}"),
        "delete",
        &ctx.gvk,
    );
    delete.params = vec![
        params::dry_run(),
        params::grace_period_seconds(),
        params::orphan_dependents(),
        params::propagation_policy(),
    ];
    delete.body = Some(Body::DeleteOptions);
    delete.responses = vec![(200, STATUS.into()), (202, STATUS.into())];
    let item = format!("{collection}/{{name}}");
    items.push(PathItem {
        path: item.clone(),
        params: item_params.clone(),
        ops: vec![
            ctx.read(
                format!("read{gv}{scope}{kind}"),
                format!("read the specified {kind}"),
                &ctx.gvk,
                kind_def,
            ),
            ctx.replace(
                format!("replace{gv}{scope}{kind}"),
                format!("replace the specified {kind}"),
                &ctx.gvk,
                kind_def,
            ),
            delete,
            ctx.patch(
                format!("patch{gv}{scope}{kind}"),
                format!("partially update the specified {kind}"),
                &ctx.gvk,
                kind_def,
            ),
        ],
    });

    if r.namespaced {
        items.push(PathItem {
            path: format!("{base}/{}", r.plural),
            params: vec![params::pretty()],
            ops: vec![ctx.list(format!("list{gv}{kind}ForAllNamespaces"), list_def)],
        });
    }

    for sub in r.subresources {
        if let Some(path) = subresource_item(&ctx, catalog, &item, &item_params, sub) {
            items.push(path);
        }
    }
    items
}

fn subresource_item(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    item: &str,
    item_params: &[Param],
    sub: &str,
) -> Option<PathItem> {
    let r = ctx.r;
    let (g, v, k) = kinds::subresource_gvk(r.group, r.version, r.kind, sub)?;
    let def = catalog.name(g, v, k)?;
    let gvk = Gvk::new(g, v, k);
    let (gv, scope, kind, suffix) = (&ctx.gv, ctx.scope, r.kind, capitalize(sub));
    let mut ops = Vec::new();
    for verb in subresource_verbs(sub) {
        let op = match *verb {
            "get" => ctx.read(
                format!("read{gv}{scope}{kind}{suffix}"),
                format!("read {sub} of the specified {kind}"),
                &gvk,
                def,
            ),
            "update" => ctx.replace(
                format!("replace{gv}{scope}{kind}{suffix}"),
                format!("replace {sub} of the specified {kind}"),
                &gvk,
                def,
            ),
            "patch" => ctx.patch(
                format!("patch{gv}{scope}{kind}{suffix}"),
                format!("partially update {sub} of the specified {kind}"),
                &gvk,
                def,
            ),
            "create" => ctx.create(
                format!("create{gv}{scope}{kind}{suffix}"),
                format!("create {sub} of a {kind}"),
                &gvk,
                def,
            ),
            _ => continue,
        };
        ops.push(op);
    }
    Some(PathItem {
        path: format!("{item}/{sub}"),
        params: item_params.to_vec(),
        ops,
    })
}

/// The definition names an operation's body and responses reference.
pub(crate) fn referenced_definitions(op: &Operation) -> Vec<&str> {
    let mut out: Vec<&str> = op.responses.iter().map(|(_, d)| d.as_str()).collect();
    match &op.body {
        Some(Body::Object(d)) => out.push(d),
        Some(Body::Patch) => out.push(super::schemas::PATCH),
        Some(Body::DeleteOptions) => out.push(DELETE_OPTIONS),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream() {
        assert_eq!(group_camel(""), "Core");
        assert_eq!(
            group_camel("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
        assert_eq!(group_camel("apps"), "Apps");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
    }
}
