//! Lists served from the watch cache's copy of every object: `resourceVersion=0` ("any
//! revision will do", what informers send first), as upstream's watch cache serves them.

use super::{ListOptions, Registry, decode_at, list_prefix};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use serde_json::Value;

impl Registry {
    /// A `resourceVersion=0` list ("any revision will do", what informers send first) from
    /// the watch cache: every matching object, no paging, as upstream serves it; `None` when
    /// the cache cannot serve it.
    pub(super) async fn list_from_cache(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        sink: &mut (dyn FnMut(Value) -> Result<(), ApiError> + Send),
    ) -> Result<Option<super::ListSummary>, ApiError> {
        let prefix = list_prefix(info, namespace);
        let Ok(Some((objects, revision))) =
            self.watch_cache.list(&info.storage_prefix(), &prefix).await
        else {
            return Ok(None);
        };
        for (bytes, rev) in objects {
            let obj = decode_at(&bytes, rev)?;
            if opts.filter.as_ref().is_none_or(|f| f(&obj)) {
                sink(obj)?;
            }
        }
        Ok(Some(super::ListSummary {
            resource_version: revision,
            continue_token: None,
        }))
    }
}
