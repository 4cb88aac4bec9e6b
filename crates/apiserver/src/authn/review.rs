//! `SelfSubjectReview` (`POST /apis/authentication.k8s.io/v1/selfsubjectreviews`, what
//! `kubectl auth whoami` asks): the requester's own user as the authenticator saw it.

use axum::Router;
use axum::extract::Extension;
use axum::response::Response;
use axum::routing::post;
use http::StatusCode;
use serde_json::json;

use super::UserInfo;
use crate::handlers::respond;

/// The route (behind the authentication layer, which provides the [`UserInfo`]).
pub fn routes() -> Router {
    Router::new().route(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        post(review),
    )
}

async fn review(Extension(user): Extension<UserInfo>) -> Response {
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = user.uid.into();
    }
    respond::json(
        StatusCode::CREATED,
        &json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": info},
        }),
        &[],
    )
}
