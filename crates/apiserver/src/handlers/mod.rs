//! The HTTP routes: discovery, health, OpenAPI and the resource endpoint, behind
//! authentication.

pub mod apply;
pub mod body;
pub mod discovery;
mod field_validation;
pub mod health;
mod list_json;
pub mod metrics;
pub mod openapi;
mod options;
pub mod patch;
mod present;
pub mod proxy;
pub mod resource;
pub mod respond;
pub mod watch;

use crate::registry::{Clock, Registry};
use axum::Router;
use axum::routing::{any, get};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What the handlers share.
pub struct App {
    /// The registry over the store.
    pub registry: Registry,
    /// The clock (ages in Tables, timestamps).
    pub clock: Clock,
    /// `host:port` clients reach this server at (discovery's serverAddressByClientCIDRs).
    pub server_address: String,
    /// Set once start-up work (system namespaces…) is done; `/readyz` reports it.
    pub ready: AtomicBool,
    /// The OpenAPI documents of the served resources (built once at start).
    pub openapi: crate::openapi::OpenApi,
}

impl App {
    /// The current time.
    pub fn now(&self) -> jiff::Timestamp {
        (self.clock)()
    }
}

/// Query parameters (the last value of a repeated one wins).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter: `true` or `1`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// Every route, unauthenticated; the caller adds the authentication layer.
pub fn routes(app: Arc<App>) -> Router {
    let metrics = Arc::new(metrics::Metrics::new(&app.registry));
    let metrics_route = Router::new()
        .route("/metrics", get(metrics::serve))
        .with_state(Arc::clone(&metrics));
    Router::new()
        .route("/version", get(health::version))
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/healthz/{*check}", get(health::healthz_check))
        .route("/livez/{*check}", get(health::livez_check))
        .route("/readyz/{*check}", get(health::readyz_check))
        .route("/api", get(discovery::core))
        .route("/api/", get(discovery::core))
        .route("/api/v1", get(discovery::core_resources))
        .route("/api/v1/", get(discovery::core_resources))
        .route("/apis", get(discovery::groups))
        .route("/apis/", get(discovery::groups))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_resources))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_root))
        .route("/openapi/v3/{*prefix}", get(openapi::v3_group_version))
        .route("/api/v1/nodes/{name}/proxy", any(proxy::node_proxy))
        .route("/api/v1/nodes/{name}/proxy/{*path}", any(proxy::node_proxy))
        .fallback(resource::handle)
        .with_state(app)
        .merge(metrics_route)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::record,
        ))
}
