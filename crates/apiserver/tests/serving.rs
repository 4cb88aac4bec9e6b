//! End-to-end tests of the PKI, authentication and HTTPS serving: real TLS on
//! 127.0.0.1, kube-rs and the real kubectl as clients.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rkube_apiserver::authn::{self, Authenticator, TokenFile, UNAUTHORIZED_BODY, UserInfo};
use rkube_apiserver::pki::{
    self, CertKeyPem, ClientAuth, Credentials, Pki, SanConfig, write_kubeconfig,
    write_kubeconfig_with,
};
use rkube_apiserver::serve::{ServeError, ServeOptions, serve_http, serve_https_with};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const KUBECTL: &str = "/usr/bin/kubectl";
const TOKEN_FILE: &str = "s3cr3t-token,alice,uid-alice,\"dev,ops\"\nother,bob,uid-bob\n";

// ---------------------------------------------------------------- server harness

async fn whoami(
    Extension(user): Extension<UserInfo>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    version: Version,
    headers: http::HeaderMap,
) -> Json<Value> {
    Json(json!({
        "name": user.name,
        "uid": user.uid,
        "groups": user.groups,
        "version": format!("{version:?}"),
        "peerIsLoopback": peer.ip().is_loopback(),
        "authorizationHeaderSeen": headers.contains_key(http::header::AUTHORIZATION),
    }))
}

/// Never completes: stands in for a watch.
async fn forever() -> axum::body::Body {
    axum::body::Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>())
}

fn app(authenticator: Authenticator) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/forever", get(forever))
        .layer(authn::layer(Arc::new(authenticator)))
}

/// Tokens from [`TOKEN_FILE`]; client certificates of `pki`'s CA when given.
fn authenticator(pki: Option<&Pki>) -> Authenticator {
    let authn = Authenticator::new().with_token_file(TokenFile::parse(TOKEN_FILE).unwrap());
    match pki {
        Some(pki) => authn.with_client_ca(pki.client_ca().unwrap()),
        None => authn,
    }
}

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
    async fn start(pki: &Pki, options: ServeOptions) -> Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tls = pki.server_config(ClientAuth::Optional)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_https_with(
            listener,
            tls,
            app(authenticator(Some(pki))),
            async move {
                let _ = stopped.await;
            },
            options,
        ));
        Ok(Server { addr, stop, task })
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops the server; returns how long serve_https took to return.
    async fn stop(self) -> Result<Duration> {
        let started = Instant::now();
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .context("serve_https did not return after shutdown")???;
        Ok(started.elapsed())
    }
}

fn new_pki(dir: &Path) -> Result<Pki> {
    Ok(Pki::load_or_create(dir, &SanConfig::default())?)
}

// ---------------------------------------------------------------- raw client

struct Raw {
    alpn: Option<Vec<u8>>,
    version: Version,
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct RawOpts<'a> {
    server_name: &'a str,
    alpn: &'a [&'a [u8]],
    cert: Option<&'a CertKeyPem>,
    authorization: Option<&'a str>,
    path: &'a str,
}

impl Default for RawOpts<'_> {
    fn default() -> Self {
        RawOpts {
            server_name: "localhost",
            alpn: &[b"h2", b"http/1.1"],
            cert: None,
            authorization: None,
            path: "/whoami",
        }
    }
}

/// Keeps a client connection open while alive.
#[allow(dead_code)]
enum KeepAlive {
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

/// One GET over a fresh TLS connection with rustls + hyper's client connections.
async fn raw_get(addr: SocketAddr, ca_pem: &str, opts: RawOpts<'_>) -> Result<Raw> {
    Ok(raw_get_keep(addr, ca_pem, opts).await?.0)
}

/// [`raw_get`], also returning the connection's sender (the connection stays open).
async fn raw_get_keep(
    addr: SocketAddr,
    ca_pem: &str,
    opts: RawOpts<'_>,
) -> Result<(Raw, KeepAlive)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots);
    let mut config = match opts.cert {
        Some(c) => builder.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(c.cert_pem.as_bytes())?],
            PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(opts.server_name.to_string())?, tcp)
        .await?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let io = TokioIo::new(tls);
    let h2 = alpn.as_deref() == Some(b"h2");
    let uri = if h2 {
        format!("https://{}{}", opts.server_name, opts.path)
    } else {
        opts.path.to_string()
    };
    let mut req = Request::get(uri);
    if !h2 {
        req = req.header(http::header::HOST, opts.server_name);
    }
    if let Some(a) = opts.authorization {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    let req = req.body(Empty::<Bytes>::new())?;
    let (response, keep) = if h2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        (send.send_request(req).await?, KeepAlive::H2(send))
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        (send.send_request(req).await?, KeepAlive::H1(send))
    };
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    let raw = Raw {
        alpn,
        version: parts.version,
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec())?,
    };
    Ok((raw, keep))
}

// ---------------------------------------------------------------- clients

async fn kube_client(kubeconfig: &Path) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(kube::Client::try_from(config)?)
}

async fn kube_whoami(client: &kube::Client) -> Result<Value, kube::Error> {
    client
        .request::<Value>(Request::get("/whoami").body(Vec::new()).unwrap())
        .await
}

/// Runs `kubectl --kubeconfig <kubeconfig> get --raw /whoami`; (success, stdout, stderr).
async fn kubectl_whoami(kubeconfig: &Path, home: &Path) -> Result<(bool, String, String)> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["get", "--raw", "/whoami"])
            .env("HOME", home)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("kubectl timed out")??;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn groups(v: &Value) -> Vec<String> {
    serde_json::from_value(v["groups"].clone()).unwrap_or_default()
}

// ---------------------------------------------------------------- tests

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Pki>();
    check::<Authenticator>();
    check::<UserInfo>();
    check::<rkube_apiserver::serve::ClientCertIdentity>();
    check::<rkube_apiserver::serve::PeerCertificates>();
    check::<pki::ClientCa>();
}

/// (a) kube-rs with the admin kubeconfig, (d) the real kubectl with it, (f) kubectl
/// negotiates HTTP/2.
#[tokio::test]
async fn admin_kubeconfig_works_with_kube_rs_and_kubectl() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let server = Server::start(&pki, ServeOptions::default()).await?;
    let kubeconfig = tmp.path().join("cred/admin.kubeconfig");
    let admin = pki.admin();
    write_kubeconfig(
        &kubeconfig,
        &server.url(),
        pki.ca_pem(),
        &admin.cert_pem,
        &admin.key_pem,
    )?;
    assert_eq!(mode(&kubeconfig), 0o600);

    let client = kube_client(&kubeconfig).await?;
    let me = kube_whoami(&client).await?;
    assert_eq!(me["name"], "system:admin");
    assert_eq!(me["uid"], "");
    assert_eq!(groups(&me), ["system:masters", "system:authenticated"]);
    assert_eq!(me["peerIsLoopback"], true);
    eprintln!("kube-rs used {}", me["version"]);

    let (ok, stdout, stderr) = kubectl_whoami(&kubeconfig, tmp.path()).await?;
    assert!(ok, "kubectl failed: {stderr}");
    let me: Value = serde_json::from_str(&stdout).context(stdout.clone())?;
    assert_eq!(me["name"], "system:admin");
    assert_eq!(groups(&me), ["system:masters", "system:authenticated"]);
    assert_eq!(
        me["version"], "HTTP/2.0",
        "kubectl offers h2 and must get it"
    );

    // kube-rs keeps its pooled connection open: shutdown must not wait for it.
    let took = server.stop().await?;
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    drop(client);
    Ok(())
}

/// (b) bearer tokens from the token file: raw, kube-rs and kubectl; the Authorization
/// header is not passed on to handlers.
#[tokio::test]
async fn bearer_token_from_token_file() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let server = Server::start(&pki, ServeOptions::default()).await?;

    let r = raw_get(
        server.addr,
        pki.ca_pem(),
        RawOpts {
            authorization: Some("Bearer s3cr3t-token"),
            ..RawOpts::default()
        },
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let me = r.json();
    assert_eq!(me["name"], "alice");
    assert_eq!(me["uid"], "uid-alice");
    assert_eq!(groups(&me), ["dev", "ops", "system:authenticated"]);
    assert_eq!(me["authorizationHeaderSeen"], false);

    let kubeconfig = tmp.path().join("token.kubeconfig");
    write_kubeconfig_with(
        &kubeconfig,
        &server.url(),
        pki.ca_pem(),
        Credentials::Token("other"),
    )?;
    let client = kube_client(&kubeconfig).await?;
    let me = kube_whoami(&client).await?;
    assert_eq!(me["name"], "bob");
    assert_eq!(groups(&me), ["system:authenticated"]);

    let (ok, stdout, stderr) = kubectl_whoami(&kubeconfig, tmp.path()).await?;
    assert!(ok, "kubectl failed: {stderr}");
    assert!(stdout.contains("\"name\":\"bob\""), "{stdout}");

    drop(client);
    server.stop().await?;
    Ok(())
}

/// (c) no credentials, a bad token or a client certificate from another CA: 401 with
/// upstream's exact Status body.
#[tokio::test]
async fn unauthenticated_requests_are_rejected() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let server = Server::start(&pki, ServeOptions::default()).await?;

    for (alpn, authorization) in [
        (&[b"h2".as_slice(), b"http/1.1"][..], None),
        (&[b"http/1.1".as_slice()][..], None),
        (&[b"h2".as_slice()][..], Some("Bearer wrong-token")),
        (&[b"http/1.1".as_slice()][..], Some("Bearer s3cr3t-tokenX")),
        (&[b"h2".as_slice()][..], Some("Bearer ")),
        (&[b"h2".as_slice()][..], Some("Basic YWxpY2U6cHc=")),
    ] {
        let r = raw_get(
            server.addr,
            pki.ca_pem(),
            RawOpts {
                alpn,
                authorization,
                ..RawOpts::default()
            },
        )
        .await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(r.body, UNAUTHORIZED_BODY);
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["cache-control"], "no-cache, private");
    }
    assert_eq!(
        UNAUTHORIZED_BODY.trim_end(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
    );

    // A token kubeconfig with a bad token: kube-rs sees the Status as an API error.
    let bad = tmp.path().join("bad-token.kubeconfig");
    write_kubeconfig_with(
        &bad,
        &server.url(),
        pki.ca_pem(),
        Credentials::Token("nope"),
    )?;
    match kube_whoami(&kube_client(&bad).await?).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 401);
            assert_eq!(status.reason, "Unauthorized");
        }
        other => bail!("expected a 401 Status, got {other:?}"),
    }

    // A client certificate from another CA, and one from another rkube CA with the same
    // subject name: 401 (see `client_certificate_from_a_foreign_ca`).
    let foreign = foreign_client_cert("system:admin", "system:masters")?;
    let twin = new_pki(&tmp.path().join("twin-tls"))?;
    let twin_cert = twin.issue_client_cert("system:admin", &["system:masters"])?;
    for cert in [&foreign, &twin_cert] {
        let r = raw_get(
            server.addr,
            pki.ca_pem(),
            RawOpts {
                cert: Some(cert),
                ..RawOpts::default()
            },
        )
        .await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, UNAUTHORIZED_BODY);
    }

    // A certificate of our own CA for another identity works.
    let node = pki.issue_client_cert("system:node:n1", &[pki::NODES_GROUP])?;
    let r = raw_get(
        server.addr,
        pki.ca_pem(),
        RawOpts {
            cert: Some(&node),
            ..RawOpts::default()
        },
    )
    .await?;
    assert_eq!(r.json()["name"], "system:node:n1");
    assert_eq!(groups(&r.json()), ["system:nodes", "system:authenticated"]);

    server.stop().await?;
    Ok(())
}

/// A client certificate that does not verify against the client CA: upstream's TLS layer
/// only asks for a certificate (Go's `RequestClientCert`) and its x509 authenticator
/// rejects the untrusted one, so the handshake succeeds and the request gets 401 — unless a
/// valid bearer token came with it. Every client sees that 401: raw rustls, kube-rs, kubectl.
#[tokio::test]
async fn client_certificate_from_a_foreign_ca() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let server = Server::start(&pki, ServeOptions::default()).await?;
    let foreign = foreign_client_cert("system:admin", "system:masters")?;

    for alpn in [&[b"h2".as_slice()][..], &[b"http/1.1".as_slice()][..]] {
        // The handshake completes; the request is refused.
        let r = raw_get(
            server.addr,
            pki.ca_pem(),
            RawOpts {
                alpn,
                cert: Some(&foreign),
                ..RawOpts::default()
            },
        )
        .await
        .context("the handshake must succeed with a foreign client certificate")?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{alpn:?}");
        assert_eq!(r.body, UNAUTHORIZED_BODY);
        assert_eq!(r.headers["content-type"], "application/json");
        // A valid token sent along authenticates; a bad one does not.
        for (authorization, status) in [
            ("Bearer s3cr3t-token", StatusCode::OK),
            ("Bearer wrong", StatusCode::UNAUTHORIZED),
        ] {
            let r = raw_get(
                server.addr,
                pki.ca_pem(),
                RawOpts {
                    alpn,
                    cert: Some(&foreign),
                    authorization: Some(authorization),
                    ..RawOpts::default()
                },
            )
            .await?;
            assert_eq!(r.status, status, "{authorization}");
            if status == StatusCode::OK {
                assert_eq!(r.json()["name"], "alice");
            }
        }
    }

    // A certificate of our CA that is not for client authentication (the serving
    // certificate) is refused the same way.
    let serving = CertKeyPem {
        cert_pem: std::fs::read_to_string(tmp.path().join("tls").join(pki::SERVING_CERT_FILE))?,
        key_pem: std::fs::read_to_string(tmp.path().join("tls").join(pki::SERVING_KEY_FILE))?,
    };
    let r = raw_get(
        server.addr,
        pki.ca_pem(),
        RawOpts {
            cert: Some(&serving),
            ..RawOpts::default()
        },
    )
    .await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let kubeconfig = tmp.path().join("foreign.kubeconfig");
    write_kubeconfig(
        &kubeconfig,
        &server.url(),
        pki.ca_pem(),
        &foreign.cert_pem,
        &foreign.key_pem,
    )?;
    match kube_whoami(&kube_client(&kubeconfig).await?).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
        }
        other => bail!("kube-rs: expected a 401 Status, got {other:?}"),
    }
    let (ok, stdout, stderr) = kubectl_whoami(&kubeconfig, tmp.path()).await?;
    assert!(
        !ok,
        "kubectl with a foreign certificate succeeded: {stdout}"
    );
    assert!(stderr.contains("Unauthorized"), "{stderr}");
    assert!(!stderr.contains("certificate authority"), "{stderr}");

    // Our own CA's client certificates still authenticate.
    let admin = pki.admin().clone();
    let r = raw_get(
        server.addr,
        pki.ca_pem(),
        RawOpts {
            cert: Some(&admin),
            ..RawOpts::default()
        },
    )
    .await?;
    assert_eq!(r.json()["name"], "system:admin");

    server.stop().await?;
    Ok(())
}

/// (e) restarting reuses the CA and certificates; a changed SAN set reissues the serving
/// certificate (and only it); keys are 0600; a missing CA key is an error.
#[tokio::test]
async fn restart_reuses_ca_and_reissues_serving_cert_on_san_change() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("tls");
    let first = new_pki(&dir)?;
    for f in [pki::CA_KEY_FILE, pki::SERVING_KEY_FILE, pki::ADMIN_KEY_FILE] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&dir), 0o700);
    let ca_pem = std::fs::read_to_string(dir.join(pki::CA_CERT_FILE))?;
    assert_eq!(ca_pem, first.ca_pem());

    // The serving certificate carries the documented SANs.
    let der = CertificateDer::from_pem_slice(first.serving().cert_pem.as_bytes())?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)?;
    let san = cert
        .subject_alternative_name()?
        .context("no SAN extension")?;
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
            x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string(),
                _ => std::net::IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string(),
            },
            other => format!("{other:?}"),
        })
        .collect();
    for want in [
        "127.0.0.1",
        "::1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "10.43.0.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    if let Some(host) = pki::hostname() {
        assert!(names.contains(&host), "{host} not in {names:?}");
    }
    for ip in pki::host_addresses() {
        assert!(names.contains(&ip.to_string()), "{ip} not in {names:?}");
    }
    let ca_name = first_cn(first.ca_pem());
    assert!(ca_name.starts_with("rkube-ca@"), "{ca_name}");

    // Same configuration: everything reused.
    let second = new_pki(&dir)?;
    assert_eq!(second.ca_pem(), first.ca_pem());
    assert_eq!(second.serving(), first.serving());
    assert_eq!(second.admin(), first.admin());

    // Changed SANs: new serving certificate, same CA and admin certificate.
    let sans = SanConfig {
        extra: vec!["api.example.test".into(), "192.0.2.55".into()],
        service_ip: "10.96.0.1".parse()?,
        ..SanConfig::default()
    };
    let third = Pki::load_or_create(&dir, &sans)?;
    assert_eq!(third.ca_pem(), first.ca_pem());
    assert_eq!(third.admin(), first.admin());
    assert_ne!(third.serving(), first.serving());
    assert!(third.serving_sans().contains("api.example.test"));
    assert!(third.serving_sans().contains("192.0.2.55"));
    assert!(third.serving_sans().contains("10.96.0.1"));
    assert!(!third.serving_sans().contains("10.43.0.1"));
    assert_eq!(Pki::load_or_create(&dir, &sans)?.serving(), third.serving());

    // The new name is served; a name not in the certificate is refused by clients.
    let server = Server::start(&third, ServeOptions::default()).await?;
    let admin = third.admin().clone();
    let r = raw_get(
        server.addr,
        third.ca_pem(),
        RawOpts {
            server_name: "api.example.test",
            cert: Some(&admin),
            ..RawOpts::default()
        },
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK);
    let wrong_name = raw_get(
        server.addr,
        third.ca_pem(),
        RawOpts {
            server_name: "not-in-the-cert.example.test",
            ..RawOpts::default()
        },
    )
    .await;
    assert!(wrong_name.is_err());
    server.stop().await?;

    // Leaf certificates from another CA are replaced.
    let other = tmp.path().join("other");
    drop(new_pki(&other)?);
    for f in [
        pki::SERVING_CERT_FILE,
        pki::SERVING_KEY_FILE,
        pki::ADMIN_CERT_FILE,
        pki::ADMIN_KEY_FILE,
    ] {
        std::fs::copy(dir.join(f), other.join(f))?;
    }
    let moved = Pki::load_or_create(&other, &sans)?;
    assert_ne!(moved.serving(), third.serving());
    assert_ne!(moved.admin(), third.admin());

    // A CA certificate without its key is an error, not a silent new CA.
    std::fs::remove_file(dir.join(pki::CA_KEY_FILE))?;
    assert!(Pki::load_or_create(&dir, &sans).is_err());
    Ok(())
}

/// A client certificate from a CA that is not the cluster's.
fn foreign_client_cert(cn: &str, group: &str) -> Result<CertKeyPem> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "some-other-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.distinguished_name
        .push(DnType::OrganizationName, group);
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok(CertKeyPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn first_cn(pem: &str) -> String {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// (f) ALPN: h2 when offered, HTTP/1.1 otherwise.
#[tokio::test]
async fn http2_is_negotiated_when_offered() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let server = Server::start(&pki, ServeOptions::default()).await?;
    let admin = pki.admin().clone();
    for (alpn, want_alpn, want_version) in [
        (
            &[b"h2".as_slice(), b"http/1.1"][..],
            Some(&b"h2"[..]),
            Version::HTTP_2,
        ),
        (
            &[b"http/1.1".as_slice()][..],
            Some(&b"http/1.1"[..]),
            Version::HTTP_11,
        ),
        (&[][..], None, Version::HTTP_11),
    ] {
        let r = raw_get(
            server.addr,
            pki.ca_pem(),
            RawOpts {
                alpn,
                cert: Some(&admin),
                ..RawOpts::default()
            },
        )
        .await?;
        assert_eq!(r.alpn.as_deref(), want_alpn);
        assert_eq!(r.version, want_version);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["version"], format!("{want_version:?}"));
        assert_eq!(r.json()["name"], "system:admin");
    }
    server.stop().await?;
    Ok(())
}

/// Shutdown: idle connections close at once; a never-ending response is cut when the
/// grace period ends; handshakes that never complete time out.
#[tokio::test]
async fn graceful_shutdown_and_timeouts() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pki = new_pki(&tmp.path().join("tls"))?;
    let options = ServeOptions {
        handshake_timeout: Duration::from_millis(300),
        shutdown_grace: Duration::from_millis(500),
        ..ServeOptions::default()
    };

    // A silent TCP client is dropped after the handshake timeout, and the server keeps
    // serving others.
    let server = Server::start(&pki, options.clone()).await?;
    let mut silent = TcpStream::connect(server.addr).await?;
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await
    .context("silent connection was not closed")?;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Garbage instead of a ClientHello is logged and ignored.
    let mut garbage = TcpStream::connect(server.addr).await?;
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"GET / HTTP/1.1\r\n\r\n").await?;
    // Idle keep-alive connections, HTTP/2 and HTTP/1.1, close at once on shutdown.
    let admin = pki.admin().clone();
    let mut idle = Vec::new();
    for alpn in [&[b"h2".as_slice()][..], &[b"http/1.1".as_slice()][..]] {
        let (r, keep) = raw_get_keep(
            server.addr,
            pki.ca_pem(),
            RawOpts {
                cert: Some(&admin),
                alpn,
                ..RawOpts::default()
            },
        )
        .await?;
        assert_eq!(r.status, StatusCode::OK);
        idle.push(keep);
    }
    let took = server.stop().await?;
    assert!(
        took < Duration::from_millis(450),
        "idle shutdown took {took:?}"
    );
    drop(idle);

    // A response that never ends holds shutdown only for the grace period.
    let server = Server::start(&pki, options).await?;
    let addr = server.addr;
    let ca = pki.ca_pem().to_string();
    let pending = tokio::spawn(async move {
        raw_get(
            addr,
            &ca,
            RawOpts {
                cert: Some(&admin),
                alpn: &[b"http/1.1"],
                path: "/forever",
                ..RawOpts::default()
            },
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = server.stop().await?;
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "shutdown with an endless response took {took:?}"
    );
    let cut = tokio::time::timeout(Duration::from_secs(5), pending).await??;
    assert!(cut.is_err(), "the endless response should have been cut");
    Ok(())
}

/// Plain HTTP (explicit opt-in): same router and authentication, no client certificates.
#[tokio::test]
async fn plain_http_serving() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_http(listener, app(authenticator(None)), async move {
        let _ = stopped.await;
    }));
    for (authorization, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("Bearer s3cr3t-token"), StatusCode::OK),
    ] {
        let io = TokioIo::new(TcpStream::connect(addr).await?);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let mut req = Request::get("/whoami").header(http::header::HOST, "localhost");
        if let Some(a) = authorization {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let resp = send.send_request(req.body(Empty::<Bytes>::new())?).await?;
        assert_eq!(resp.status(), status);
        let body = resp.into_body().collect().await?.to_bytes();
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body, UNAUTHORIZED_BODY.as_bytes());
        } else {
            let v: Value = serde_json::from_slice(&body)?;
            assert_eq!(v["name"], "alice");
        }
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task).await???;
    Ok(())
}
