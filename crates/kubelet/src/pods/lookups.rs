//! The API objects a pod's containers refer to (ConfigMaps, Secrets, Services, PVCs), fetched
//! once per sync and cached for its duration. Services come from the kubelet's Service
//! reflector once it has synced (upstream's service lister), not from a LIST per pod.

use std::collections::HashMap;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::ListParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

/// Per-sync cache of the objects in one namespace.
pub struct Lookups {
    client: Client,
    namespace: String,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
    services: Option<Vec<Service>>,
    service_cache: Option<Store<Service>>,
}

impl Lookups {
    /// An empty cache for `namespace`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            config_maps: HashMap::new(),
            secrets: HashMap::new(),
            services: None,
            service_cache: None,
        }
    }

    /// Takes Services from `store` (every namespace's) once it has synced.
    pub fn with_service_cache(mut self, store: Store<Service>) -> Self {
        self.service_cache = Some(store);
        self
    }

    /// The client (for lookups outside the namespace).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// ConfigMap `name`, `None` if it does not exist.
    pub async fn config_map(&mut self, name: &str) -> Result<Option<ConfigMap>, kube::Error> {
        if let Some(hit) = self.config_maps.get(name) {
            return Ok(hit.clone());
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let got = api.get_opt(name).await?;
        self.config_maps.insert(name.into(), got.clone());
        Ok(got)
    }

    /// Secret `name`, `None` if it does not exist.
    pub async fn secret(&mut self, name: &str) -> Result<Option<Secret>, kube::Error> {
        if let Some(hit) = self.secrets.get(name) {
            return Ok(hit.clone());
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let got = api.get_opt(name).await?;
        self.secrets.insert(name.into(), got.clone());
        Ok(got)
    }

    /// The Services whose environment variables a pod gets: those of its namespace (when
    /// `service_links`) and the apiserver's own `default/kubernetes`.
    pub async fn services(&mut self, service_links: bool) -> Result<Vec<Service>, kube::Error> {
        if self.services.is_none()
            && let Some(store) = &self.service_cache
            // Not yet synced: asked of the apiserver below, as without a cache.
            && store.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
        {
            let ns = self.namespace.as_str();
            let mut all: Vec<Service> = if service_links {
                store
                    .state()
                    .iter()
                    .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                    .map(|s| (**s).clone())
                    .collect()
            } else {
                Vec::new()
            };
            if ns != "default" || !service_links {
                all.extend(
                    store
                        .get(&ObjectRef::new("kubernetes").within("default"))
                        .map(|s| (*s).clone()),
                );
            }
            self.services = Some(all);
        }
        if self.services.is_none() {
            let mut all = Vec::new();
            if service_links {
                let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
                all = api.list(&ListParams::default()).await?.items;
            }
            if self.namespace != "default" || !service_links {
                let api: Api<Service> = Api::namespaced(self.client.clone(), "default");
                all.extend(api.get_opt("kubernetes").await?);
            }
            self.services = Some(all);
        }
        Ok(self.services.clone().unwrap_or_default())
    }
}
