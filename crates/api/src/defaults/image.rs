//! Image references, as far as defaulting needs them: which tag an image names, to pick the
//! default pull policy (upstream's `parsers.ParseImageName`).

/// The tag an image reference names: `latest` when it names neither tag nor digest, `""` when
/// it names only a digest. `None` when the reference does not parse.
pub fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() {
        return None;
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => {
            let (algo, hex) = d.split_once(':')?;
            let algo_ok = !algo.is_empty()
                && algo
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"+._-".contains(&c));
            let hex_ok = hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit());
            if !algo_ok || !hex_ok {
                return None;
            }
            (n, true)
        }
        None => (image, false),
    };
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (&name_tag[..last_slash + i], &name_tag[last_slash + i + 1..]),
        None => (name_tag, ""),
    };
    if !valid_name(name) {
        return None;
    }
    if !tag.is_empty() {
        let b = tag.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        if b.len() > 128 || !word(b[0]) || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
            return None;
        }
    } else if name_tag.ends_with(':') {
        return None;
    }
    if tag.is_empty() && !digest {
        Some("latest".to_string())
    } else {
        Some(tag.to_string())
    }
}

/// Repository name: optional domain, then lowercase path components.
fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = match first.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (first, None),
            };
            let host_ok = !host.is_empty()
                && host.split('.').all(|l| {
                    let b = l.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                });
            let port_ok =
                port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
            if !host_ok || !port_ok {
                return false;
            }
            parts.remove(0);
        }
    }
    parts.iter().all(|p| valid_component(p))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_an(b[0]) || !is_an(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_an(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_an(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_an(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// The pull policy upstream defaults for an image: `Always` for `:latest` (or no tag),
/// `IfNotPresent` otherwise (including references that do not parse).
pub fn default_pull_policy(image: &str) -> &'static str {
    match image_tag(image) {
        Some(tag) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("docker.io/library/nginx", "Always"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("registry.k8s.io/pause:3.9", "IfNotPresent"),
            (
                "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "IfNotPresent",
            ),
            (
                "nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "Always",
            ),
            ("Nginx", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
            ("a b", "IfNotPresent"),
            ("my_repo/my__img", "Always"),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }
}
