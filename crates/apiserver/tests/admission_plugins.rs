//! `--disable-admission-plugins` (`ServerConfig::admission`): the same writes against an
//! apiserver with every plugin and one with all of them off. Each plugin's effect is there in
//! the first and absent in the second, so a plugin that ignored the setting (or a setting that
//! turned off more than it names) fails here.

use crate::common;

use common::{Cluster, cluster, cluster_with};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersion};
use rkube_apiserver::admission::{AdmissionPlugins, Plugin};
use serde_json::{Value, json};

/// Creates `obj` (with its apiVersion/kind); the created object as JSON, or the error.
async fn create(c: &Cluster, ns: Option<&str>, obj: Value) -> Result<Value, kube::Error> {
    let gv: GroupVersion = obj["apiVersion"].as_str().unwrap().parse().unwrap();
    let resource = ApiResource::from_gvk(&gv.with_kind(obj["kind"].as_str().unwrap()));
    let client = c.client().await;
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    };
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await?;
    Ok(serde_json::to_value(created).unwrap())
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn class(name: &str) -> Value {
    json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name}, "value": 1000, "globalDefault": true})
}

/// What each plugin leaves on the writes below: `true` where the plugin acted.
#[derive(Debug, PartialEq)]
struct Effects {
    namespace_lifecycle: bool,
    limit_ranger: bool,
    service_account: bool,
    /// Priority, on the pod.
    pod_priority: bool,
    /// Priority, on PriorityClasses.
    one_global_default: bool,
    default_toleration_seconds: bool,
    resource_quota: bool,
}

impl Effects {
    /// Every plugin's effect `present` or absent.
    fn all(present: bool) -> Effects {
        Effects {
            namespace_lifecycle: present,
            limit_ranger: present,
            service_account: present,
            pod_priority: present,
            one_global_default: present,
            default_toleration_seconds: present,
            resource_quota: present,
        }
    }
}

async fn effects(c: &Cluster) -> Effects {
    let ns = Some("default");
    // Prerequisites: the `default` account (the plugin mounts its token only when it
    // exists), a LimitRange with default requests, and a quota of one ConfigMap (no
    // controller manager runs here, so no `kube-root-ca.crt` takes it).
    create(
        c,
        ns,
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default"}}),
    )
    .await
    .unwrap();
    create(
        c,
        ns,
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "200m"}}]}}),
    )
    .await
    .unwrap();
    create(
        c,
        ns,
        json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
        "spec": {"hard": {"count/configmaps": "1"}}}),
    )
    .await
    .unwrap();

    let p = create(c, ns, pod("p")).await.unwrap();
    let spec = &p["spec"];
    let mounts_token = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v["name"].as_str().unwrap().starts_with("kube-api-access-"));
    let tolerates_not_ready = spec["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["key"] == "node.kubernetes.io/not-ready" && t["tolerationSeconds"] == 300);

    create(c, None, class("first")).await.unwrap();
    let second_default_refused = create(c, None, class("second")).await.is_err();

    let config_map = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}})
    };
    create(c, ns, config_map("one")).await.unwrap();
    let over_quota_refused = create(c, ns, config_map("two")).await.is_err();

    let missing_namespace_refused = create(c, Some("nowhere"), config_map("three"))
        .await
        .is_err();

    Effects {
        namespace_lifecycle: missing_namespace_refused,
        limit_ranger: spec["containers"][0]["resources"]["requests"]["cpu"] == "200m",
        service_account: mounts_token,
        // From the default class, absent when the pod was created.
        pod_priority: spec["priority"] == 0,
        one_global_default: second_default_refused,
        default_toleration_seconds: tolerates_not_ready,
        resource_quota: over_quota_refused,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plugin_acts_by_default() {
    let c = cluster().await;
    assert_eq!(effects(&c).await, Effects::all(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_plugins_do_not_act() {
    let names = Plugin::ALL.map(Plugin::name);
    let c = cluster_with(|config, _| {
        config.admission = AdmissionPlugins::disabling(&names).unwrap();
    })
    .await;
    assert_eq!(effects(&c).await, Effects::all(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_perfs_list_turns_off_only_its_plugins() {
    // Upstream's scheduler_perf apiserver: TaintNodesByCondition is upstream's alone.
    let c = cluster_with(|config, _| {
        config.admission =
            AdmissionPlugins::disabling(&["ServiceAccount", "TaintNodesByCondition", "Priority"])
                .unwrap();
    })
    .await;
    let expected = Effects {
        service_account: false,
        pod_priority: false,
        one_global_default: false,
        ..Effects::all(true)
    };
    assert_eq!(effects(&c).await, expected);
}
