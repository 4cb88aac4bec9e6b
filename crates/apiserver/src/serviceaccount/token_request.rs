//! The TokenRequest API: `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token` takes an
//! `authentication.k8s.io/v1` TokenRequest and answers it with `status.token` and
//! `status.expirationTimestamp`, as upstream:
//!
//! - `spec.audiences` defaults to the apiserver's; `spec.expirationSeconds` to 3600, and
//!   must be at least 600 and at most 2³²;
//! - `spec.boundObjectRef` may name a Pod (which must run as this service account), a Secret
//!   or a Node in the namespace; its uid, when given, must match the stored one (409), and
//!   the token carries the object's name and uid (a pod's node too);
//! - a pod-bound token asking for the kubelet's 3607 s for the API audiences gets upstream's
//!   extended expiry (one year) with `warnafter` at the requested one.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::{ApiError, ErrorDetails, FieldCause};
use serde_json::{Value, json};

use super::Tokens;
use super::claims::{Claims, Kubernetes, Ref};
use crate::handlers::{body, respond};
use crate::registry::meta::{meta_str, timestamp};

/// Expiry when a TokenRequest gives none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest expiry accepted.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// The longest expiry accepted.
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// What the ServiceAccount admission plugin asks for in `kube-api-access-*` volumes.
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;
/// The real lifetime of such tokens (one year), so old clients that never re-read the file
/// keep working while the apiserver warns after the requested one.
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 365 * 24 * 3600;

const GROUP: &str = "authentication.k8s.io";

/// The route.
pub fn routes(tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            post(create),
        )
        .with_state(tokens)
}

async fn create(
    State(tokens): State<Arc<Tokens>>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    request: Body,
) -> Response {
    let result = async {
        let bytes = body::read(request).await?;
        let req = body::decode_object(&headers, &bytes)?;
        tokens.issue(&namespace, &name, req).await
    }
    .await;
    match result {
        Ok(out) => respond::json(StatusCode::CREATED, &out, &[]),
        Err(e) => respond::error(&e),
    }
}

fn info(plural: &str) -> &'static ResourceInfo {
    find("", "v1", plural).expect("core resources are built in")
}

/// 422 for a TokenRequest (`TokenRequest.authentication.k8s.io "<name>" is invalid: …`).
fn invalid(name: &str, causes: Vec<FieldCause>) -> ApiError {
    let joined: Vec<String> = causes.iter().map(FieldCause::to_message).collect();
    let list = match joined.len() {
        1 => joined[0].clone(),
        _ => format!("[{}]", joined.join(", ")),
    };
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("TokenRequest.{GROUP} \"{name}\" is invalid: {list}"),
        details: Some(Box::new(ErrorDetails {
            name: name.to_string(),
            group: GROUP.to_string(),
            kind: "TokenRequest".to_string(),
            causes,
            retry_after_seconds: None,
        })),
    }
}

/// The `uid` of a stored object, or `""`.
fn uid(obj: &Value) -> String {
    meta_str(obj, "uid").unwrap_or_default().to_string()
}

impl Tokens {
    /// Answers the TokenRequest `req` for the ServiceAccount `namespace/name`.
    pub async fn issue(
        &self,
        namespace: &str,
        name: &str,
        mut req: Value,
    ) -> Result<Value, ApiError> {
        if req
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k != "TokenRequest")
        {
            return Err(ApiError::bad_request(format!(
                "the body of the request must be a TokenRequest, not a {}",
                req["kind"].as_str().unwrap_or_default()
            )));
        }
        if let Some(n) = meta_str(&req, "name").filter(|n| !n.is_empty() && *n != name) {
            return Err(invalid(
                name,
                vec![FieldCause::invalid(
                    "metadata.name",
                    &json!(n),
                    "must match the service account name if specified",
                )],
            ));
        }
        if let Some(ns) = meta_str(&req, "namespace").filter(|n| !n.is_empty() && *n != namespace) {
            return Err(invalid(
                name,
                vec![FieldCause::invalid(
                    "metadata.namespace",
                    &json!(ns),
                    "must match the service account namespace if specified",
                )],
            ));
        }
        let sa = self
            .registry
            .get(info("serviceaccounts"), Some(namespace), name)
            .await?;
        let now = (self.clock)();
        let now_s = now.as_second();

        let spec = req["spec"].take();
        let mut audiences: Vec<String> = spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if audiences.is_empty() {
            audiences = self.audiences.clone();
        }
        let expiration = match &spec["expirationSeconds"] {
            Value::Null => DEFAULT_EXPIRATION_SECONDS,
            v => v.as_i64().ok_or_else(|| {
                ApiError::bad_request("spec.expirationSeconds must be an integer")
            })?,
        };
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid(
                "",
                vec![FieldCause::invalid(
                    "spec.expirationSeconds",
                    &json!(expiration),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        if expiration > MAX_EXPIRATION_SECONDS {
            return Err(invalid(
                "",
                vec![FieldCause::invalid(
                    "spec.expirationSeconds",
                    &json!(expiration),
                    "may not specify a duration larger than 2^32 seconds",
                )],
            ));
        }

        let mut kubernetes = Kubernetes {
            namespace: namespace.to_string(),
            serviceaccount: Ref {
                name: name.to_string(),
                uid: uid(&sa),
            },
            ..Kubernetes::default()
        };
        let bound = spec
            .get("boundObjectRef")
            .filter(|r| r.is_object())
            .cloned();
        if let Some(r) = &bound {
            self.bind(namespace, name, r, &mut kubernetes).await?;
        }
        let mut lifetime = expiration;
        if kubernetes.pod.is_some()
            && expiration == WARN_ONLY_EXPIRATION_SECONDS
            && audiences.iter().all(|a| self.audiences.contains(a))
        {
            kubernetes.warnafter = Some(now_s + expiration);
            lifetime = EXTENDED_EXPIRATION_SECONDS;
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: super::user_name(namespace, name),
            aud: audiences.clone(),
            exp: now_s + lifetime,
            iat: now_s,
            nbf: now_s,
            jti: Some(uuid::Uuid::new_v4().to_string()),
            kubernetes,
        };
        let claims = serde_json::to_value(&claims).map_err(ApiError::internal)?;
        let token = super::jwt::encode(&self.key, &claims).map_err(ApiError::internal)?;
        let expires =
            jiff::Timestamp::from_second(now_s + expiration).map_err(ApiError::internal)?;

        let mut metadata = req["metadata"].take();
        if !metadata.is_object() {
            metadata = json!({});
        }
        metadata["name"] = name.into();
        metadata["namespace"] = namespace.into();
        metadata["creationTimestamp"] = timestamp(now);
        let mut out_spec = json!({"audiences": audiences, "expirationSeconds": expiration});
        if let Some(r) = bound {
            out_spec["boundObjectRef"] = r;
        }
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": format!("{GROUP}/v1"),
            "metadata": metadata,
            "spec": out_spec,
            "status": {"token": token, "expirationTimestamp": timestamp(expires)},
        }))
    }

    /// Checks the bound object and records it (and a pod's node) in the claims.
    async fn bind(
        &self,
        namespace: &str,
        sa_name: &str,
        r: &Value,
        k: &mut Kubernetes,
    ) -> Result<(), ApiError> {
        let kind = r["kind"].as_str().unwrap_or_default();
        let api_version = r["apiVersion"].as_str().unwrap_or_default();
        let obj_name = r["name"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let obj = match (group, kind) {
            ("", "Pod") => {
                let pod = self
                    .registry
                    .get(info("pods"), Some(namespace), obj_name)
                    .await?;
                let runs_as = pod["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap_or_default();
                if runs_as != sa_name {
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
                    )));
                }
                if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                    // Informational: a pod whose node is unknown still gets a token.
                    if let Ok(n) = self.registry.get(info("nodes"), None, node).await {
                        k.node = Some(Ref {
                            name: node.to_string(),
                            uid: uid(&n),
                        });
                    }
                }
                k.pod = Some(Ref {
                    name: obj_name.to_string(),
                    uid: uid(&pod),
                });
                pod
            }
            ("", "Secret") => {
                let secret = self
                    .registry
                    .get(info("secrets"), Some(namespace), obj_name)
                    .await?;
                k.secret = Some(Ref {
                    name: obj_name.to_string(),
                    uid: uid(&secret),
                });
                secret
            }
            ("", "Node") => {
                let node = self.registry.get(info("nodes"), None, obj_name).await?;
                k.node = Some(Ref {
                    name: obj_name.to_string(),
                    uid: uid(&node),
                });
                node
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token to object of type {group}/{version}, Kind={kind}"
                )));
            }
        };
        let want = r["uid"].as_str().unwrap_or_default();
        if !want.is_empty() && want != uid(&obj) {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Operation cannot be fulfilled on {kind} {obj_name:?}: the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
                details: Some(Box::new(ErrorDetails {
                    name: obj_name.to_string(),
                    group: group.to_string(),
                    kind: kind.to_string(),
                    ..ErrorDetails::default()
                })),
            });
        }
        Ok(())
    }
}
