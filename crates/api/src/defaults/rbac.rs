//! Defaults of `rbac.authorization.k8s.io/v1`: the API group of role references and subjects.

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};

/// The RBAC API group.
pub const GROUP: &str = "rbac.authorization.k8s.io";

fn role_ref(r: &mut RoleRef) {
    if r.api_group.is_empty() {
        r.api_group = GROUP.to_string();
    }
}

fn subject(s: &mut Subject) {
    if s.api_group.as_deref().unwrap_or("").is_empty() {
        match s.kind.as_str() {
            "ServiceAccount" => s.api_group = Some(String::new()),
            "User" | "Group" => s.api_group = Some(GROUP.to_string()),
            _ => {}
        }
    }
}

/// RoleBinding: roleRef and User/Group subjects in the RBAC group.
pub fn default_role_binding(rb: &mut RoleBinding) {
    role_ref(&mut rb.role_ref);
    for s in rb.subjects.iter_mut().flatten() {
        subject(s);
    }
}

/// ClusterRoleBinding: roleRef and User/Group subjects in the RBAC group.
pub fn default_cluster_role_binding(crb: &mut ClusterRoleBinding) {
    role_ref(&mut crb.role_ref);
    for s in crb.subjects.iter_mut().flatten() {
        subject(s);
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn binding_groups() {
        let mut rb = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "d"},
                {"kind": "Group", "name": "devs", "apiGroup": "custom.io"}]});
        apply("rbac.authorization.k8s.io", "RoleBinding", &mut rb);
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "");
        assert_eq!(rb["subjects"][2]["apiGroup"], "custom.io");
        let mut crb = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}});
        apply("rbac.authorization.k8s.io", "ClusterRoleBinding", &mut crb);
        assert_eq!(crb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    }
}
