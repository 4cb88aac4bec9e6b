//! OIDC discovery of the service-account issuer, as upstream serves it:
//! `/.well-known/openid-configuration` (issuer, `jwks_uri` under the issuer, ES256) and
//! `/openid/v1/jwks` (the public signing key), so relying parties can verify tokens.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use serde_json::{Value, json};

use super::Tokens;

/// The routes.
pub fn routes(tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route("/openid/v1/jwks", get(jwks))
        .with_state(tokens)
}

/// The discovery document.
pub fn configuration_document(tokens: &Tokens) -> Value {
    json!({
        "issuer": tokens.issuer,
        "jwks_uri": format!("{}/openid/v1/jwks", tokens.issuer.trim_end_matches('/')),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })
}

fn cached(body: &Value, content_type: &'static str) -> Response {
    let mut resp = serde_json::to_vec(body).unwrap_or_default().into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

async fn configuration(State(tokens): State<Arc<Tokens>>) -> Response {
    cached(&configuration_document(&tokens), "application/json")
}

async fn jwks(State(tokens): State<Arc<Tokens>>) -> Response {
    cached(
        &json!({"keys": [tokens.key.jwk()]}),
        "application/jwk-set+json",
    )
}
