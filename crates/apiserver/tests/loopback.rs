//! The in-process transport (`RunningServer::loopback`): a kube-rs client over it behaves as
//! one over HTTPS — the admin's identity, errors as `Status`, watches that stream — and is
//! refused once the server shuts down.

use crate::common::{self, raw};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::json;
use std::time::Duration;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_the_loopback_is_the_admin_and_sees_what_https_clients_see() {
    let c = common::cluster().await;
    let loopback = kube::Client::new(c.server.loopback(), "default");
    let https = c.client().await;

    // Authenticated as the admin certificate's holder: same user, same groups.
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    let over_loopback = raw::ok(&loopback, "POST", path, Some(&review)).await;
    let over_https = raw::ok(&https, "POST", path, Some(&review)).await;
    assert_eq!(
        over_loopback["status"]["userInfo"]["username"],
        "system:admin"
    );
    assert_eq!(
        over_loopback["status"]["userInfo"],
        over_https["status"]["userInfo"]
    );

    // A watch opened over the loopback streams a write made over HTTPS.
    let cms: Api<ConfigMap> = Api::namespaced(loopback.clone(), "default");
    let mut events = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    Api::<ConfigMap>::namespaced(https.clone(), "default")
        .create(&PostParams::default(), &config_map("from-https"))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("the watch streams the create")
        .unwrap()
        .unwrap();
    match event {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("from-https")),
        other => panic!("expected ADDED, got {other:?}"),
    }

    // Writes and errors over the loopback are the API's.
    cms.create(&PostParams::default(), &config_map("from-loopback"))
        .await
        .unwrap();
    match cms
        .create(&PostParams::default(), &config_map("from-loopback"))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"))
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let seen_by_https = Api::<ConfigMap>::namespaced(https, "default")
        .get("from-loopback")
        .await
        .unwrap();
    assert_eq!(seen_by_https.data.unwrap()["k"], "v");

    // After shutdown the loopback answers 503 instead of reaching a closed store.
    let after = kube::Client::new(c.server.loopback(), "default");
    c.server.shutdown().await;
    match Api::<ConfigMap>::namespaced(after, "default")
        .get("from-loopback")
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (503, "ServiceUnavailable"))
        }
        other => panic!("expected 503 after shutdown, got {other:?}"),
    }
}
