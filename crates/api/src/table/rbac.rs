//! The `rbac.authorization.k8s.io` group: role bindings and cluster role bindings. Roles and
//! cluster roles have no printer upstream and get the default NAME / CREATED AT table.

use jiff::Timestamp;
use serde_json::Value;

use super::types::TableRow;
use super::util::{AGE, NAME, Printer, age, arr_at, col, name, s, str_at, wide};

/// The printer of an `rbac.authorization.k8s.io` resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "rolebindings" => &ROLE_BINDINGS,
        "clusterrolebindings" => &CLUSTER_ROLE_BINDINGS,
        _ => return None,
    })
}

static ROLE_BINDINGS: Printer = Printer {
    columns: &[
        NAME,
        col("Role", "string", "The role granted, as Kind/name."),
        AGE,
        wide("Users", "string", "Users the role is granted to."),
        wide("Groups", "string", "Groups the role is granted to."),
        wide(
            "ServiceAccounts",
            "string",
            "Service accounts the role is granted to.",
        ),
    ],
    row: binding_row,
    order: None,
};

static CLUSTER_ROLE_BINDINGS: Printer = Printer {
    columns: &[
        NAME,
        col("Role", "string", "The cluster role granted, as Kind/name."),
        AGE,
        wide("Users", "string", "Users the cluster role is granted to."),
        wide("Groups", "string", "Groups the cluster role is granted to."),
        wide(
            "ServiceAccounts",
            "string",
            "Service accounts the cluster role is granted to.",
        ),
    ],
    row: binding_row,
    order: None,
};

fn binding_row(binding: &Value, now: Timestamp) -> TableRow {
    let role = format!(
        "{}/{}",
        str_at(binding, &["roleRef", "kind"]),
        str_at(binding, &["roleRef", "name"])
    );
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in arr_at(binding, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "User" => users.push(subject_name.to_owned()),
            "Group" => groups.push(subject_name.to_owned()),
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{subject_name}",
                str_at(subject, &["namespace"])
            )),
            // Other kinds are not shown.
            _ => {}
        }
    }
    TableRow::new(vec![
        name(binding),
        s(role),
        age(binding, now),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(service_accounts.join(", ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_role_binding_cells() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let rb = json!({"metadata": {"name": "admins", "creationTimestamp": "2024-05-01T10:30:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "system:masters"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]});
        assert_eq!(
            json!((ROLE_BINDINGS.row)(&rb, now).cells),
            json!([
                "admins",
                "ClusterRole/admin",
                "90m",
                "alice, bob",
                "system:masters",
                "build/ci"
            ])
        );
        let empty = json!({"metadata": {"name": "x", "creationTimestamp": "2024-05-01T10:30:00Z"},
                           "roleRef": {"kind": "Role", "name": "r"}});
        assert_eq!(
            json!((CLUSTER_ROLE_BINDINGS.row)(&empty, now).cells),
            json!(["x", "Role/r", "90m", "", "", ""])
        );
    }
}
