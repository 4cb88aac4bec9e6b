//! The ServiceAccount controller and the root-CA publisher: a new namespace gets its
//! `default` ServiceAccount and its `kube-root-ca.crt` ConfigMap (holding the cluster CA from
//! the kubeconfig), and both come back after deletion; an edited ConfigMap is restored.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::serviceaccount::root_ca::{CA_KEY, CONFIG_MAP_NAME, DESCRIPTION};
use serde_json::json;

/// The PEM CA of the cluster, as the controller manager reads it from its kubeconfig.
fn cluster_ca(kubeconfig: &std::path::Path) -> String {
    use base64::Engine;
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let data = kc.clusters[0]
        .cluster
        .as_ref()
        .unwrap()
        .certificate_authority_data
        .clone()
        .unwrap();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .unwrap();
    String::from_utf8(pem).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_account_and_root_ca_appear_and_come_back() {
    let c = Cluster::start().await;
    let ca = cluster_ca(&c.kubeconfig);
    assert!(ca.contains("BEGIN CERTIFICATE"));
    let mut ctx = Context::new(c.client.clone(), "test".into());
    ctx.root_ca_pem = Some(ca.clone().into());
    let _accounts = tokio::spawn(rkube_controllers::serviceaccount::accounts::run(
        ctx.clone(),
    ));
    let _publisher = tokio::spawn(rkube_controllers::serviceaccount::root_ca::run(ctx));

    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "team-a");
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "team-a");

    let first = eventually(
        Duration::from_secs(10),
        "the default ServiceAccount",
        || async { sas.get_opt("default").await.ok().flatten() },
    )
    .await;
    let cm = eventually(
        Duration::from_secs(10),
        "the kube-root-ca.crt ConfigMap",
        || async { cms.get_opt(CONFIG_MAP_NAME).await.ok().flatten() },
    )
    .await;
    assert_eq!(cm.data.as_ref().unwrap()[CA_KEY], ca);
    assert_eq!(
        cm.metadata.annotations.as_ref().unwrap()["kubernetes.io/description"],
        DESCRIPTION
    );
    // The built-in namespaces get them too.
    for ns in ["default", "kube-system"] {
        let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), ns);
        let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
        eventually(
            Duration::from_secs(10),
            "the built-in namespaces' objects",
            || async {
                sas.get_opt("default").await.ok().flatten()?;
                cms.get_opt(CONFIG_MAP_NAME).await.ok().flatten()
            },
        )
        .await;
    }

    // Deleted: recreated (a new object, new uid).
    sas.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    cms.delete(CONFIG_MAP_NAME, &DeleteParams::default())
        .await
        .unwrap();
    let old_uid = first.metadata.uid.clone();
    eventually(
        Duration::from_secs(10),
        "the ServiceAccount recreated",
        || async {
            let sa = sas.get_opt("default").await.ok().flatten()?;
            (sa.metadata.uid != old_uid).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the ConfigMap recreated",
        || async {
            let cm = cms.get_opt(CONFIG_MAP_NAME).await.ok().flatten()?;
            (cm.data?.get(CA_KEY)? == &ca).then_some(())
        },
    )
    .await;

    // Edited: restored.
    let mut edited = cms.get(CONFIG_MAP_NAME).await.unwrap();
    edited.data = Some([(CA_KEY.to_string(), "tampered".to_string())].into());
    cms.replace(CONFIG_MAP_NAME, &PostParams::default(), &edited)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the ConfigMap restored",
        || async {
            let cm = cms.get_opt(CONFIG_MAP_NAME).await.ok().flatten()?;
            (cm.data?.get(CA_KEY)? == &ca).then_some(())
        },
    )
    .await;
    c.stop().await;
}
