//! The in-process client transport. Components that run inside the apiserver's process
//! (`rkube server`'s scheduler, controllers, DNS, proxy and node agent) hand their requests
//! straight to the router instead of to a TLS connection on 127.0.0.1: no encryption, no
//! HTTP/2 framing, no socket and no connection task on either side. Everything after the
//! socket is the same as for any client — authentication (the admin client certificate,
//! verified against the client CA once, as for a TLS connection), authorization,
//! admission, the registry — so a request means the same on both transports.
//!
//! Measured (scheduler bench, SchedulingBasic from a backlog, same run): 0.65 → 0.55 ms of
//! CPU per scheduled pod; see docs/benchmarks-history.md, session 12.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::response::Response;
use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use http::{HeaderValue, Request, StatusCode, header};
use rustls::pki_types::CertificateDer;
use tower::ServiceExt;

use crate::serve::PeerCertificates;

/// The body of the 503 a closed loopback answers with (a `metav1.Status`).
const SHUT_DOWN_BODY: &str = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"the apiserver is shutting down\",\"reason\":\"ServiceUnavailable\",\"code\":503}\n";

/// A `tower::Service` carrying requests to the apiserver in the same process; wrap it
/// into a kube-rs client with `kube::Client::new(loopback, "default")`. Cheap to clone.
#[derive(Clone)]
pub struct Loopback {
    router: Router,
    /// Presented with every request, as a TLS client presents its certificate.
    identity: PeerCertificates,
    /// Cleared by the server's shutdown: requests after it are refused with a 503.
    open: Arc<AtomicBool>,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback")
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Loopback {
    /// A loopback into `router` whose requests present `certificate` (DER). The router
    /// authenticates it like a TLS client's, so it must be signed by the client CA.
    pub(crate) fn new(
        router: Router,
        certificate: CertificateDer<'static>,
        open: Arc<AtomicBool>,
    ) -> Loopback {
        Loopback {
            router,
            identity: PeerCertificates::new(Arc::from(vec![certificate])),
            open,
        }
    }
}

impl<B> tower::Service<Request<B>> for Loopback
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready (axum's `Router::poll_ready`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !self.open.load(Ordering::Acquire) {
            return futures::future::ready(Ok(shut_down())).boxed();
        }
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.identity.clone());
        self.router.clone().oneshot(request).boxed()
    }
}

/// The answer to a request sent after the server shut down.
fn shut_down() -> Response {
    let mut response = Response::new(Body::from(SHUT_DOWN_BODY));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
