//! The root-CA publisher: every namespace holds the ConfigMap `kube-root-ca.crt` whose
//! `ca.crt` is the cluster CA, with upstream's description annotation, so pods (through the
//! projected `kube-api-access-*` volume) can verify the apiserver. A deleted or edited copy
//! is restored. Without a CA the controller does nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::context::Context;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The ConfigMap's name.
pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
/// The key holding the CA bundle.
pub const CA_KEY: &str = "ca.crt";
/// The annotation describing the ConfigMap.
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// Its value (the text upstream sets, which clients may show).
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What went wrong (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

struct Shared {
    client: Client,
    root_ca: Arc<str>,
    namespaces: Store<Namespace>,
    config_maps: Store<ConfigMap>,
}

/// Runs the publisher until dropped (returns at once without a root CA).
pub async fn run(ctx: Context) {
    let Some(root_ca) = ctx.root_ca_pem.clone() else {
        tracing::warn!("no root CA configured: kube-root-ca.crt ConfigMaps are not published");
        return;
    };
    let queue: WorkQueue<String> = WorkQueue::new("root_ca_cert_publisher", ctx.metrics.clone());
    let q = queue.clone();
    let (namespaces, _ns_task) = informer::spawn(
        Api::<Namespace>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(ns) | Change::Updated { new: ns, .. } => q.add(ns.name_any()),
            Change::Deleted(_) => {}
        },
    );
    let q = queue.clone();
    let (config_maps, _cm_task) = informer::spawn(
        Api::<ConfigMap>::all(ctx.client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP_NAME}")),
        move |change| {
            let cm = match change {
                Change::Updated { new, .. } => new,
                Change::Deleted(cm) => cm,
                Change::Added(_) => return,
            };
            if let Some(ns) = cm.namespace() {
                q.add(ns);
            }
        },
    );
    namespaces.wait_until_ready().await.ok();
    config_maps.wait_until_ready().await.ok();
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        root_ca,
        namespaces,
        config_maps,
    });
    run_workers(queue, ctx.workers, move |ns: String| {
        let shared = shared.clone();
        async move { reconcile(&shared, &ns).await }
    })
    .await;
}

/// The data the ConfigMap must hold.
fn desired_data(root_ca: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(CA_KEY.to_string(), root_ca.to_string())])
}

/// Whether `cm` already holds exactly the CA and carries the description.
fn up_to_date(cm: &ConfigMap, root_ca: &str) -> bool {
    cm.data.as_ref() == Some(&desired_data(root_ca))
        && cm
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
            .is_some_and(|d| !d.is_empty())
}

async fn reconcile(s: &Shared, ns: &str) -> Result<Requeue, Error> {
    let Some(namespace) = s.namespaces.get(&ObjectRef::new(ns)) else {
        return Ok(Requeue::Done);
    };
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), ns);
    let cached = s
        .config_maps
        .get(&ObjectRef::new(CONFIG_MAP_NAME).within(ns));
    let Some(cached) = cached else {
        if !super::is_active(&namespace) {
            return Ok(Requeue::Done);
        }
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP_NAME.into()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(desired_data(&s.root_ca)),
            ..ConfigMap::default()
        };
        return match api.create(&PostParams::default(), &cm).await {
            Ok(_) => Ok(Requeue::Done),
            // The cache lagged: the update event will bring it back here if it differs.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Requeue::Done),
            Err(e) if super::namespace_closed(&e) => Ok(Requeue::Done),
            Err(e) => Err(e.into()),
        };
    };
    if up_to_date(&cached, &s.root_ca) {
        return Ok(Requeue::Done);
    }
    let mut cm = (*cached).clone();
    cm.data = Some(desired_data(&s.root_ca));
    cm.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    match api
        .replace(CONFIG_MAP_NAME, &PostParams::default(), &cm)
        .await
    {
        Ok(_) => Ok(Requeue::Done),
        // A newer version is on its way through the watch, which enqueues again.
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(Requeue::Done),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_data_or_missing_description_is_stale() {
        let ca = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
        let mut cm = ConfigMap {
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(desired_data(ca)),
            ..ConfigMap::default()
        };
        assert!(up_to_date(&cm, ca));
        assert!(!up_to_date(&cm, "other"));
        cm.data.as_mut().unwrap().insert("extra".into(), "x".into());
        assert!(!up_to_date(&cm, ca));
        cm.data = Some(desired_data(ca));
        cm.metadata.annotations = None;
        assert!(!up_to_date(&cm, ca));
    }
}
