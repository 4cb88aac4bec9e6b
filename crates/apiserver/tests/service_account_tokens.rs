//! Service-account tokens end to end against an in-process apiserver: the TokenRequest API,
//! the tokens authenticating (kube-rs with only the bearer token, SelfSubjectReview, the
//! real `kubectl create token` and `kubectl auth whoami`), the refusals (expired, other
//! audience, deleted bound pod, recreated account → 401), the signing key surviving a
//! restart, OIDC discovery, and the ServiceAccount admission plugin on pods.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::cluster;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use rkube_apiserver::server::{ServerConfig, start};
use serde_json::{Value, json};

/// A kube client whose only credential is `token` (the CA from the admin kubeconfig).
async fn client_with_token(kubeconfig: &std::path::Path, token: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.to_string().into()),
        ..Default::default()
    };
    kube::Client::try_from(config).unwrap()
}

/// POSTs `body` to `path` (JSON), returning status and parsed body.
async fn post(client: &kube::Client, path: &str, body: &Value) -> (u16, Value) {
    let req = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// GETs `path`, returning the status.
async fn get_status(client: &kube::Client, path: &str) -> u16 {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    resp.status().as_u16()
}

/// Requests a token for `ns/sa` with `spec`.
async fn token_request(client: &kube::Client, ns: &str, sa: &str, spec: Value) -> (u16, Value) {
    post(
        client,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
    .await
}

async fn token(client: &kube::Client, ns: &str, sa: &str, spec: Value) -> String {
    let (code, body) = token_request(client, ns, sa, spec).await;
    assert_eq!(code, 201, "{body}");
    body["status"]["token"].as_str().unwrap().to_string()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn create_sa(client: &kube::Client, ns: &str, name: &str, extra: Value) -> ServiceAccount {
    let mut sa = json!({"metadata": {"name": name}});
    if let (Some(o), Some(e)) = (sa.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(sa).unwrap())
        .await
        .unwrap()
}

async fn whoami(client: &kube::Client) -> (u16, Value) {
    post(
        client,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_token_authenticates_as_its_service_account() {
    let c = cluster().await;
    let admin = c.client().await;
    let sa = create_sa(&admin, "default", "robot", json!({})).await;

    let (code, body) = token_request(&admin, "default", "robot", json!({})).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["kind"], "TokenRequest");
    assert_eq!(body["metadata"]["name"], "robot");
    assert_eq!(
        body["spec"],
        json!({"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": 3600})
    );
    let token = body["status"]["token"].as_str().unwrap();
    let exp: jiff::Timestamp = body["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = exp.as_second() - jiff::Timestamp::now().as_second();
    assert!((3590..=3600).contains(&left), "{left}");
    let cl = claims(token);
    assert_eq!(cl["iss"], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(cl["sub"], "system:serviceaccount:default:robot");
    assert_eq!(
        cl["aud"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(cl["nbf"], cl["iat"]);
    assert_eq!(
        cl["kubernetes.io"],
        json!({"namespace": "default", "serviceaccount": {"name": "robot", "uid": sa.metadata.uid.clone().unwrap()}})
    );

    let as_robot = client_with_token(&c.server.kubeconfig, token).await;
    let namespaces = Api::<Namespace>::all(as_robot.clone())
        .list(&Default::default())
        .await
        .unwrap();
    assert!(
        namespaces
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("default"))
    );
    let (code, review) = whoami(&as_robot).await;
    assert_eq!(code, 201, "{review}");
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "system:serviceaccount:default:robot",
            "uid": sa.metadata.uid.clone().unwrap(),
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]})
    );
    // A garbage or tampered token is a 401.
    let bad = client_with_token(&c.server.kubeconfig, &format!("{token}x")).await;
    assert_eq!(get_status(&bad, "/api/v1/namespaces").await, 401);

    // OIDC discovery names the key that signed the token.
    assert_eq!(
        get_status(&admin, "/.well-known/openid-configuration").await,
        200
    );
    let config: Value = admin
        .request(
            http::Request::get("/.well-known/openid-configuration")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        config["issuer"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(
        config["jwks_uri"],
        "https://kubernetes.default.svc.cluster.local/openid/v1/jwks"
    );
    let jwks: Value = admin
        .request(
            http::Request::get("/openid/v1/jwks")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_foreign_audience_and_unbound_tokens_are_refused() {
    let c = cluster().await;
    let admin = c.client().await;
    create_sa(&admin, "default", "robot", json!({})).await;

    // Validation.
    let (code, body) =
        token_request(&admin, "default", "robot", json!({"expirationSeconds": 60})).await;
    assert_eq!(code, 422);
    assert_eq!(
        body["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    let (code, body) = token_request(&admin, "default", "nobody", json!({})).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["message"], "serviceaccounts \"nobody\" not found");

    // Another audience: issued, but not accepted by the apiserver.
    let other = token(&admin, "default", "robot", json!({"audiences": ["vault"]})).await;
    assert_eq!(claims(&other)["aud"], json!(["vault"]));
    let as_other = client_with_token(&c.server.kubeconfig, &other).await;
    assert_eq!(get_status(&as_other, "/api/v1/namespaces").await, 401);

    // Bound to a pod: valid while the pod exists, refused once it is gone.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    let pod_uid = pod.metadata.uid.clone().unwrap();
    let (code, body) = token_request(
        &admin,
        "default",
        "robot",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "wrong"}}),
    )
    .await;
    assert_eq!(code, 409, "{body}");
    create_sa(&admin, "default", "default", json!({})).await;
    let (code, body) = token_request(
        &admin,
        "default",
        "default",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let bound = token(
        &admin,
        "default",
        "robot",
        json!({
        "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": pod_uid},
        "expirationSeconds": 3607}),
    )
    .await;
    let cl = claims(&bound);
    assert_eq!(
        cl["kubernetes.io"]["pod"],
        json!({"name": "p", "uid": pod_uid})
    );
    // The kubelet's 3607 s is extended to a year, with a warning time at 3607 s.
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        365 * 24 * 3600
    );
    assert_eq!(
        cl["kubernetes.io"]["warnafter"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        3607
    );
    let as_pod = client_with_token(&c.server.kubeconfig, &bound).await;
    assert_eq!(get_status(&as_pod, "/api/v1/namespaces").await, 200);
    pods.delete("p", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    for _ in 0..50 {
        if pods.get_opt("p").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(get_status(&as_pod, "/api/v1/namespaces").await, 401);

    // Expired: a token signed with the cluster key whose expiry passed (and a control
    // token minted the same way that is still valid).
    let sa = Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .get("robot")
        .await
        .unwrap();
    let key = rkube_apiserver::serviceaccount::SigningKey::load_or_create(
        &c.dir.path().join("tls").join("service.key"),
    )
    .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let mint = |iat: i64, exp: i64| {
        let claims = json!({"iss": "https://kubernetes.default.svc.cluster.local",
            "sub": "system:serviceaccount:default:robot",
            "aud": ["https://kubernetes.default.svc.cluster.local"],
            "iat": iat, "nbf": iat, "exp": exp,
            "kubernetes.io": {"namespace": "default",
                "serviceaccount": {"name": "robot", "uid": sa.metadata.uid.clone().unwrap()}}});
        rkube_apiserver::serviceaccount::jwt::encode(&key, &claims).unwrap()
    };
    let valid = client_with_token(&c.server.kubeconfig, &mint(now - 10, now + 600)).await;
    assert_eq!(get_status(&valid, "/api/v1/namespaces").await, 200);
    let expired = client_with_token(&c.server.kubeconfig, &mint(now - 4000, now - 120)).await;
    assert_eq!(get_status(&expired, "/api/v1/namespaces").await, 401);

    // The service account deleted and recreated (same name, new uid): its old tokens fail.
    let plain = token(&admin, "default", "robot", json!({})).await;
    let as_robot = client_with_token(&c.server.kubeconfig, &plain).await;
    assert_eq!(get_status(&as_robot, "/api/v1/namespaces").await, 200);
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(get_status(&as_robot, "/api/v1/namespaces").await, 401);
    create_sa(&admin, "default", "robot", json!({})).await;
    assert_eq!(get_status(&as_robot, "/api/v1/namespaces").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_survive_an_apiserver_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = ServerConfig::new(dir.path());
        config.bind_address = [127, 0, 0, 1].into();
        config.https_port = 0;
        config.include_host_sans = false;
        config
    };
    let server = start(config()).await.unwrap();
    let admin = {
        let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
        kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap()
    };
    create_sa(&admin, "default", "robot", json!({})).await;
    let t = token(&admin, "default", "robot", json!({})).await;
    server.shutdown().await;
    let server = start(config()).await.unwrap();
    let as_robot = client_with_token(&server.kubeconfig, &t).await;
    assert_eq!(get_status(&as_robot, "/api/v1/namespaces").await, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_defaults_the_account_and_mounts_the_token() {
    let c = cluster().await;
    let admin = c.client().await;
    create_sa(&admin, "default", "default", json!({})).await;
    create_sa(
        &admin,
        "default",
        "quiet",
        json!({"automountServiceAccountToken": false}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let make = |name: &str, spec: Value| -> Pod {
        let mut spec = spec;
        spec["containers"] =
            json!([{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]);
        spec["initContainers"] = json!([{"name": "i", "image": "busybox"}]);
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };

    let pod = pods
        .create(&PostParams::default(), &make("plain", json!({})))
        .await
        .unwrap();
    let pod = serde_json::to_value(&pod).unwrap();
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1);
    let name = volumes[0]["name"].as_str().unwrap();
    assert!(
        name.starts_with("kube-api-access-") && name.len() == "kube-api-access-".len() + 5,
        "{name}"
    );
    assert_eq!(
        volumes[0]["projected"],
        json!({"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]})
    );
    let mount = json!([{"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]);
    for list in ["containers", "initContainers"] {
        for c in pod["spec"][list].as_array().unwrap() {
            assert_eq!(c["volumeMounts"], mount, "{list}");
        }
    }

    // Opted out by the pod, or by the account.
    for (name, spec) in [
        ("optout", json!({"automountServiceAccountToken": false})),
        ("quiet", json!({"serviceAccountName": "quiet"})),
    ] {
        let pod = pods
            .create(&PostParams::default(), &make(name, spec))
            .await
            .unwrap();
        let pod = serde_json::to_value(&pod).unwrap();
        assert!(
            pod["spec"]["volumes"]
                .as_array()
                .is_none_or(|v| v.is_empty()),
            "{name}: {pod}"
        );
        assert!(
            pod["spec"]["containers"][0]["volumeMounts"].is_null(),
            "{name}"
        );
    }

    // A missing account is refused with upstream's message.
    let err = pods
        .create(
            &PostParams::default(),
            &make("ghost", json!({"serviceAccountName": "ghost"})),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                "pods \"ghost\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"
            );
        }
        e => panic!("{e}"),
    }

    // kubectl create token, and the token works for kubectl.
    let out = c
        .ok(&["create", "token", "default", "--duration", "20m"])
        .await;
    let t = out.trim();
    let cl = claims(t);
    assert_eq!(cl["sub"], "system:serviceaccount:default:default");
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        1200
    );
    // A kubeconfig whose only credential is the token.
    let kc = kube::config::Kubeconfig::read_from(&c.server.kubeconfig).unwrap();
    let mut kc = serde_json::to_value(&kc).unwrap();
    kc["users"][0]["user"] = json!({"token": t});
    let path = c.dir.path().join("token-kubeconfig.json");
    std::fs::write(&path, kc.to_string()).unwrap();
    let whoami = c
        .ok(&[
            "auth",
            "whoami",
            "-o",
            "json",
            "--kubeconfig",
            path.to_str().unwrap(),
        ])
        .await;
    let whoami: Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(
        whoami["status"]["userInfo"]["username"],
        "system:serviceaccount:default:default"
    );
}

/// GETs `path` with `accept`, returning the parsed body.
async fn get_json(client: &kube::Client, path: &str, accept: &str) -> Value {
    let req = http::Request::get(path)
        .header("accept", accept)
        .body(Vec::new())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_the_token_subresource() {
    let c = cluster().await;
    let admin = c.client().await;
    // `/api/v1`: a TokenRequest-speaking `serviceaccounts/token`, create only.
    let list = get_json(&admin, "/api/v1", "application/json").await;
    let entry = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .expect("serviceaccounts/token is listed");
    assert_eq!(entry["kind"], "TokenRequest");
    assert_eq!(entry["group"], "authentication.k8s.io");
    assert_eq!(entry["version"], "v1");
    assert_eq!(entry["namespaced"], true);
    assert_eq!(entry["verbs"], json!(["create"]));

    // The aggregated document lists it under serviceaccounts.
    let aggregated = get_json(
        &admin,
        "/api",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    )
    .await;
    let sa = aggregated["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "serviceaccounts")
        .unwrap();
    assert_eq!(
        sa["subresources"],
        json!([{
            "subresource": "token",
            "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
            "verbs": ["create"],
        }])
    );

    // kube-rs discovery sees it, and the route it names still answers.
    let discovery = kube::discovery::Discovery::new(admin.clone())
        .run_aggregated()
        .await
        .unwrap();
    let core = discovery.get("").unwrap();
    let (_, caps) = core
        .recommended_resources()
        .into_iter()
        .find(|(r, _)| r.plural == "serviceaccounts")
        .unwrap();
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "token"));
    create_sa(&admin, "default", "robot", json!({})).await;
    let (code, body) = token_request(&admin, "default", "robot", json!({})).await;
    assert_eq!(code, 201, "{body}");
}
