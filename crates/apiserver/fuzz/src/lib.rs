//! Shared harness of the apiserver fuzz targets: the real router (`handlers::routes`) and
//! registry over an in-memory [`Store`] that is reset to the same handful of objects before
//! every input, driven on one current-thread tokio runtime.
//!
//! The in-memory store keeps no history (a read at a past revision sees the latest state) but
//! otherwise answers like the real backends: the same key checks (`validate_key`,
//! `validate_value`), `FutureRevision` for revisions ahead of the store, compare-and-swap
//! outcomes. Watches never deliver events (they stay open), so a watch response carries only
//! what the registry sends up front (initial events, bookmarks).

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use futures::FutureExt;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use rkube_apiserver::handlers::{self, App};
use rkube_apiserver::registry::{Clock, Ranges, Registry};
use rkube_store::{
    CreateOutcome, DeleteOutcome, KeyValue, RangeRequest, RangeResponse, Revision, Store,
    StoreError, UpdateOutcome, WatchStream, validate_key, validate_value,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The store's whole state: its revision and live keys.
#[derive(Clone, Default)]
struct State {
    revision: Revision,
    kvs: BTreeMap<String, KeyValue>,
}

/// An in-memory [`Store`] without history.
#[derive(Default)]
pub struct MemStore {
    state: Mutex<State>,
}

impl MemStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn resolve(state: &State, revision: Revision) -> Result<Revision, StoreError> {
        match revision {
            r if r <= 0 => Ok(state.revision),
            r if r > state.revision => Err(StoreError::FutureRevision {
                requested: r,
                current: state.revision,
            }),
            r => Ok(r),
        }
    }
}

#[async_trait]
impl Store for MemStore {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }

    async fn get(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>, StoreError> {
        validate_key(key)?;
        let state = self.lock();
        Self::resolve(&state, revision)?;
        Ok(state.kvs.get(key).cloned())
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        validate_key(&req.prefix)?;
        let state = self.lock();
        let at = Self::resolve(&state, req.revision)?;
        let under = |k: &&String| k.starts_with(&req.prefix);
        let count = state.kvs.keys().filter(under).count() as i64;
        let mut kvs: Vec<KeyValue> = state
            .kvs
            .iter()
            .filter(|(k, _)| k.starts_with(&req.prefix))
            .filter(|(k, _)| {
                req.start_after
                    .as_ref()
                    .is_none_or(|a| k.as_str() > a.as_str())
            })
            .map(|(_, kv)| kv.clone())
            .collect();
        let more = req.limit > 0 && kvs.len() as i64 > req.limit;
        if more {
            kvs.truncate(req.limit as usize);
        }
        Ok(RangeResponse {
            kvs,
            more,
            count,
            revision: at,
        })
    }

    async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        validate_key(prefix)?;
        Ok(self
            .lock()
            .kvs
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count() as i64)
    }

    async fn create(
        &self,
        key: &str,
        value: Bytes,
        _ttl: Option<Duration>,
    ) -> Result<CreateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let mut state = self.lock();
        if let Some(kv) = state.kvs.get(key) {
            return Ok(CreateOutcome::AlreadyExists(kv.clone()));
        }
        state.revision += 1;
        let revision = state.revision;
        state.kvs.insert(
            key.to_string(),
            KeyValue {
                key: key.to_string(),
                value,
                create_revision: revision,
                mod_revision: revision,
                version: 1,
            },
        );
        Ok(CreateOutcome::Created(revision))
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        _ttl: Option<Duration>,
    ) -> Result<UpdateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let mut state = self.lock();
        let revision = state.revision + 1;
        match state.kvs.get_mut(key) {
            None => Ok(UpdateOutcome::Conflict(None)),
            Some(kv) if kv.mod_revision != expected_mod_revision => {
                Ok(UpdateOutcome::Conflict(Some(kv.clone())))
            }
            Some(kv) => {
                kv.value = value;
                kv.mod_revision = revision;
                kv.version += 1;
                state.revision = revision;
                Ok(UpdateOutcome::Updated(revision))
            }
        }
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError> {
        validate_key(key)?;
        let mut state = self.lock();
        match state.kvs.get(key) {
            None => Ok(DeleteOutcome::NotFound),
            Some(kv) if expected_mod_revision.is_some_and(|r| r != kv.mod_revision) => {
                Ok(DeleteOutcome::Conflict(kv.clone()))
            }
            Some(_) => {
                state.revision += 1;
                let revision = state.revision;
                let prev = state.kvs.remove(key).expect("just seen");
                Ok(DeleteOutcome::Deleted { revision, prev })
            }
        }
    }

    async fn watch(
        &self,
        prefix: &str,
        _start_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        validate_key(prefix)?;
        Ok(Box::pin(futures::stream::pending()))
    }

    async fn compact(&self, _revision: Revision) -> Result<(), StoreError> {
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        Ok(0)
    }
}

/// A response, its body read as far as it is ready (a watch's stays open).
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// `Content-Type`, if any.
    pub content_type: String,
    /// The body bytes read.
    pub body: Vec<u8>,
    /// Whether the request was a HEAD (whose response has no body).
    pub head: bool,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// The router over a [`MemStore`], with the store's state after setup.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    store: Arc<MemStore>,
    registry: Registry,
    initial: State,
}

/// Objects every input starts with: namespaces, and one object named `web` (and a few more
/// pods) of each kind the targets write.
const SETUP: &[(&str, &str)] = &[
    ("/api/v1/namespaces", r#"{"metadata":{"name":"default"}}"#),
    (
        "/api/v1/namespaces",
        r#"{"metadata":{"name":"kube-system"}}"#,
    ),
    ("/api/v1/namespaces", r#"{"metadata":{"name":"web"}}"#),
    (
        "/api/v1/namespaces/default/pods",
        r#"{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:1.25","ports":[{"containerPort":80}]}]}}"#,
    ),
    (
        "/api/v1/namespaces/default/pods",
        r#"{"metadata":{"name":"web-1","labels":{"app":"web","tier":"front"}},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"nginx"}]}}"#,
    ),
    (
        "/api/v1/namespaces/default/pods",
        r#"{"metadata":{"name":"web-2","labels":{"app":"db"},"finalizers":["example.com/hold"]},"spec":{"containers":[{"name":"c","image":"mysql"}]}}"#,
    ),
    (
        "/api/v1/namespaces/kube-system/pods",
        r#"{"metadata":{"name":"coredns"},"spec":{"containers":[{"name":"c","image":"coredns"}]}}"#,
    ),
    (
        "/api/v1/namespaces/default/services",
        r#"{"metadata":{"name":"web"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}"#,
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        r#"{"metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
    ),
    (
        "/api/v1/namespaces/default/configmaps",
        r#"{"metadata":{"name":"web"},"data":{"a":"b"}}"#,
    ),
    (
        "/api/v1/namespaces/default/secrets",
        r#"{"metadata":{"name":"web"},"stringData":{"p":"q"}}"#,
    ),
    (
        "/api/v1/namespaces/default/replicationcontrollers",
        r#"{"metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"app":"web"},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
    ),
    (
        "/apis/batch/v1/namespaces/default/jobs",
        r#"{"metadata":{"name":"web"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}"#,
    ),
];

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let store = Arc::new(MemStore::default());
        // A fixed clock: ages and timestamps do not vary between runs.
        let clock: Clock = Arc::new(|| jiff::Timestamp::from_second(1_700_000_000).unwrap());
        let registry = Registry::new(
            Arc::clone(&store) as Arc<dyn Store>,
            clock.clone(),
            Ranges::default(),
        );
        let resources: Vec<_> = rkube_api::resources::BUILTIN.iter().collect();
        let app = Arc::new(App {
            registry: registry.clone(),
            clock,
            server_address: "127.0.0.1:6443".into(),
            ready: true.into(),
            openapi: rkube_apiserver::openapi::OpenApi::new(&resources),
        });
        let mut harness = Harness {
            rt,
            router: handlers::routes(app),
            store,
            registry,
            initial: State::default(),
        };
        for (path, body) in SETUP {
            let req = Request::post(*path)
                .header("content-type", "application/json")
                .body(Body::from(*body))
                .expect("a valid request");
            let reply = harness.send(req);
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "setup POST {path}: {}",
                String::from_utf8_lossy(&reply.body)
            );
        }
        harness.initial = harness.store.lock().clone();
        harness
    }

    /// Puts the store back to its state after setup.
    pub fn reset(&self) {
        *self.store.lock() = self.initial.clone();
    }

    /// The registry the router uses.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs a future on the harness's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Sends one request through the router and reads the response body as far as it is
    /// ready.
    pub fn send(&self, req: Request<Body>) -> Reply {
        let head = req.method() == http::Method::HEAD;
        self.rt.block_on(async {
            let resp = tower::ServiceExt::oneshot(self.router.clone(), req)
                .await
                .unwrap_or_else(|e| match e {});
            let status = resp.status();
            let content_type = resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let mut body = resp.into_body();
            let mut out = Vec::new();
            for _ in 0..10_000 {
                match body.frame().now_or_never() {
                    Some(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            out.extend_from_slice(&data);
                        }
                    }
                    // Ended, failed, or waiting for events that never come.
                    _ => break,
                }
            }
            Reply {
                status,
                content_type,
                body: out,
                head,
            }
        })
    }
}

/// The process's harness, built on first use (building the OpenAPI documents takes a moment).
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

/// What every reply must satisfy whatever the request: no 500 (an internal error is a bug,
/// the in-memory store never fails), and an error is a JSON `Status`.
///
/// With `RKUBE_FUZZ_VERBOSE` set, every request and its answer is printed (for reading what a
/// corpus reaches: `target/…/request_url corpus/request_url -runs=0`).
pub fn check(what: &str, reply: &Reply) {
    let text = || String::from_utf8_lossy(&reply.body).into_owned();
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    if *VERBOSE.get_or_init(|| std::env::var_os("RKUBE_FUZZ_VERBOSE").is_some()) {
        let body = text();
        eprintln!(
            "{what} -> {} {}",
            reply.status,
            body.chars().take(300).collect::<String>()
        );
    }
    assert_ne!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: internal error: {}",
        text()
    );
    if reply.status.is_client_error() && reply.content_type == "application/json" && !reply.head {
        let status = reply.json();
        assert_eq!(status["kind"], "Status", "{what}: error body: {}", text());
        assert_eq!(
            status["code"].as_u64(),
            Some(u64::from(reply.status.as_u16())),
            "{what}: error body: {}",
            text()
        );
    }
}
