//! Service-account tokens in pods, with a real containerd: the apiserver's ServiceAccount
//! admission adds the `kube-api-access-*` projected volume, the kubelet fills it (a token
//! requested through the TokenRequest API, bound to the pod; `ca.crt` from
//! `kube-root-ca.crt`; the namespace), and the token file's content authenticates to the
//! apiserver as the pod's service account.

use crate::common;

use std::time::Duration;

use base64::Engine;
use common::{BUSYBOX, TestNode, container_status};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";
const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn running(p: &Pod) -> bool {
    container_status(p, "c").is_some_and(|c| c.ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_calls_the_apiserver_with_its_token() {
    let node = TestNode::start().await;
    // What the controller manager would publish (it does not run here).
    let ca = std::fs::read_to_string(node.dir.path().join("server/tls/ca.crt")).unwrap();
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(node.client.clone(), "default")
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}}),
    )
    .unwrap();
    Api::<ConfigMap>::namespaced(node.client.clone(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();

    // Host network: the apiserver listens on the node's loopback.
    let created = node
        .create_pod(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "caller"},
            "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": true,
                "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP]}]}
        }))
        .await;
    let p = node
        .wait_pod("caller", Duration::from_secs(60), running)
        .await;

    let (code, token, err) = node
        .exec(&p, "c", &["cat", &format!("{MOUNT}/token")])
        .await;
    assert_eq!(code, 0, "{err}");
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:default:default");
    assert_eq!(
        claims["kubernetes.io"]["pod"],
        json!({"name": "caller", "uid": created.metadata.uid.clone().unwrap()})
    );
    assert_eq!(claims["kubernetes.io"]["node"]["name"], node.name.as_str());
    let (_, ns, _) = node
        .exec(&p, "c", &["cat", &format!("{MOUNT}/namespace")])
        .await;
    assert_eq!(ns, "default");
    let (_, pod_ca, _) = node
        .exec(&p, "c", &["cat", &format!("{MOUNT}/ca.crt")])
        .await;
    assert_eq!(pod_ca, ca);

    // The token authenticates as the pod's service account. (busybox's wget cannot complete
    // a TLS handshake with the apiserver — its built-in TLS shares no cipher suite with
    // rustls — so the call is made from here with exactly the file's content.)
    let kc = kube::config::Kubeconfig::read_from(&node.kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.clone().into()),
        ..Default::default()
    };
    let as_pod = kube::Client::try_from(config).unwrap();
    let got = Api::<ServiceAccount>::namespaced(as_pod.clone(), "default")
        .get("default")
        .await
        .expect("the pod's token authenticates");
    assert_eq!(got.metadata.name.as_deref(), Some("default"));
    let review: Value = as_pod
        .request(
            http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
                .header("content-type", "application/json")
                .body(
                    br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#
                        .to_vec(),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:default:default"
    );
    node.stop().await;
}
