//! The tower/axum layer that authenticates every request.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use futures::future::{BoxFuture, FutureExt};
use http::{HeaderValue, Request, StatusCode, header};

use super::Authenticator;
use crate::serve::PeerCertificates;

/// The body upstream sends with every authentication failure (`metav1.Status`, compact
/// JSON followed by a newline, as Go's JSON encoder writes it).
pub const UNAUTHORIZED_BODY: &str = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n";

/// The 401 response of an unauthenticated request, as upstream sends it.
pub fn unauthorized_response() -> Response {
    let mut response = Response::new(axum::body::Body::from(UNAUTHORIZED_BODY));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// The authentication layer: `Router::new().route(..).layer(authn::layer(authenticator))`.
/// Handlers then read `axum::Extension<UserInfo>`.
pub fn layer(authenticator: Arc<Authenticator>) -> AuthnLayer {
    AuthnLayer { authenticator }
}

/// A tower layer authenticating requests with an [`Authenticator`]; see [`layer`].
#[derive(Clone, Debug)]
pub struct AuthnLayer {
    authenticator: Arc<Authenticator>,
}

impl<S> tower::Layer<S> for AuthnLayer {
    type Service = AuthnService<S>;

    fn layer(&self, inner: S) -> AuthnService<S> {
        AuthnService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service of [`AuthnLayer`].
#[derive(Clone, Debug)]
pub struct AuthnService<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S, B> tower::Service<Request<B>> for AuthnService<S>
where
    S: tower::Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let result = self
            .authenticator
            .authenticate_request(req.extensions().get::<PeerCertificates>(), req.headers());
        // The clone is not ready; the ready one is ours (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match result {
            Ok(user) => {
                req.headers_mut().remove(header::AUTHORIZATION);
                req.extensions_mut().insert(user);
                inner.call(req).boxed()
            }
            // A bearer token nothing else knows may be a service-account token.
            Err(super::Rejection::InvalidBearerToken)
                if self.authenticator.service_accounts().is_some() =>
            {
                let authenticator = self.authenticator.clone();
                async move {
                    let token = super::bearer_token(req.headers())
                        .unwrap_or_default()
                        .to_string();
                    let Some(sa) = authenticator.service_accounts() else {
                        return Ok(unauthorized_response());
                    };
                    match sa.authenticate(&token).await {
                        Ok(user) => {
                            req.headers_mut().remove(header::AUTHORIZATION);
                            req.extensions_mut().insert(user);
                            inner.call(req).await
                        }
                        Err(reason) => {
                            tracing::debug!(uri = %req.uri(), %reason, "unauthorized");
                            Ok(unauthorized_response())
                        }
                    }
                }
                .boxed()
            }
            Err(rejection) => {
                tracing::debug!(
                    method = %req.method(),
                    uri = %req.uri(),
                    reason = %rejection,
                    "unauthorized"
                );
                futures::future::ready(Ok(unauthorized_response())).boxed()
            }
        }
    }
}
