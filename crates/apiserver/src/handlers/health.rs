//! `/healthz`, `/livez`, `/readyz` (with `?verbose` and per-check paths) and `/version`.

use super::{App, Query};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The named checks and their results.
async fn checks(app: &App, readiness: bool) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = vec![("ping", Ok(()))];
    let store = match app.registry.store().current_revision().await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    out.push(("etcd", store));
    if readiness {
        let ready = app.ready.load(Ordering::Acquire);
        out.push((
            "poststarthook/rkube-bootstrap",
            if ready {
                Ok(())
            } else {
                Err("not finished".into())
            },
        ));
    }
    out
}

fn report(
    endpoint: &str,
    results: Vec<(&'static str, Result<(), String>)>,
    verbose: bool,
) -> Response {
    let healthy = results.iter().all(|(_, r)| r.is_ok());
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let text = if verbose || !healthy {
        let mut s = String::new();
        for (name, r) in &results {
            match r {
                Ok(()) => s.push_str(&format!("[+]{name} ok\n")),
                Err(_) => s.push_str(&format!("[-]{name} failed: reason withheld\n")),
            }
        }
        if healthy {
            s.push_str(&format!("{endpoint} check passed\n"));
        } else {
            s.push_str(&format!("{endpoint} check failed\n"));
        }
        s
    } else {
        "ok".to_string()
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn endpoint(app: &App, name: &str, query: Option<String>) -> Response {
    let verbose = Query::parse(query.as_deref()).get("verbose").is_some();
    report(name, checks(app, name == "readyz").await, verbose)
}

/// `GET /healthz`.
pub async fn healthz(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    endpoint(&app, "healthz", q).await
}

/// `GET /livez`.
pub async fn livez(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    endpoint(&app, "livez", q).await
}

/// `GET /readyz`.
pub async fn readyz(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    endpoint(&app, "readyz", q).await
}

async fn single(app: &App, kind: &str, check: &str) -> Response {
    let results = checks(app, kind == "readyz").await;
    match results.into_iter().find(|(n, _)| *n == check) {
        Some((_, Ok(()))) => (StatusCode::OK, "ok").into_response(),
        Some((name, Err(_))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[-]{name} failed: reason withheld\n"),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such check").into_response(),
    }
}

/// `GET /healthz/{check}`.
pub async fn healthz_check(State(app): State<Arc<App>>, Path(check): Path<String>) -> Response {
    single(&app, "healthz", &check).await
}

/// `GET /livez/{check}`.
pub async fn livez_check(State(app): State<Arc<App>>, Path(check): Path<String>) -> Response {
    single(&app, "livez", &check).await
}

/// `GET /readyz/{*check}` (check names contain `/`).
pub async fn readyz_check(State(app): State<Arc<App>>, Path(check): Path<String>) -> Response {
    single(&app, "readyz", &check).await
}

/// `GET /version`.
pub async fn version() -> Response {
    super::respond::json(
        StatusCode::OK,
        &serde_json::json!({
            "major": "1", "minor": "33",
            "gitVersion": concat!("v1.33.0-rkube.", env!("CARGO_PKG_VERSION")),
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "",
            "goVersion": "n/a (rust)", "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
        }),
        &[],
    )
}
