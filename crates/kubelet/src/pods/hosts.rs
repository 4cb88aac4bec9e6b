//! The pod's /etc/hosts, which the kubelet writes and mounts into each container (not for
//! host-network pods, which see the host's).

use k8s_openapi::api::core::v1::Pod;

/// The pod's hostname: `spec.hostname` or the pod name, cut to 63 characters as upstream.
pub fn hostname(pod: &Pod) -> String {
    let spec = pod.spec.as_ref();
    let name = spec
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    let cut: String = name.chars().take(63).collect();
    cut.trim_end_matches(['-', '.']).to_string()
}

/// The hosts file for `pod` with IP `pod_ip`, in cluster `domain`.
pub fn hosts_file(pod: &Pod, pod_ip: &str, domain: &str) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let host = hostname(pod);
    let spec = pod.spec.clone().unwrap_or_default();
    match spec.subdomain.filter(|s| !s.is_empty()) {
        Some(sub) => {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            out.push_str(&format!(
                "{pod_ip}\t{host}.{sub}.{ns}.svc.{domain}\t{host}\n"
            ));
        }
        None => out.push_str(&format!("{pod_ip}\t{host}\n")),
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            let names = a.hostnames.unwrap_or_default().join("\t");
            out.push_str(&format!("{}\t{names}\n", a.ip));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_subdomain_and_aliases() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "shop"},
            "spec": {"hostname": "web-0", "subdomain": "web", "containers": [],
                     "hostAliases": [{"ip": "10.1.1.1", "hostnames": ["db", "db.local"]}]}
        }))
        .unwrap();
        let h = hosts_file(&pod, "10.42.0.7", "cluster.local");
        assert!(
            h.contains("10.42.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n"),
            "{h}"
        );
        assert!(h.contains("10.1.1.1\tdb\tdb.local\n"), "{h}");
        assert!(h.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
    }

    #[test]
    fn hostname_is_cut_to_63() {
        let long = "a".repeat(70);
        let pod: Pod = serde_json::from_value(
            serde_json::json!({"metadata": {"name": long}, "spec": {"containers": []}}),
        )
        .unwrap();
        assert_eq!(hostname(&pod).len(), 63);
    }
}
