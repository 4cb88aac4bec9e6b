//! Raw requests through a kube-rs client that keep what kube-rs would turn into an error:
//! the status code, the headers (e.g. `Warning`) and the body.

use http::Request;
use serde_json::Value;

/// A response as received.
pub struct Reply {
    /// HTTP status.
    pub code: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub body: Value,
}

impl Reply {
    /// The `Warning` header texts (`299 - "text"` unquoted).
    pub fn warnings(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::WARNING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| {
                let text = v.trim_start_matches("299 - ");
                serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string())
            })
            .collect()
    }
}

/// Sends `body` (raw bytes) with `content_type`.
pub async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
        .body(kube::client::Body::from(body))
        .unwrap();
    let resp = client
        .send(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    Reply {
        code,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Sends a JSON body (or none) and returns the reply's body, which must be a success.
pub async fn ok(client: &kube::Client, method: &str, path: &str, body: Option<&Value>) -> Value {
    let reply = json(client, method, path, body).await;
    assert!(
        (200..300).contains(&reply.code),
        "{method} {path}: {} {}",
        reply.code,
        reply.body
    );
    reply.body
}

/// Sends a JSON body (or none).
pub async fn json(client: &kube::Client, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let content_type = match method {
        "PATCH" => "application/merge-patch+json",
        _ => "application/json",
    };
    send(
        client,
        method,
        path,
        content_type,
        body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    )
    .await
}
