//! Defaults of `storage.k8s.io/v1`.

use super::or_set;
use k8s_openapi::api::storage::v1::StorageClass;

/// StorageClass: reclaim policy Delete, binding mode Immediate.
pub fn default_storage_class(sc: &mut StorageClass) {
    or_set(&mut sc.reclaim_policy, "Delete".to_string());
    or_set(&mut sc.volume_binding_mode, "Immediate".to_string());
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn storage_class() {
        let mut sc = json!({"metadata": {"name": "local"}, "provisioner": "rancher.io/local-path"});
        apply("storage.k8s.io", "StorageClass", &mut sc);
        assert_eq!(
            sc,
            json!({"metadata": {"name": "local"}, "provisioner": "rancher.io/local-path",
                "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
        );
    }
}
