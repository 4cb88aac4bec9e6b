//! Upstream's `--max-requests-inflight` and `--max-mutating-requests-inflight`: at most so
//! many read-only (get, list) and mutating requests are served at once; one more is refused
//! at once with `429 Too Many Requests`, `Retry-After: 1` and upstream's plain-text body.
//! Long-running requests (watches, exec/attach/portforward, proxy, logs) are not counted,
//! and members of `system:masters` are never refused, as upstream. A limit of 0 means none.
//! The counts are kept for `/metrics` (`apiserver_current_inflight_requests`,
//! `apiserver_dropped_requests_total`), which the layer hands to each request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use tokio::sync::Semaphore;

use crate::authn::UserInfo;

/// Upstream's `--max-requests-inflight` default.
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: usize = 400;
/// Upstream's `--max-mutating-requests-inflight` default.
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: usize = 200;

/// The body of a refusal, as upstream writes it (`http.Error` adds the newline).
pub const TOO_MANY_REQUESTS: &str = "Too many requests, please try again later.\n";

/// Subresources whose requests stream for as long as the client wants (upstream's
/// `BasicLongRunningRequestCheck`).
const LONG_RUNNING_SUBRESOURCES: [&str; 5] = ["attach", "exec", "proxy", "log", "portforward"];

/// The two pools and what they counted.
pub struct Inflight {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
    limits: (usize, usize),
    dropped_read_only: AtomicU64,
    dropped_mutating: AtomicU64,
}

/// Which pool a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ReadOnly,
    Mutating,
}

impl Inflight {
    /// Pools of `max_read_only` and `max_mutating` (0: unlimited).
    pub fn new(max_read_only: usize, max_mutating: usize) -> Inflight {
        let pool = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Inflight {
            read_only: pool(max_read_only),
            mutating: pool(max_mutating),
            limits: (max_read_only, max_mutating),
            dropped_read_only: AtomicU64::new(0),
            dropped_mutating: AtomicU64::new(0),
        }
    }

    fn pool(&self, kind: Kind) -> Option<&Arc<Semaphore>> {
        match kind {
            Kind::ReadOnly => self.read_only.as_ref(),
            Kind::Mutating => self.mutating.as_ref(),
        }
    }

    /// Requests being served now in `kind`'s pool.
    fn current(&self, kind: Kind) -> usize {
        let limit = match kind {
            Kind::ReadOnly => self.limits.0,
            Kind::Mutating => self.limits.1,
        };
        self.pool(kind)
            .map_or(0, |p| limit.saturating_sub(p.available_permits()))
    }

    /// The Prometheus text of the two metrics.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_current_inflight_requests Maximal number of currently used inflight request limit of this apiserver per request kind in last second.\n\
             # TYPE apiserver_current_inflight_requests gauge\n",
        );
        for (label, kind) in [("mutating", Kind::Mutating), ("readOnly", Kind::ReadOnly)] {
            out.push_str(&format!(
                "apiserver_current_inflight_requests{{request_kind=\"{label}\"}} {}\n",
                self.current(kind)
            ));
        }
        out.push_str(
            "# HELP apiserver_dropped_requests_total Number of requests dropped with 'Try again later' response.\n\
             # TYPE apiserver_dropped_requests_total counter\n",
        );
        for (label, n) in [
            ("mutating", &self.dropped_mutating),
            ("readOnly", &self.dropped_read_only),
        ] {
            out.push_str(&format!(
                "apiserver_dropped_requests_total{{request_kind=\"{label}\"}} {}\n",
                n.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// The middleware function of the layer.
type Middleware =
    fn(State<Arc<Inflight>>, Request, Next) -> futures::future::BoxFuture<'static, Response>;

/// The layer [`layer`] builds.
pub type InflightLayer =
    axum::middleware::FromFnLayer<Middleware, Arc<Inflight>, (State<Arc<Inflight>>, Request)>;

/// The layer limiting requests in flight to the configured limits; it must run after
/// authentication (it exempts `system:masters` by the user the authenticator found).
pub fn layer(config: &crate::server::ServerConfig) -> InflightLayer {
    limits_layer(
        config.max_requests_inflight,
        config.max_mutating_requests_inflight,
    )
}

/// [`layer`] with the two limits.
pub fn limits_layer(max_read_only: usize, max_mutating: usize) -> InflightLayer {
    let f: Middleware = |state, req, next| Box::pin(limit(state, req, next));
    axum::middleware::from_fn_with_state(Arc::new(Inflight::new(max_read_only, max_mutating)), f)
}

async fn limit(State(inflight): State<Arc<Inflight>>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(Arc::clone(&inflight));
    if is_long_running(req.method(), req.uri()) {
        return next.run(req).await;
    }
    let kind = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Kind::ReadOnly
    } else {
        Kind::Mutating
    };
    let Some(pool) = inflight.pool(kind) else {
        return next.run(req).await;
    };
    match Arc::clone(pool).try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) if is_master(&req) => next.run(req).await,
        Err(_) => {
            let dropped = match kind {
                Kind::ReadOnly => &inflight.dropped_read_only,
                Kind::Mutating => &inflight.dropped_mutating,
            };
            dropped.fetch_add(1, Ordering::Relaxed);
            too_many_requests()
        }
    }
}

fn is_master(req: &Request) -> bool {
    req.extensions()
        .get::<UserInfo>()
        .is_some_and(|u| u.groups.iter().any(|g| g == crate::pki::MASTERS_GROUP))
}

/// upstream's 429: plain text, `Retry-After: 1`.
fn too_many_requests() -> Response {
    let mut resp = Response::new(Body::from(TOO_MANY_REQUESTS));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = resp.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Watches (`watch=true` or the `/watch/` prefix) and the streaming subresources.
fn is_long_running(method: &Method, uri: &http::Uri) -> bool {
    let watch_param = uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    });
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return false,
    };
    if matches!(*method, Method::GET | Method::HEAD)
        && (watch_param || rest.first() == Some(&"watch"))
    {
        return true;
    }
    // …/{resource}/{name}/{subresource}[/more], within a namespace or not.
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    rest.get(2)
        .is_some_and(|sub| LONG_RUNNING_SUBRESOURCES.contains(sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::any;
    use tower::ServiceExt;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn long_running_requests() {
        let get = Method::GET;
        assert!(is_long_running(&get, &uri("/api/v1/pods?watch=true")));
        assert!(is_long_running(
            &get,
            &uri("/api/v1/watch/namespaces/a/pods")
        ));
        assert!(is_long_running(
            &get,
            &uri("/apis/apps/v1/namespaces/a/deployments?watch=1")
        ));
        assert!(is_long_running(
            &Method::POST,
            &uri("/api/v1/namespaces/a/pods/p/exec?command=ls")
        ));
        assert!(is_long_running(
            &get,
            &uri("/api/v1/namespaces/a/pods/p/log")
        ));
        assert!(is_long_running(&get, &uri("/api/v1/nodes/n/proxy/metrics")));
        assert!(is_long_running(
            &get,
            &uri("/api/v1/namespaces/a/services/s/proxy/x/y")
        ));
        assert!(!is_long_running(&get, &uri("/api/v1/namespaces/a/pods")));
        assert!(!is_long_running(
            &get,
            &uri("/api/v1/namespaces/a/pods/p/status")
        ));
        assert!(!is_long_running(&get, &uri("/api/v1/namespaces/watch")));
        assert!(!is_long_running(&get, &uri("/healthz")));
        assert!(!is_long_running(
            &Method::POST,
            &uri("/api/v1/pods?watch=true")
        ));
    }

    /// A router whose requests wait until released, behind the layer.
    fn held(max_read_only: usize, max_mutating: usize) -> (Router, Arc<tokio::sync::Notify>) {
        let release = Arc::new(tokio::sync::Notify::new());
        let wait = Arc::clone(&release);
        let router = Router::new()
            .fallback(any(move || {
                let wait = Arc::clone(&wait);
                async move {
                    wait.notified().await;
                    "done"
                }
            }))
            .layer(limits_layer(max_read_only, max_mutating));
        (router, release)
    }

    fn request(method: Method, path: &str, master: bool) -> Request {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        if master {
            req.extensions_mut().insert(UserInfo {
                name: "system:admin".into(),
                uid: String::new(),
                groups: vec![crate::pki::MASTERS_GROUP.into()],
            });
        }
        req
    }

    #[tokio::test]
    async fn the_pool_beyond_its_limit_refuses_until_a_request_ends() {
        let (router, release) = held(1, 1);
        let first = tokio::spawn(router.clone().oneshot(request(
            Method::POST,
            "/api/v1/namespaces/a/pods",
            false,
        )));
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let refused = router
            .clone()
            .oneshot(request(Method::POST, "/api/v1/namespaces/a/pods", false))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(refused.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(body, TOO_MANY_REQUESTS.as_bytes());
        // The read-only pool is separate; watches and masters are not refused.
        let read = tokio::spawn(router.clone().oneshot(request(
            Method::GET,
            "/api/v1/namespaces/a/pods",
            false,
        )));
        let watch = tokio::spawn(router.clone().oneshot(request(
            Method::GET,
            "/api/v1/namespaces/a/pods?watch=true",
            false,
        )));
        let master = tokio::spawn(router.clone().oneshot(request(
            Method::POST,
            "/api/v1/namespaces/a/pods",
            true,
        )));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release.notify_waiters();
        for r in [first, read, watch, master] {
            assert_eq!(r.await.unwrap().unwrap().status(), StatusCode::OK);
        }
        // Released: admitted again.
        let again = tokio::spawn(router.clone().oneshot(request(
            Method::POST,
            "/api/v1/namespaces/a/pods",
            false,
        )));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release.notify_waiters();
        assert_eq!(again.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn zero_means_unlimited_and_metrics_count_drops() {
        let inflight = Inflight::new(0, 1);
        assert!(inflight.pool(Kind::ReadOnly).is_none());
        let permit = Arc::clone(inflight.pool(Kind::Mutating).unwrap())
            .try_acquire_owned()
            .unwrap();
        assert_eq!(inflight.current(Kind::Mutating), 1);
        inflight.dropped_mutating.fetch_add(2, Ordering::Relaxed);
        let text = inflight.encode();
        assert!(text.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 1"));
        assert!(text.contains("apiserver_dropped_requests_total{request_kind=\"mutating\"} 2"));
        drop(permit);
        assert_eq!(inflight.current(Kind::Mutating), 0);
    }
}
