//! The ServiceAccount admission plugin for pods, as upstream's (on create only; mirror pods
//! are left alone):
//!
//! - `spec.serviceAccountName` defaults to `default`;
//! - the named ServiceAccount must exist (looked up again for a while when it is `default`,
//!   which the controller manager creates right after a namespace), else the pod is
//!   refused with upstream's message — except that a missing `default` account admits the
//!   pod unchanged, so a control plane running without the ServiceAccount controller still
//!   accepts pods (and without delay: the wait only happens when `kube-system/default`
//!   exists, i.e. when that controller is at work);
//! - unless `automountServiceAccountToken` is false (the pod's wins over the account's), a
//!   projected volume `kube-api-access-<5 random>` (token with 3607 s expiry, `ca.crt` from
//!   `kube-root-ca.crt`, the namespace from the downward API) is mounted read-only at
//!   `/var/run/secrets/kubernetes.io/serviceaccount` in every init and app container that
//!   does not mount something there already;
//! - the account's `imagePullSecrets` become the pod's when it has none.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rkube_api::resources::{ResourceInfo, find};
use rkube_api::status::ApiError;
use serde_json::{Value, json};

use super::Registry;
use super::meta::meta_str;

/// The ServiceAccount pods default to.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Where the token, CA and namespace are mounted.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the projected volume's name.
pub const VOLUME_PREFIX: &str = "kube-api-access-";
/// The annotation marking a kubelet's mirror pod.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// How many times the `default` account is looked up before giving up.
const DEFAULT_ATTEMPTS: usize = 10;

/// Characters of generated name suffixes (upstream's: no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())] as char)
        .collect()
}

/// The projected volume source upstream's plugin adds.
pub fn token_volume_source() -> Value {
    json!({
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]
    })
}

/// Whether the token is mounted: the pod's setting (in its `spec`), else the account's, else
/// yes.
fn should_automount(sa: &Value, pod_spec: &serde_json::Map<String, Value>) -> bool {
    pod_spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| sa["automountServiceAccountToken"].as_bool())
        .unwrap_or(true)
}

/// Mounts the API-access volume in every (init) container lacking a mount at the token
/// path, adding the volume if some container needs it and the pod has none yet.
pub fn mount_token_volume(spec: &mut serde_json::Map<String, Value>) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .filter_map(|v| v["name"].as_str())
                .find(|n| n.starts_with(VOLUME_PREFIX))
                .map(str::to_string)
        });
    let name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", random_suffix()));
    let mount = json!({"name": name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter(|c| c.is_object()) {
            let has = c["volumeMounts"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH));
            if has {
                continue;
            }
            match c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(ms) => ms.push(mount.clone()),
                None => c["volumeMounts"] = json!([mount.clone()]),
            }
            needed = true;
        }
    }
    if existing.is_none() && needed {
        let volume = json!({"name": name, "projected": token_volume_source()});
        match spec.get_mut("volumes").and_then(Value::as_array_mut) {
            Some(vs) => vs.push(volume),
            None => {
                spec.insert("volumes".into(), json!([volume]));
            }
        }
    }
}

impl Registry {
    /// The ServiceAccount admission step of a pod create (see the module doc).
    pub(super) async fn admit_pod_service_account(
        &self,
        pods: &ResourceInfo,
        pod: &mut Value,
        shown_name: &str,
    ) -> Result<(), ApiError> {
        if pod["metadata"]["annotations"]
            .get(MIRROR_ANNOTATION)
            .is_some()
        {
            return Ok(());
        }
        let namespace = meta_str(pod, "namespace").unwrap_or_default().to_string();
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(()); // validation reports the missing spec
        };
        let sa_name = match spec.get("serviceAccountName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => DEFAULT_SERVICE_ACCOUNT.to_string(),
        };
        let Some(sa) = self.find_service_account(&namespace, &sa_name).await? else {
            if sa_name == DEFAULT_SERVICE_ACCOUNT {
                tracing::debug!(%namespace, "no default ServiceAccount: pod admitted without a token");
                return Ok(());
            }
            return Err(ApiError::forbidden(
                pods,
                shown_name,
                format!(
                    "error looking up service account {namespace}/{sa_name}: serviceaccount \"{sa_name}\" not found"
                ),
            ));
        };
        spec.insert("serviceAccountName".into(), sa_name.clone().into());
        spec.insert("serviceAccount".into(), sa_name.clone().into());
        if should_automount(&sa, spec) {
            mount_token_volume(spec);
        }
        let has_pull_secrets = spec
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_pull_secrets
            && let Some(secrets) = sa["imagePullSecrets"].as_array().filter(|a| !a.is_empty())
        {
            let refs: Vec<Value> = secrets
                .iter()
                .map(|s| json!({"name": s["name"].as_str().unwrap_or_default()}))
                .collect();
            spec.insert("imagePullSecrets".into(), refs.into());
        }
        Ok(())
    }

    /// The ServiceAccount, retried for a while when it is `default` (upstream waits for the
    /// controller that creates it).
    async fn find_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<Value>>, ApiError> {
        let info = find("", "v1", "serviceaccounts").expect("serviceaccounts are built in");
        let attempts = if name == DEFAULT_SERVICE_ACCOUNT {
            match self.get_current(info, Some(namespace), name).await {
                Ok(sa) => return Ok(Some(sa)),
                Err(e) if e.code != 404 => return Err(e),
                Err(_) => {}
            }
            // Wait for the controller only if one is creating default accounts at all.
            if self
                .get_current(info, Some("kube-system"), name)
                .await
                .is_ok()
            {
                DEFAULT_ATTEMPTS - 1
            } else {
                0
            }
        } else {
            1
        };
        let interval = Duration::from_millis(rand::rng().random_range(100..200));
        for attempt in 0..attempts {
            if attempt > 0 || name == DEFAULT_SERVICE_ACCOUNT {
                tokio::time::sleep(interval).await;
            }
            match self.get_current(info, Some(namespace), name).await {
                Ok(sa) => return Ok(Some(sa)),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_mounts_one_volume() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [
                {"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]},
                {"name": "b", "image": "x", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }});
        let spec = pod["spec"].as_object_mut().unwrap();
        mount_token_volume(spec);
        let vols = pod["spec"]["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 2);
        let name = vols[1]["name"].as_str().unwrap();
        assert!(name.starts_with(VOLUME_PREFIX) && name.len() == VOLUME_PREFIX.len() + 5);
        assert_eq!(vols[1]["projected"], token_volume_source());
        let want = json!({"name": name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(
            pod["spec"]["initContainers"][0]["volumeMounts"],
            json!([want])
        );
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][1], want);
        // A container mounting its own thing at the path keeps it.
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn automount_pod_wins_over_account() {
        let sa_off = json!({"automountServiceAccountToken": false});
        let spec_on = json!({"automountServiceAccountToken": true});
        let spec_unset = serde_json::Map::new();
        assert!(should_automount(&sa_off, spec_on.as_object().unwrap()));
        assert!(!should_automount(&sa_off, &spec_unset));
        assert!(should_automount(&json!({}), &spec_unset));
    }
}
