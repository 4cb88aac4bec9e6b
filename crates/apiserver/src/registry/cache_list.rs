//! Lists served from the watch cache's copy of every object: `resourceVersion=0` ("any
//! revision will do", what informers send first), as upstream's watch cache serves them, and
//! consistent lists without paging once the cache has caught up with the store.

use super::list::Visit;
use super::{ListSummary, Registry, list_prefix, store_error};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;

impl Registry {
    /// A `resourceVersion=0` list ("any revision will do", what informers send first) from
    /// the watch cache: `visit` gets every object (its stored bytes and mod revision) — no
    /// paging, as upstream serves it; `None`, before any object, when the cache cannot serve
    /// it.
    ///
    /// `consistent`: the list must reflect every write acknowledged before it (no
    /// `resourceVersion`): the cache answers only once it has caught up with the store's
    /// current revision.
    pub(super) async fn list_from_cache(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        consistent: bool,
        visit: &mut Visit<'_>,
    ) -> Result<Option<ListSummary>, ApiError> {
        let prefix = list_prefix(info, namespace);
        let resource_prefix = info.storage_prefix();
        let listed = if consistent {
            let current = self.store.current_revision().await.map_err(store_error)?;
            self.watch_cache
                .list_consistent(&resource_prefix, &prefix, current)
                .await
        } else {
            self.watch_cache.list(&resource_prefix, &prefix).await
        };
        let Ok(Some((objects, revision))) = listed else {
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
