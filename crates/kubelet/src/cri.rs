//! The CRI v1 gRPC clients (runtime and image services) over a unix socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Why the CRI endpoint could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum CriConnectError {
    /// The socket did not accept a connection before the deadline.
    #[error("CRI socket {path} not reachable after {waited:?}: {source}")]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// How long we tried.
        waited: Duration,
        /// The last transport error.
        source: tonic::transport::Error,
    },
}

/// A connected CRI endpoint: both services share one HTTP/2 channel (cheap to clone).
#[derive(Clone, Debug)]
pub struct Cri {
    /// RuntimeService: sandboxes, containers, exec, stats.
    pub runtime: RuntimeServiceClient<Channel>,
    /// ImageService: pull, list, status, remove.
    pub images: ImageServiceClient<Channel>,
    socket: PathBuf,
}

impl Cri {
    /// Connects to the CRI socket at `socket`, retrying until `wait` has passed (the runtime
    /// may still be starting).
    pub async fn connect(socket: &Path, wait: Duration) -> Result<Self, CriConnectError> {
        let start = tokio::time::Instant::now();
        loop {
            match channel(socket.to_path_buf()).await {
                Ok(ch) => {
                    return Ok(Self {
                        runtime: RuntimeServiceClient::new(ch.clone())
                            .max_decoding_message_size(64 << 20),
                        images: ImageServiceClient::new(ch).max_decoding_message_size(64 << 20),
                        socket: socket.to_path_buf(),
                    });
                }
                Err(source) if start.elapsed() >= wait => {
                    return Err(CriConnectError::Unreachable {
                        path: socket.to_path_buf(),
                        waited: start.elapsed(),
                        source,
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Stops and removes every pod sandbox (and so every container) of the runtime,
    /// ignoring failures: for tearing a node down when no kubelet will (tests, a dead agent).
    pub async fn remove_all_sandboxes(&self) {
        let mut rt = self.runtime.clone();
        let Ok(list) = rt
            .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
            .await
        else {
            return;
        };
        for s in list.into_inner().items {
            let _ = rt
                .stop_pod_sandbox(cri::StopPodSandboxRequest {
                    pod_sandbox_id: s.id.clone(),
                })
                .await;
            let _ = rt
                .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                    pod_sandbox_id: s.id,
                })
                .await;
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

async fn channel(socket: PathBuf) -> Result<Channel, tonic::transport::Error> {
    // The URI is a placeholder: the connector always dials the unix socket.
    Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
}
