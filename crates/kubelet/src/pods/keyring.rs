//! Registry credentials from a pod's `imagePullSecrets`, matched to an image as upstream's
//! credential keyring (`pkg/credentialprovider`) matches them: each secret's registry keys
//! lose their `http(s)://` scheme and a `/v1/` or `/v2/` path, an image matches a key when
//! the host has as many dot-separated parts (each part a glob: `*.example.com`), the same
//! port, and the key's path is a prefix of the image's repository path. More specific keys
//! (reverse lexical order) come first; Docker Hub images fall back to `index.docker.io`'s.
//! Pure: the secrets are fetched by the caller.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

/// The secret type holding a `~/.docker/config.json` (key `.dockerconfigjson`).
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// The legacy secret type holding a `~/.dockercfg` (key `.dockercfg`).
pub const DOCKERCFG: &str = "kubernetes.io/dockercfg";

/// One registry login, as CRI's `AuthConfig` takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credential {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Why a pull secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The secret's content is not a Docker config.
    #[error("secret {secret}: {message}")]
    Malformed {
        /// The secret's name.
        secret: String,
        /// What is wrong.
        message: String,
    },
}

/// One registry's entry in a Docker config.
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// `base64(username:password)`; wins over the two fields when set.
    #[serde(default)]
    auth: String,
}

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

/// Credentials by registry key.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    /// Keys, most specific first (reverse lexical order), without duplicates.
    index: Vec<String>,
    creds: HashMap<String, Vec<Credential>>,
}

const DEFAULT_REGISTRY_HOST: &str = "index.docker.io";

impl Keyring {
    /// The keyring of `secrets`, in order; secrets of other types are skipped, and malformed
    /// ones are skipped and reported.
    pub fn from_secrets(secrets: &[Secret]) -> (Keyring, Vec<KeyringError>) {
        let mut ring = Keyring::default();
        let mut errors = Vec::new();
        for s in secrets {
            match parse_secret(s) {
                Ok(entries) => {
                    for (registry, cred) in entries {
                        ring.add(&registry, cred);
                    }
                }
                Err(message) => errors.push(KeyringError::Malformed {
                    secret: s.metadata.name.clone().unwrap_or_default(),
                    message,
                }),
            }
        }
        (ring, errors)
    }

    /// Whether there are no credentials at all.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Adds `cred` for registry key `registry` (`host[:port][/path]`, with or without a
    /// scheme).
    pub fn add(&mut self, registry: &str, cred: Credential) {
        let schemeless = registry
            .strip_prefix("https://")
            .or_else(|| registry.strip_prefix("http://"))
            .unwrap_or(registry);
        let (host, path) = split_host_path(schemeless);
        // Docker treats `/v1/` and `/v2/` like the bare host.
        let path = if path.starts_with("/v1/") || path.starts_with("/v2/") {
            &path[3..]
        } else {
            path
        };
        let key = if path.is_empty() || path == "/" {
            host.to_string()
        } else {
            format!("{host}{path}")
        };
        self.creds.entry(key.clone()).or_default().push(cred);
        if !self.index.contains(&key) {
            self.index.push(key);
            self.index.sort_by(|a, b| b.cmp(a));
        }
    }

    /// The credentials to try for `image`, most specific first (empty: pull anonymously).
    pub fn lookup(&self, image: &str) -> Vec<Credential> {
        let repo = normalize(image);
        let found: Vec<Credential> = self
            .index
            .iter()
            .filter(|k| urls_match(k, &repo))
            .flat_map(|k| self.creds[k.as_str()].iter().cloned())
            .collect();
        if found.is_empty() && is_default_registry(&repo) {
            return self
                .creds
                .get(DEFAULT_REGISTRY_HOST)
                .cloned()
                .unwrap_or_default();
        }
        found
    }
}

/// The registry entries of a pull secret (none for other secret types).
fn parse_secret(s: &Secret) -> Result<Vec<(String, Credential)>, String> {
    let data = |key: &str| s.data.as_ref().and_then(|d| d.get(key)).map(|b| &b.0[..]);
    let entries: BTreeMap<String, Entry> = match s.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => match data(".dockerconfigjson").filter(|b| !b.is_empty()) {
            Some(b) => {
                serde_json::from_slice::<ConfigJson>(b)
                    .map_err(|e| format!("invalid .dockerconfigjson: {e}"))?
                    .auths
            }
            None => return Ok(Vec::new()),
        },
        Some(DOCKERCFG) => match data(".dockercfg").filter(|b| !b.is_empty()) {
            Some(b) => serde_json::from_slice(b).map_err(|e| format!("invalid .dockercfg: {e}"))?,
            None => return Ok(Vec::new()),
        },
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for (registry, e) in entries {
        let cred = if e.auth.is_empty() {
            Credential {
                username: e.username,
                password: e.password,
            }
        } else {
            decode_auth(&e.auth).ok_or_else(|| {
                format!(
                    "registry {registry}: unable to parse auth field, must be formatted as base64(username:password)"
                )
            })?
        };
        out.push((registry, cred));
    }
    Ok(out)
}

fn decode_auth(auth: &str) -> Option<Credential> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some(Credential {
        username: user.to_string(),
        password: pass.trim_end_matches('\0').to_string(),
    })
}

/// `host[:port]` and the path after it (starting with `/`, or empty).
fn split_host_path(s: &str) -> (&str, &str) {
    match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// An image's repository with its registry made explicit and the tag or digest removed, as
/// upstream's `parsers.ParseImageName`: `busybox:1` → `docker.io/library/busybox`.
pub fn normalize(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    // A tag is a `:` after the last `/` (a `:` before it is a registry port).
    let name = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    };
    let (first, rest) = match name.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    let is_registry = |s: &str| s.contains('.') || s.contains(':') || s == "localhost";
    match rest {
        Some(rest) if is_registry(first) => format!("{first}/{rest}"),
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    }
}

/// Whether `repo` (normalized) is pulled from Docker Hub.
fn is_default_registry(repo: &str) -> bool {
    let first = repo.split('/').next().unwrap_or_default();
    !first.is_empty()
        && (!repo.contains('/')
            || first == "docker.io"
            || first == "index.docker.io"
            || !(first.contains('.') || first.contains(':')))
}

/// Whether registry key `glob` matches repository `target` (both without a scheme).
fn urls_match(glob: &str, target: &str) -> bool {
    let (glob_host, glob_path) = split_host_path(glob);
    let (target_host, target_path) = split_host_path(target);
    let split = |h: &str| -> (Vec<String>, String) {
        match h.rsplit_once(':') {
            Some((host, port)) => (host.split('.').map(str::to_string).collect(), port.into()),
            None => (h.split('.').map(str::to_string).collect(), String::new()),
        }
    };
    let (glob_parts, glob_port) = split(glob_host);
    let (target_parts, target_port) = split(target_host);
    glob_port == target_port
        && glob_parts.len() == target_parts.len()
        && target_path.starts_with(glob_path)
        && glob_parts
            .iter()
            .zip(&target_parts)
            .all(|(g, t)| glob_match(g.as_bytes(), t.as_bytes()))
}

/// Shell-style match of one host part: `*` any run of characters, `?` one character.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text) || (!text.is_empty() && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn cred(user: &str) -> Credential {
        Credential {
            username: user.into(),
            password: format!("{user}-pw"),
        }
    }

    fn ring(keys: &[(&str, &str)]) -> Keyring {
        let mut r = Keyring::default();
        for (k, u) in keys {
            r.add(k, cred(u));
        }
        r
    }

    fn users(r: &Keyring, image: &str) -> Vec<String> {
        r.lookup(image).into_iter().map(|c| c.username).collect()
    }

    fn secret(type_: &str, key: &str, json: serde_json::Value) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("s".into()),
                ..Default::default()
            },
            type_: Some(type_.into()),
            data: Some(BTreeMap::from([(
                key.to_string(),
                ByteString(serde_json::to_vec(&json).unwrap()),
            )])),
            ..Default::default()
        }
    }

    #[test]
    fn images_are_normalized_like_upstream() {
        assert_eq!(normalize("busybox"), "docker.io/library/busybox");
        assert_eq!(normalize("busybox:1.36"), "docker.io/library/busybox");
        assert_eq!(normalize("user/app:v1"), "docker.io/user/app");
        assert_eq!(normalize("localhost/x:1"), "localhost/x");
        assert_eq!(normalize("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000/a/b");
        assert_eq!(normalize("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(normalize("quay.io/org/app@sha256:0123"), "quay.io/org/app");
    }

    #[test]
    fn host_and_port_must_match() {
        let r = ring(&[("registry.example.com:5000", "a")]);
        assert_eq!(users(&r, "registry.example.com:5000/app:1"), ["a"]);
        assert!(
            users(&r, "registry.example.com/app:1").is_empty(),
            "port differs"
        );
        assert!(users(&r, "registry.example.com:5001/app").is_empty());
        assert!(users(&r, "other.example.com:5000/app").is_empty());
        assert!(
            users(&r, "sub.registry.example.com:5000/app").is_empty(),
            "part count"
        );
    }

    #[test]
    fn schemes_and_api_versions_are_ignored() {
        let r = ring(&[
            ("https://reg.example.com/v1/", "a"),
            ("http://plain.example.com/v2/", "b"),
        ]);
        assert_eq!(users(&r, "reg.example.com/app"), ["a"]);
        assert_eq!(users(&r, "plain.example.com/team/app:2"), ["b"]);
    }

    #[test]
    fn path_prefixes_select_and_more_specific_come_first() {
        let r = ring(&[
            ("quay.io", "any"),
            ("quay.io/coreos", "coreos"),
            ("https://quay.io/other", "other"),
        ]);
        assert_eq!(users(&r, "quay.io/coreos/etcd:3"), ["coreos", "any"]);
        assert_eq!(users(&r, "quay.io/someone/app"), ["any"]);
        assert_eq!(users(&r, "quay.io/other/app"), ["other", "any"]);
    }

    #[test]
    fn host_parts_may_be_globs() {
        let r = ring(&[("*.example.com", "wild"), ("reg?.example.org", "one")]);
        assert_eq!(users(&r, "a.example.com/app"), ["wild"]);
        assert!(users(&r, "example.com/app").is_empty());
        assert!(users(&r, "a.b.example.com/app").is_empty());
        assert_eq!(users(&r, "reg1.example.org/app"), ["one"]);
        assert!(users(&r, "reg12.example.org/app").is_empty());
    }

    #[test]
    fn docker_hub_images_use_the_default_registry_entry() {
        let r = ring(&[("https://index.docker.io/v1/", "hub")]);
        assert_eq!(users(&r, "busybox"), ["hub"]);
        assert_eq!(users(&r, "user/app:1"), ["hub"]);
        assert_eq!(users(&r, "docker.io/user/app"), ["hub"]);
        assert!(users(&r, "quay.io/user/app").is_empty());
        assert!(users(&r, "localhost:5000/app").is_empty());
    }

    #[test]
    fn duplicate_keys_keep_every_credential_in_order() {
        let r = ring(&[("reg.io", "first"), ("https://reg.io", "second")]);
        assert_eq!(users(&r, "reg.io/app"), ["first", "second"]);
    }

    #[test]
    fn dockerconfigjson_and_dockercfg_secrets_are_read() {
        let auth = base64::engine::general_purpose::STANDARD.encode("joe:s3:cret");
        let json = secret(
            DOCKER_CONFIG_JSON,
            ".dockerconfigjson",
            serde_json::json!({"auths": {"https://reg.io": {"auth": auth}, "other.io": {"username": "u", "password": "p"}}}),
        );
        let cfg = secret(
            DOCKERCFG,
            ".dockercfg",
            serde_json::json!({"legacy.io:443": {"username": "old", "password": "pw", "email": "e@x"}}),
        );
        let (r, errors) = Keyring::from_secrets(&[json, cfg]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            r.lookup("reg.io/app:1"),
            [Credential {
                username: "joe".into(),
                password: "s3:cret".into()
            }]
        );
        assert_eq!(users(&r, "other.io/app"), ["u"]);
        assert_eq!(users(&r, "legacy.io:443/app"), ["old"]);
    }

    #[test]
    fn other_types_are_skipped_and_malformed_secrets_reported() {
        let opaque = secret(
            "Opaque",
            ".dockerconfigjson",
            serde_json::json!({"auths": {"reg.io": {"username": "x"}}}),
        );
        let bad_auth = secret(
            DOCKER_CONFIG_JSON,
            ".dockerconfigjson",
            serde_json::json!({"auths": {"reg.io": {"auth": "bm9jb2xvbg=="}}}),
        );
        let mut not_json = secret(DOCKERCFG, ".dockercfg", serde_json::json!(null));
        not_json.data = Some(BTreeMap::from([(
            ".dockercfg".into(),
            ByteString(b"{".to_vec()),
        )]));
        let (r, errors) = Keyring::from_secrets(&[opaque, bad_auth, not_json]);
        assert!(r.is_empty());
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].to_string().contains("base64(username:password)"),
            "{}",
            errors[0]
        );
    }
}
