//! Making a container's image present as its `imagePullPolicy` says, with upstream's reasons
//! (`ErrImagePull`, `ErrImageNeverPull`) and events. A pull tries each matching credential of
//! the pod's `imagePullSecrets` in turn ([`super::keyring`]), or none.

use std::future::Future;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Container;

use super::keyring::Credential;
use crate::cri::Cri;

/// Why the image is not there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFailure {
    /// `ErrImagePull` or `ErrImageNeverPull`.
    pub reason: &'static str,
    /// What the runtime or registry said.
    pub message: String,
}

/// What happened, for events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pulled {
    /// It was already on the node.
    AlreadyPresent(String),
    /// It was pulled, taking this long.
    Pulled(String, std::time::Duration),
}

impl Pulled {
    /// The image reference to create the container from.
    pub fn image_ref(&self) -> &str {
        match self {
            Pulled::AlreadyPresent(r) | Pulled::Pulled(r, _) => r,
        }
    }
}

/// The effective pull policy: as set, else `Always` for `:latest` or untagged images and
/// `IfNotPresent` otherwise (the apiserver defaults it too; this guards a missing default).
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = c.image_pull_policy.clone().filter(|p| !p.is_empty()) {
        return p;
    }
    let image = c.image.as_deref().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent".into()
    } else {
        "Always".into()
    }
}

/// Ensures the image of `c` is present; `credentials` (awaited only when a pull is needed)
/// are the logins to try for it, in order.
pub async fn ensure(
    cri: &Cri,
    c: &Container,
    sandbox: &cri::PodSandboxConfig,
    credentials: impl Future<Output = Vec<Credential>>,
) -> Result<Pulled, ImageFailure> {
    let image = c.image.clone().unwrap_or_default();
    let spec = cri::ImageSpec {
        image: image.clone(),
        ..Default::default()
    };
    let policy = pull_policy(c);
    if policy != "Always" {
        let present = cri
            .images
            .clone()
            .image_status(cri::ImageStatusRequest {
                image: Some(spec.clone()),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.into_inner().image);
        if let Some(img) = present {
            return Ok(Pulled::AlreadyPresent(img.id));
        }
        if policy == "Never" {
            return Err(ImageFailure {
                reason: "ErrImageNeverPull",
                message: format!(
                    "Container image \"{image}\" is not present with pull policy of Never"
                ),
            });
        }
    }
    let start = std::time::Instant::now();
    let credentials = credentials.await;
    let auths: Vec<Option<cri::AuthConfig>> = if credentials.is_empty() {
        vec![None]
    } else {
        credentials
            .into_iter()
            .map(|c| {
                Some(cri::AuthConfig {
                    username: c.username,
                    password: c.password,
                    ..Default::default()
                })
            })
            .collect()
    };
    let mut errors = Vec::new();
    for auth in auths {
        let pulled = cri
            .images
            .clone()
            .pull_image(cri::PullImageRequest {
                image: Some(spec.clone()),
                auth,
                sandbox_config: Some(sandbox.clone()),
            })
            .await;
        match pulled {
            Ok(r) => return Ok(Pulled::Pulled(r.into_inner().image_ref, start.elapsed())),
            Err(s) => errors.push(s.message().to_string()),
        }
    }
    Err(ImageFailure {
        reason: "ErrImagePull",
        message: join_errors(errors),
    })
}

/// One error as it is, several as upstream's aggregate prints them (`[a, b]`).
fn join_errors(mut errors: Vec<String>) -> String {
    if errors.len() == 1 {
        errors.pop().unwrap_or_default()
    } else {
        format!("[{}]", errors.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn default_policy_by_tag() {
        assert_eq!(pull_policy(&c("busybox", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:latest", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:1.36", None)), "IfNotPresent");
        assert_eq!(pull_policy(&c("localhost:5000/busybox", None)), "Always");
        assert_eq!(
            pull_policy(&c("localhost:5000/busybox:1", None)),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(&c("busybox@sha256:abc", None)), "IfNotPresent");
        assert_eq!(pull_policy(&c("busybox", Some("Never"))), "Never");
    }

    #[test]
    fn failed_pulls_are_reported_like_upstreams_aggregate() {
        assert_eq!(join_errors(vec!["denied".into()]), "denied");
        assert_eq!(
            join_errors(vec!["a".into(), "b".into()]),
            "[a, b]",
            "every credential's failure"
        );
    }
}
