//! Discovery over the built-in resources and the CRD-served ones together.

use super::registry::CrdTable;
use rkube_api::resources::{self, ResourceInfo};

/// Every served group with its versions (preferred first): the built-in groups, then the
/// groups CRDs add (a CRD version in a built-in group joins that group).
pub fn groups(table: &CrdTable) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out = resources::groups();
    for (group, versions) in table.groups() {
        match out.iter_mut().find(|(g, _)| *g == group) {
            Some((_, known)) => {
                for v in versions {
                    if !known.contains(&v) {
                        known.push(v);
                    }
                }
            }
            None => out.push((group, versions)),
        }
    }
    out
}

/// The resources of one group version: built-ins, then CRD-served ones.
pub fn in_group_version(
    table: &CrdTable,
    group: &str,
    version: &str,
) -> Vec<&'static ResourceInfo> {
    resources::in_group_version(group, version)
        .chain(
            table
                .all()
                .into_iter()
                .map(|v| &v.info)
                .filter(|i| i.group == group && i.version == version),
        )
        .collect()
}
