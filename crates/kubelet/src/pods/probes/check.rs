//! Running one probe: exec (CRI ExecSync), HTTP GET (2xx/3xx passes) or TCP connect, each
//! within the probe's timeout.

use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cri::Cri;

/// One probe's outcome: pass or fail, with the output for the `Unhealthy` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Passed.
    pub ok: bool,
    /// What it printed or why it failed.
    pub output: String,
}

fn fail(output: impl Into<String>) -> Outcome {
    Outcome {
        ok: false,
        output: output.into(),
    }
}

/// The probe's timeout (`timeoutSeconds`, default 1).
pub fn timeout(p: &Probe) -> Duration {
    Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64)
}

/// A named or numbered port of the container.
fn resolve_port(port: &IntOrString, c: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

/// Runs `probe` against container `container_id` (spec `c`) of a pod at `pod_ip`.
pub async fn run(
    cri: &Cri,
    probe: &Probe,
    c: &Container,
    container_id: &str,
    pod_ip: &str,
) -> Outcome {
    let limit = timeout(probe);
    if let Some(exec) = &probe.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        let req = cri::ExecSyncRequest {
            container_id: container_id.into(),
            cmd,
            timeout: limit.as_secs() as i64,
        };
        return match tokio::time::timeout(
            limit + Duration::from_secs(1),
            cri.runtime.clone().exec_sync(req),
        )
        .await
        {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                let mut output = String::from_utf8_lossy(&r.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&r.stderr));
                Outcome {
                    ok: r.exit_code == 0,
                    output,
                }
            }
            Ok(Err(e)) => fail(e.message().to_string()),
            Err(_) => fail(format!("command timed out after {}s", limit.as_secs())),
        };
    }
    if let Some(h) = &probe.http_get {
        let Some(port) = resolve_port(&h.port, c) else {
            return fail("invalid port");
        };
        let host = h
            .host
            .clone()
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        if h.scheme.as_deref() == Some("HTTPS") {
            return fail("HTTPS probes are not supported by this kubelet yet");
        }
        let path = h
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let headers: String = h
            .http_headers
            .iter()
            .flatten()
            .map(|x| format!("{}: {}\r\n", x.name, x.value))
            .collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\n{headers}Connection: close\r\n\r\n"
        );
        return match tokio::time::timeout(limit, http_status(&host, port, request)).await {
            Ok(Ok(code)) if (200..400).contains(&code) => Outcome {
                ok: true,
                output: String::new(),
            },
            Ok(Ok(code)) => fail(format!("HTTP probe failed with statuscode: {code}")),
            Ok(Err(e)) => fail(format!("Get \"http://{host}:{port}{path}\": {e}")),
            Err(_) => fail(format!(
                "Get \"http://{host}:{port}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            )),
        };
    }
    if let Some(t) = &probe.tcp_socket {
        let Some(port) = resolve_port(&t.port, c) else {
            return fail("invalid port");
        };
        let host = t
            .host
            .clone()
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        return match tokio::time::timeout(
            limit,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => Outcome {
                ok: true,
                output: String::new(),
            },
            Ok(Err(e)) => fail(format!("dial tcp {host}:{port}: {e}")),
            Err(_) => fail(format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    fail("probe has no handler this kubelet supports (exec, httpGet, tcpSocket)")
}

/// Sends `request` and returns the response's status code.
async fn http_status(host: &str, port: u16, request: String) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect((host, port)).await?;
    s.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; 1024];
    let mut n = 0;
    while n < 12 {
        let read = s.read(&mut buf[n..]).await?;
        if read == 0 {
            break;
        }
        n += read;
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response")
        })
}
