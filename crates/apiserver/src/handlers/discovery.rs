//! Discovery: `/api`, `/apis`, `/apis/{group}`, the per-group-version resource lists, and the
//! aggregated (`apidiscovery.k8s.io/v2`) documents kubectl 1.30+ asks for first.

use super::App;
use super::respond;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use rkube_api::resources::{
    self, RESOURCE_VERBS, ResourceInfo, discovery_subresources, subresource_group_version,
    subresource_kind, subresource_verbs,
};
use rkube_api::status::ApiError;
use serde_json::{Value, json};
use std::sync::Arc;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the client accepts the aggregated discovery document.
fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|item| {
                let p: Vec<String> = item.split(';').map(|s| s.trim().replace(' ', "")).collect();
                p.contains(&"g=apidiscovery.k8s.io".to_string())
                    && p.contains(&"v=v2".to_string())
                    && p.contains(&"as=APIGroupDiscoveryList".to_string())
            })
        })
}

fn aggregated(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, AGGREGATED)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// `GET /api`.
pub async fn core(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(discovery_list(&app, &[("", vec!["v1"])]));
    }
    respond::json(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": app.server_address}],
        }),
        &[],
    )
}

fn group_doc(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(versions[0]),
    })
}

/// `GET /apis`.
pub async fn groups(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let groups = crate::crd::discovery::groups(app.registry.crds());
    if wants_aggregated(&headers) {
        return aggregated(discovery_list(&app, &groups));
    }
    let docs: Vec<Value> = groups.iter().map(|(g, v)| group_doc(g, v)).collect();
    respond::json(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": docs}),
        &[],
    )
}

/// `GET /apis/{group}`.
pub async fn group(State(app): State<Arc<App>>, Path(group): Path<String>) -> Response {
    match crate::crd::discovery::groups(app.registry.crds())
        .into_iter()
        .find(|(g, _)| *g == group)
    {
        Some((g, versions)) => {
            let mut doc = group_doc(g, &versions);
            doc["kind"] = "APIGroup".into();
            doc["apiVersion"] = "v1".into();
            respond::json(StatusCode::OK, &doc, &[])
        }
        None => respond::error(&ApiError::no_route()),
    }
}

/// `GET /api/v1`.
pub async fn core_resources(State(app): State<Arc<App>>) -> Response {
    resource_list(&app, "", "v1")
}

/// `GET /apis/{group}/{version}`.
pub async fn group_resources(
    State(app): State<Arc<App>>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    resource_list(&app, &group, &version)
}

fn resource_list(app: &App, group: &str, version: &str) -> Response {
    let infos: Vec<&ResourceInfo> =
        crate::crd::discovery::in_group_version(app.registry.crds(), group, version);
    if infos.is_empty() {
        return respond::error(&ApiError::no_route());
    }
    let mut list = Vec::new();
    for r in infos {
        let verbs: &[&str] = if resources::is_virtual(r) {
            &["create"]
        } else {
            RESOURCE_VERBS
        };
        let mut entry = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        for sub in discovery_subresources(r) {
            let mut entry = json!({
                "name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": subresource_kind(r, sub), "verbs": subresource_verbs(sub),
            });
            if let Some((g, v)) = subresource_group_version(sub) {
                entry["group"] = g.into();
                entry["version"] = v.into();
            }
            list.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    respond::json(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}),
        &[],
    )
}

/// The aggregated discovery document for `groups` (`""` = the core group).
fn discovery_list(app: &App, groups: &[(&str, Vec<&str>)]) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> =
                        crate::crd::discovery::in_group_version(app.registry.crds(), group, version)
                        .into_iter()
                        .filter(|r| !resources::is_virtual(r))
                        .map(|r| {
                            let subresources: Vec<Value> = discovery_subresources(r)
                                .into_iter()
                                .map(|sub| {
                                    let (g, v) = subresource_group_version(sub)
                                        .unwrap_or((r.group, r.version));
                                    json!({
                                        "subresource": sub,
                                        "responseKind": {"group": g, "version": v, "kind": subresource_kind(r, sub)},
                                        "verbs": subresource_verbs(sub),
                                    })
                                })
                                .collect();
                            let mut entry = json!({
                                "resource": r.plural,
                                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular,
                                "verbs": RESOURCE_VERBS,
                            });
                            if !r.short_names.is_empty() {
                                entry["shortNames"] = json!(r.short_names);
                            }
                            if !r.categories.is_empty() {
                                entry["categories"] = json!(r.categories);
                            }
                            if !subresources.is_empty() {
                                entry["subresources"] = json!(subresources);
                            }
                            entry
                        })
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut item = json!({"metadata": {}, "versions": versions});
            if !group.is_empty() {
                item["metadata"]["name"] = (*group).into();
            }
            item
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
