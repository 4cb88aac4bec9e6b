//! What a resource request asks for, read from its method and path as upstream's
//! RequestInfoFactory does: `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}` and
//! `/apis/{group}/{version}/…`.

use http::Method;

/// The verb of a resource request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// Upstream's lower-case verb name (for metrics and audit).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// A parsed resource request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The verb.
    pub verb: Verb,
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Resource (plural).
    pub resource: String,
    /// Object name, if the path names one.
    pub name: Option<String>,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
}

/// Namespace subresources that stay on the namespace itself (`/namespaces/x/status`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a resource path; `None` if the path is not a resource request (discovery, health…).
pub fn parse(method: &Method, path: &str, watch_param: bool) -> Option<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
        return None;
    }
    // The deprecated `/watch/` path prefix means watch=true.
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] if !rest.is_empty() => (true, rest),
        _ => (false, rest),
    };
    let mut namespace = None;
    let mut parts = rest;
    if parts[0] == "namespaces" && parts.len() > 1 {
        namespace = Some(parts[1].to_string());
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts = &parts[2..];
        }
    }
    let resource = parts[0].to_string();
    let name = parts.get(1).map(|s| s.to_string());
    let subresource = parts.get(2).map(|s| s.to_string());
    if parts.len() > 3 {
        return None;
    }
    // `/namespaces/{name}` is the namespace itself, not a namespace scope.
    if resource == "namespaces" {
        namespace = None;
    }
    let verb = match *method {
        Method::GET | Method::HEAD => match (&name, watch_prefix || watch_param) {
            (_, true) => Verb::Watch,
            (Some(_), false) => Verb::Get,
            (None, false) => Verb::List,
        },
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE if name.is_some() => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ => return None,
    };
    Some(RequestInfo {
        verb,
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource,
        name,
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, path: &str) -> RequestInfo {
        parse(&method, path, false).unwrap()
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let r = p(Method::GET, "/api/v1/namespaces/default/pods/web/status");
        assert_eq!(
            (
                r.verb,
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            (
                Verb::Get,
                Some("default"),
                "pods",
                Some("web"),
                Some("status")
            )
        );
        let r = p(Method::GET, "/apis/apps/v1/deployments");
        assert_eq!(
            (r.verb, r.group.as_str(), r.namespace),
            (Verb::List, "apps", None)
        );
        let r = p(Method::GET, "/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = p(Method::PUT, "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("x"), Some("finalize"))
        );
        let r = p(Method::GET, "/api/v1/namespaces");
        assert_eq!((r.verb, r.resource.as_str()), (Verb::List, "namespaces"));
        let r = p(Method::DELETE, "/api/v1/namespaces/default/pods");
        assert_eq!(r.verb, Verb::DeleteCollection);
        let r = p(Method::GET, "/api/v1/watch/namespaces/default/pods");
        assert_eq!(
            (r.verb, r.namespace.as_deref()),
            (Verb::Watch, Some("default"))
        );
        assert_eq!(
            parse(&Method::GET, "/api/v1/pods", true).unwrap().verb,
            Verb::Watch
        );
    }

    #[test]
    fn non_resource_paths() {
        for path in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps/v1",
            "/healthz",
            "/api/v1/a/b/c/d",
        ] {
            assert_eq!(parse(&Method::GET, path, false), None, "{path}");
        }
    }
}
