//! Node join, as k3s does it: the server keeps a join token `K10<sha256 of the CA PEM>::server:<secret>`
//! in its data dir. An agent fetches the CA from `GET /cacerts` (unauthenticated), checks it
//! against the token's hash, then trades the secret at `POST /v1-rkube/node-credentials` for its
//! own client certificate (`system:node:<name>`, group `system:nodes`). These two routes sit
//! outside the authentication layer: the secret is their credential.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::pki::{Pki, PkiError};
use rkube_api::node_token::{parse_token, token};

/// What the join routes need.
pub struct NodeJoin {
    pki: Arc<Pki>,
    secret: String,
}

impl NodeJoin {
    /// Loads the secret from `<dir>/node-token`, creating it (mode 0600) on first start; or
    /// uses `secret` when given (`--token`). Returns the join state and the full token.
    pub fn load_or_create(
        dir: &Path,
        pki: Arc<Pki>,
        secret: Option<&str>,
    ) -> Result<(NodeJoin, String), PkiError> {
        let path = dir.join("node-token");
        let secret = match secret {
            Some(s) => s.to_string(),
            None => match std::fs::read_to_string(&path)
                .ok()
                .as_deref()
                .and_then(|t| parse_token(t).map(|(_, s)| s.to_string()))
            {
                Some(s) => s,
                None => {
                    let bytes: [u8; 16] = rand::random();
                    bytes.iter().map(|b| format!("{b:02x}")).collect()
                }
            },
        };
        let full = token(pki.ca_pem(), &secret);
        crate::pki::write_secret_file(&path, format!("{full}\n").as_bytes())?;
        Ok((NodeJoin { pki, secret }, full))
    }
}

/// The unauthenticated join routes.
pub fn routes(join: Arc<NodeJoin>) -> axum::Router {
    axum::Router::new()
        .route("/cacerts", get(cacerts))
        .route("/v1-rkube/node-credentials", post(credentials))
        .with_state(join)
}

async fn cacerts(State(join): State<Arc<NodeJoin>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        join.pki.ca_pem().to_string(),
    )
        .into_response()
}

/// What an agent asks for.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsRequest {
    /// The node's name.
    pub node_name: String,
}

/// What it gets.
#[derive(Debug, Serialize, Deserialize)]
pub struct Credentials {
    /// Client certificate, PEM.
    pub certificate: String,
    /// Its key, PEM.
    pub key: String,
    /// The cluster CA, PEM.
    pub ca: String,
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    (code, Json(body)).into_response()
}

async fn credentials(
    State(join): State<Arc<NodeJoin>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(join.secret.as_bytes())) {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized: the node join token is not valid for this cluster",
        );
    }
    let req: CredentialsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("invalid request body: {e}"),
            );
        }
    };
    let errors = rkube_api::validation::names::dns1123_subdomain(&req.node_name);
    if req.node_name.is_empty() || !errors.is_empty() {
        let why = errors.join("; ");
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!("nodeName {:?} is invalid: {why}", req.node_name),
        );
    }
    let cn = format!("system:node:{}", req.node_name);
    match join.pki.issue_client_cert(&cn, &[crate::pki::NODES_GROUP]) {
        Ok(c) => {
            tracing::info!(node = %req.node_name, "issued node credentials");
            Json(Credentials {
                certificate: c.cert_pem,
                key: c.key_pem,
                ca: join.pki.ca_pem().to_string(),
            })
            .into_response()
        }
        Err(e) => status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("issuing the node certificate: {e}"),
        ),
    }
}
