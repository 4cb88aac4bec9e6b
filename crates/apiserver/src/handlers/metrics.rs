//! Prometheus metrics with upstream's names: `apiserver_request_total` and
//! `apiserver_request_duration_seconds`, labelled by verb, group, version, resource,
//! subresource, scope and (for the counter) code, served at `/metrics`.

use crate::request::{self, Verb};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// Labels of one request, as upstream's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: String,
    component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    verb: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: String,
    component: String,
    code: String,
}

/// The apiserver's request metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<CodeLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
}

/// Upstream's buckets for request latency, in seconds.
const BUCKETS: [f64; 21] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0,
];

impl Metrics {
    /// The request metrics, the watch cache's and the store's.
    pub fn new(registry: &crate::registry::Registry) -> Metrics {
        let mut metrics = Metrics::default();
        registry.register_metrics(&mut metrics.registry);
        metrics
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<CodeLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(BUCKETS.iter().copied())
        });
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests by verb, group, version, resource, scope, component and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds by verb, group, version, resource, subresource, scope and component",
            durations.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }
}

impl Metrics {
    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Middleware: times every resource request and counts it with its status code. Watches
/// are counted when their stream starts (upstream counts them separately as long-running).
pub async fn record(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let watch = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"));
    // Only served resources get series: labels copied from any path would let clients grow
    // the metrics (and the server's memory) without bound, one made-up resource at a time.
    let info = request::parse(req.method(), req.uri().path(), watch).filter(is_served);
    let started = Instant::now();
    let resp = next.run(req).await;
    if let Some(ri) = info {
        let verb = match ri.verb {
            // Upstream reports GETs of collections as LIST and updates as PUT-style verbs.
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Get => "GET",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete | Verb::DeleteCollection => "DELETE",
        };
        let scope = match (&ri.namespace, &ri.name) {
            (_, Some(_)) => "resource",
            (Some(_), None) => "namespace",
            (None, None) => "cluster",
        };
        let labels = RequestLabels {
            verb: verb.to_string(),
            group: ri.group.clone(),
            version: ri.version.clone(),
            resource: ri.resource.clone(),
            subresource: ri.subresource.clone().unwrap_or_default(),
            scope: scope.to_string(),
            component: "apiserver".to_string(),
        };
        metrics
            .durations
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        metrics
            .requests
            .get_or_create(&CodeLabels {
                verb: labels.verb,
                group: labels.group,
                version: labels.version,
                resource: labels.resource,
                subresource: labels.subresource,
                scope: labels.scope,
                component: labels.component,
                code: resp.status().as_u16().to_string(),
            })
            .inc();
    }
    resp
}

/// Whether a request names a served resource (and one of its subresources, if any).
fn is_served(ri: &request::RequestInfo) -> bool {
    rkube_api::resources::find(&ri.group, &ri.version, &ri.resource).is_some_and(|info| {
        ri.subresource
            .as_deref()
            .is_none_or(|sub| info.has_subresource(sub))
    })
}

/// `GET /metrics` (with the inflight limiter's counts when it runs in front).
pub async fn serve(State(metrics): State<Arc<Metrics>>, req: Request) -> Response {
    let mut text = metrics.encode();
    if let Some(inflight) = req.extensions().get::<Arc<crate::inflight::Inflight>>() {
        text.push_str(&inflight.encode());
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_use_upstream_names() {
        let m = Metrics::default();
        m.requests
            .get_or_create(&CodeLabels {
                verb: "GET".into(),
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
                subresource: "".into(),
                scope: "resource".into(),
                component: "apiserver".into(),
                code: "200".into(),
            })
            .inc();
        m.durations
            .get_or_create(&RequestLabels {
                verb: "GET".into(),
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
                subresource: "".into(),
                scope: "resource".into(),
                component: "apiserver".into(),
            })
            .observe(0.01);
        let text = m.encode();
        assert!(text.contains("apiserver_request_total{"), "{text}");
        assert!(text.contains("code=\"200\""), "{text}");
        assert!(
            text.contains("# TYPE apiserver_request_duration_seconds histogram"),
            "{text}"
        );
    }

    /// Found by fuzzing request paths: every made-up resource got its own series.
    #[tokio::test]
    async fn only_served_resources_get_series() {
        let metrics = Arc::new(Metrics::default());
        let app = axum::Router::new()
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&metrics),
                record,
            ));
        for path in [
            "/api/v1/namespaces/default/pods/web/status",
            "/api/v1/made-up-resource",
            "/apis/made-up.example.com/v9/things",
            "/api/v1/namespaces/default/pods/web/made-up-subresource",
        ] {
            let req = Request::get(path).body(axum::body::Body::empty()).unwrap();
            tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
        }
        let text = metrics.encode();
        assert!(text.contains("subresource=\"status\""), "{text}");
        assert!(!text.contains("made-up"), "{text}");
    }
}
