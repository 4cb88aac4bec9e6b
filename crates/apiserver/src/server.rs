//! Starting the apiserver: the store (embedded or etcd), scheduled compaction, the registry,
//! the PKI and admin kubeconfig, authentication, and HTTPS serving.

use crate::authn::{Authenticator, TokenFile};
use crate::handlers::{self, App};
use crate::loopback::Loopback;
use crate::pki::{ClientAuth, Pki, SanConfig};
use crate::registry::{Clock, Ranges, Registry};
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::etcd::{EtcdConfig, EtcdStore, EtcdTls};
use rkube_store::{Compactor, Store, spawn_compactor};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often the store is compacted (upstream's apiserver default).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// The apiserver's settings (flag names follow k3s where it has them).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `--data-dir`: the embedded store, the PKI and the kubeconfig live here.
    pub data_dir: PathBuf,
    /// `--bind-address`.
    pub bind_address: IpAddr,
    /// `--https-listen-port` (0 picks a free port).
    pub https_port: u16,
    /// `--write-kubeconfig`: where the admin kubeconfig goes (default `<data-dir>/kubeconfig.yaml`).
    pub write_kubeconfig: Option<PathBuf>,
    /// `--datastore-endpoint`: comma-separated etcd URLs; the embedded store when absent.
    pub datastore_endpoint: Option<String>,
    /// `--datastore-cafile`, `--datastore-certfile`, `--datastore-keyfile`.
    pub datastore_tls: Option<(Option<PathBuf>, Option<PathBuf>, Option<PathBuf>)>,
    /// `--token-auth-file`: static bearer tokens (upstream's CSV format).
    pub token_auth_file: Option<PathBuf>,
    /// `--tls-san`: extra names in the serving certificate.
    pub tls_sans: Vec<String>,
    /// The first service IP (the `kubernetes` Service), in the serving certificate.
    pub service_ip: IpAddr,
    /// Whether to put the host's names and addresses in the serving certificate.
    pub include_host_sans: bool,
    /// The node join secret (`--token`); generated and kept in the data dir when unset.
    pub join_secret: Option<String>,
    /// `--advertise-address`: where the `kubernetes` Service's endpoints point (default: the
    /// bind address, or the host's first IPv4 address when bound to all).
    pub advertise_address: Option<IpAddr>,
    /// `--max-requests-inflight`: read-only requests served at once (0: no limit).
    pub max_requests_inflight: usize,
    /// `--max-mutating-requests-inflight`: mutating requests served at once (0: no limit).
    pub max_mutating_requests_inflight: usize,
    /// `--disable-admission-plugins`: the admission plugins that run (every one by default).
    pub admission: crate::admission::AdmissionPlugins,
}

impl ServerConfig {
    /// Defaults for a data directory (as k3s: port 6443, service IP 10.43.0.1).
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            bind_address: IpAddr::from([0, 0, 0, 0]),
            https_port: 6443,
            write_kubeconfig: None,
            datastore_endpoint: None,
            datastore_tls: None,
            token_auth_file: None,
            tls_sans: Vec::new(),
            service_ip: IpAddr::from([10, 43, 0, 1]),
            include_host_sans: true,
            join_secret: None,
            advertise_address: None,
            max_requests_inflight: crate::inflight::DEFAULT_MAX_REQUESTS_INFLIGHT,
            max_mutating_requests_inflight: crate::inflight::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
            admission: Default::default(),
        }
    }
}

/// Why the apiserver could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened or reached.
    #[error("store: {0}")]
    Store(#[from] rkube_store::StoreError),
    /// The certificates could not be loaded or made.
    #[error("certificates: {0}")]
    Pki(#[from] crate::pki::PkiError),
    /// The token file could not be read.
    #[error("token file: {0}")]
    Authn(#[from] crate::authn::AuthnError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The service-account signing key could not be loaded or made.
    #[error("service account key: {0}")]
    ServiceAccountKey(#[from] crate::serviceaccount::KeyError),
    /// The listening socket could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; is another server using the port? (--https-listen-port)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// Start-up work against the store failed.
    #[error("bootstrap: {0}")]
    Bootstrap(rkube_api::status::ApiError),
}

/// A running apiserver; [`RunningServer::shutdown`] stops it.
pub struct RunningServer {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The node join token (`K10…::server:…`) agents use with `rkube agent --token`.
    pub node_token: String,
    loopback: Loopback,
    /// Shared with `loopback`: cleared when shutting down.
    open: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<(), crate::serve::ServeError>>,
    /// The store this server opened (closed by `shutdown`); `None` when the caller handed it
    /// one ([`start_with_store`]), which stays the caller's to close.
    own_store: Option<Arc<dyn Store>>,
    _compactor: Compactor,
    _repair: AbortOnDrop,
    _crds: AbortOnDrop,
}

/// A background task that stops with the server.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests (briefly), closes the store it opened,
    /// and returns: a server started on the same data right after finds every acknowledged
    /// write.
    pub async fn shutdown(mut self) {
        self.open.store(false, Ordering::Release);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.serving).await;
        if let Some(store) = self.own_store.take() {
            store.close().await;
        }
    }

    /// The in-process transport to this server, for components running in the same process:
    /// `kube::Client::new(server.loopback(), "default")`. Its requests act as the admin
    /// client certificate's holder; after [`RunningServer::shutdown`] they are refused (503).
    pub fn loopback(&self) -> Loopback {
        self.loopback.clone()
    }

    /// Waits until serving ends on its own (an accept failure).
    pub async fn wait(&mut self) -> Result<(), String> {
        match (&mut self.serving).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, ServerError> {
    let Some(endpoints) = &config.datastore_endpoint else {
        let store = EmbeddedStore::open(EmbeddedOptions::new(config.data_dir.join("db"))).await?;
        return Ok(Arc::new(store));
    };
    let mut etcd = EtcdConfig::new(
        endpoints
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    );
    if let Some((ca, cert, key)) = &config.datastore_tls {
        let read = |p: &Option<PathBuf>| -> Result<Option<Vec<u8>>, ServerError> {
            p.as_ref()
                .map(|p| {
                    std::fs::read(p).map_err(|source| ServerError::Io {
                        path: p.clone(),
                        source,
                    })
                })
                .transpose()
        };
        etcd.tls = Some(EtcdTls {
            ca_pem: read(ca)?,
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        });
    }
    Ok(Arc::new(EtcdStore::connect(etcd).await?))
}

/// Builds the OpenAPI documents of every built-in resource (a fraction of a second; off the
/// async threads).
async fn openapi_documents() -> crate::openapi::OpenApi {
    tokio::task::spawn_blocking(|| {
        let resources: Vec<&'static rkube_api::resources::ResourceInfo> =
            rkube_api::resources::BUILTIN.iter().collect();
        crate::openapi::OpenApi::new(&resources)
    })
    .await
    .expect("building the OpenAPI documents does not panic")
}

/// Starts the apiserver and returns once it is serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let store = open_store(&config).await?;
    let mut server = start_with_store(config, Arc::clone(&store)).await?;
    server.own_store = Some(store);
    Ok(server)
}

/// Starts the apiserver on a store opened by the caller (tests and benchmarks that need to
/// reach the store directly, e.g. to compact it).
pub async fn start_with_store(
    config: ServerConfig,
    store: Arc<dyn Store>,
) -> Result<RunningServer, ServerError> {
    crate::pki::install_crypto_provider();
    let compactor = spawn_compactor(Arc::clone(&store), COMPACTION_INTERVAL);
    let clock: Clock = Arc::new(jiff::Timestamp::now);
    let registry = Registry::new(Arc::clone(&store), clock.clone(), Ranges::default())
        .with_admission(config.admission);

    let pki = Pki::load_or_create(
        &config.data_dir.join("tls"),
        &SanConfig {
            service_ip: config.service_ip,
            extra: config.tls_sans.clone(),
            include_host: config.include_host_sans,
        },
    )?;
    let addr = SocketAddr::new(config.bind_address, config.https_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let url = format!("https://127.0.0.1:{}", addr.port());
    let kubeconfig = config
        .write_kubeconfig
        .clone()
        .unwrap_or_else(|| config.data_dir.join("kubeconfig.yaml"));
    pki.write_admin_kubeconfig(&kubeconfig, &url)?;

    let mut authenticator = Authenticator::new().with_client_ca(pki.client_ca()?);
    if let Some(path) = &config.token_auth_file {
        authenticator = authenticator.with_token_file(TokenFile::load(path)?);
    }
    // Service-account tokens: signed by a key kept beside the CA (reused after restarts).
    let sa_key = crate::serviceaccount::SigningKey::load_or_create(
        &config
            .data_dir
            .join("tls")
            .join(crate::serviceaccount::keys::KEY_FILE),
    )?;
    let sa_tokens = Arc::new(crate::serviceaccount::Tokens::new(
        Arc::new(sa_key),
        registry.clone(),
        clock.clone(),
    ));
    authenticator = authenticator.with_service_account_tokens(
        crate::serviceaccount::ServiceAccountAuthenticator::new(Arc::clone(&sa_tokens)),
    );
    let app = Arc::new(App {
        registry: registry.clone(),
        clock,
        server_address: format!("{}:{}", addr.ip(), addr.port()),
        ready: Default::default(),
        openapi: openapi_documents().await,
    });
    // The client identity towards kubelets (logs, exec, attach, node proxy).
    let kubelet_client = handlers::proxy::KubeletClient::new(crate::pki::kubelet_client_config(
        &pki.issue_kubelet_client_cert()?,
    )?);
    let pki = Arc::new(pki);
    let (join, node_token) = crate::join::NodeJoin::load_or_create(
        &config.data_dir,
        Arc::clone(&pki),
        config.join_secret.as_deref(),
    )?;
    let router = handlers::routes(Arc::clone(&app))
        .merge(sa_tokens.routes())
        .merge(crate::authn::review::routes())
        .layer(axum::Extension(kubelet_client))
        .layer(crate::inflight::layer(&config))
        .layer(crate::authn::layer(Arc::new(authenticator)));
    // The join routes authenticate by the join secret, not by the layer above.
    let router = crate::join::routes(Arc::new(join)).merge(router);
    let open = Arc::new(AtomicBool::new(true));
    let loopback = Loopback::new(router.clone(), pki.admin_certificate_der()?, open.clone());
    let tls = pki.server_config(ClientAuth::Optional)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(crate::serve::serve_https(
        listener,
        tls,
        router,
        async move {
            let _ = stopped.await;
        },
    ));
    registry
        .ensure_system_namespaces()
        .await
        .map_err(ServerError::Bootstrap)?;
    registry
        .ensure_system_priority_classes()
        .await
        .map_err(ServerError::Bootstrap)?;
    registry
        .ensure_kubernetes_service(addr.port())
        .await
        .map_err(ServerError::Bootstrap)?;
    let repair = AbortOnDrop(
        registry
            .allocator_repair()
            .spawn(crate::registry::allocator_repair::REPAIR_INTERVAL),
    );
    // Establishes CRDs and serves their resources; cleans up deleted ones. A first pass before
    // readiness, so CRDs stored before a restart are served once the server is ready.
    if let Err(e) = crate::crd::controller::reconcile_all(&registry, registry.crds()).await {
        tracing::warn!(error = %e.message, "serving the stored CRDs failed; the controller retries");
    }
    let crds = AbortOnDrop(crate::crd::controller::spawn(registry.clone()));
    let advertised = config.advertise_address.unwrap_or_else(|| {
        crate::registry::kubernetes_endpoints::advertise_address(
            addr.ip(),
            &crate::pki::host_addresses(),
        )
    });
    if advertised.is_loopback() {
        // Endpoints may not be loopback addresses (pods could not reach them anyway).
        tracing::info!(%advertised, "not publishing the kubernetes Service's endpoints");
    } else {
        registry
            .ensure_kubernetes_endpoints(advertised, addr.port())
            .await
            .map_err(ServerError::Bootstrap)?;
    }
    app.ready.store(true, Ordering::Release);
    tracing::info!(%url, kubeconfig = %kubeconfig.display(), "apiserver ready");
    Ok(RunningServer {
        url,
        addr,
        kubeconfig,
        node_token,
        loopback,
        open,
        stop: Some(stop),
        serving,
        own_store: None,
        _compactor: compactor,
        _repair: repair,
        _crds: crds,
    })
}
