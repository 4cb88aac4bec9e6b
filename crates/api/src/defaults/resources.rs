//! Quantities as upstream stores them: resource lists rounded up to milli precision, and every
//! quantity in canonical form (`0.5` → `500m`, `1024Mi` → `1Gi`).

use crate::validation::quantity::{canonicalize, canonicalize_resource};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// Rounds every quantity of a resource list up to milli precision and canonicalizes it
/// (upstream's `SetDefaults_ResourceList` plus quantity encoding).
pub fn resource_list(list: &mut Option<BTreeMap<String, Quantity>>) {
    for q in list.iter_mut().flat_map(|m| m.values_mut()) {
        q.0 = canonicalize_resource(&q.0);
    }
}

/// Canonicalizes one quantity (no rounding beyond nano).
pub fn quantity(q: &mut Option<Quantity>) {
    if let Some(q) = q {
        q.0 = canonicalize(&q.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_single_quantities() {
        let mut list = Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("0.5".into())),
            ("memory".to_string(), Quantity("1024Mi".into())),
            ("example.com/x".to_string(), Quantity("0.00001".into())),
            ("bad".to_string(), Quantity("abc".into())),
        ]));
        resource_list(&mut list);
        let list = list.unwrap();
        assert_eq!(list["cpu"].0, "500m");
        assert_eq!(list["memory"].0, "1Gi");
        assert_eq!(list["example.com/x"].0, "1m");
        assert_eq!(list["bad"].0, "abc");
        let mut q = Some(Quantity("0.00001".into()));
        quantity(&mut q);
        assert_eq!(q.unwrap().0, "10u");
    }
}
