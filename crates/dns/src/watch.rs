//! Keeps Services, EndpointSlices and Namespaces in kube-rs reflectors and publishes a fresh
//! [`Snapshot`] after changes (bursts coalesced for a few milliseconds), marking it synced once
//! every reflector has listed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::snapshot::Snapshot;

/// How long a burst of watch events may grow before the snapshot is rebuilt.
const COALESCE: Duration = Duration::from_millis(20);

/// Starts the reflectors and the snapshot publisher; the tasks end when aborted.
pub(crate) fn start(
    client: kube::Client,
    domain: String,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Vec<JoinHandle<()>> {
    let notify = Arc::new(Notify::new());
    let (services, services_w) = reflector::store::<Service>();
    let (slices, slices_w) = reflector::store::<EndpointSlice>();
    let (namespaces, namespaces_w) = reflector::store::<Namespace>();
    let synced: Arc<[AtomicBool; 3]> = Arc::new(Default::default());
    let config = watcher::Config::default();
    let tasks = vec![
        drive(
            watcher(Api::<Service>::all(client.clone()), config.clone())
                .default_backoff()
                .reflect(services_w),
            notify.clone(),
            synced.clone(),
            0,
        ),
        drive(
            watcher(Api::<EndpointSlice>::all(client.clone()), config.clone())
                .default_backoff()
                .reflect(slices_w),
            notify.clone(),
            synced.clone(),
            1,
        ),
        drive(
            watcher(Api::<Namespace>::all(client), config)
                .default_backoff()
                .reflect(namespaces_w),
            notify.clone(),
            synced.clone(),
            2,
        ),
        tokio::spawn(publish_loop(
            domain, notify, synced, services, slices, namespaces, publish,
        )),
    ];
    tasks
}

fn drive<K, S>(
    stream: S,
    notify: Arc<Notify>,
    synced: Arc<[AtomicBool; 3]>,
    index: usize,
) -> JoinHandle<()>
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    K: Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitDone) => synced[index].store(true, Ordering::Release),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cluster DNS watch failed; retrying"),
            }
            notify.notify_one();
        }
    })
}

async fn publish_loop(
    domain: String,
    notify: Arc<Notify>,
    synced: Arc<[AtomicBool; 3]>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    namespaces: Store<Namespace>,
    publish: watch::Sender<Arc<Snapshot>>,
) {
    loop {
        notify.notified().await;
        tokio::time::sleep(COALESCE).await;
        let all_synced = synced.iter().all(|s| s.load(Ordering::Acquire));
        let (svcs, eps, nss) = (services.state(), slices.state(), namespaces.state());
        let mut snap = Snapshot::build(
            &domain,
            nss.iter().map(AsRef::as_ref),
            svcs.iter().map(AsRef::as_ref),
            eps.iter().map(AsRef::as_ref),
        );
        snap.synced = all_synced;
        snap.serial = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        publish.send_replace(Arc::new(snap));
    }
}
