//! Lists served from the watch cache's copy of every object: `resourceVersion=0` ("any
//! revision will do", what informers send first), as upstream's watch cache serves them.

use super::list::Visit;
use super::{ListSummary, Registry, list_prefix};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;

impl Registry {
    /// A `resourceVersion=0` list ("any revision will do", what informers send first) from
    /// the watch cache: `visit` gets every object (its stored bytes and mod revision) — no
    /// paging, as upstream serves it; `None`, before any object, when the cache cannot serve
    /// it.
    pub(super) async fn list_from_cache(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        visit: &mut Visit<'_>,
    ) -> Result<Option<ListSummary>, ApiError> {
        let prefix = list_prefix(info, namespace);
        let Ok(Some((objects, revision))) =
            self.watch_cache.list(&info.storage_prefix(), &prefix).await
        else {
            return Ok(None);
        };
        for (bytes, rev) in objects {
            visit(&bytes, rev)?;
        }
        Ok(Some(ListSummary {
            resource_version: revision,
            continue_token: None,
        }))
    }
}
