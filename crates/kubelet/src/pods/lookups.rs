//! The API objects a pod's containers refer to (ConfigMaps, Secrets, Services, PVCs), fetched
//! once per sync and cached for its duration.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::ListParams;
use kube::{Api, Client};

/// Per-sync cache of the objects in one namespace.
pub struct Lookups {
    client: Client,
    namespace: String,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
    services: Option<Vec<Service>>,
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
        }
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
