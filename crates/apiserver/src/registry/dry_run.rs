//! `dryRun=All`: a write that runs every step — decoding, defaulting, admission, validation,
//! allocator checks — and stops where the store would be written, answering the object it
//! would have stored. Nothing is persisted, so no watch event follows, no quota is charged
//! and no ClusterIP or NodePort is held (as upstream's `DryRunnableStorage`).

use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use rkube_store::Revision;
use serde_json::Value;

use super::meta::{name, set_meta};
use super::{Registry, Written, store_error};

impl Registry {
    /// The end of a dry-run create: refused as the real one would be when the name is taken
    /// (upstream reads the key), else the object as admitted, without a resourceVersion.
    pub(super) async fn dry_run_create(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        warnings: Vec<String>,
    ) -> Result<Written, ApiError> {
        let key = info.storage_key(namespace, name(&obj));
        if self
            .store
            .get(&key, 0)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(ApiError::already_exists(info, name(&obj)));
        }
        set_meta(&mut obj, "resourceVersion", None);
        Ok(Written {
            object: obj,
            warnings,
            stored: None,
        })
    }
}

/// The answer of a dry-run update or delete: the would-be object at the revision it was
/// computed from (nothing newer was written).
pub(super) fn at_revision(mut obj: Value, revision: Revision, warnings: Vec<String>) -> Written {
    set_meta(
        &mut obj,
        "resourceVersion",
        Some(revision.to_string().into()),
    );
    Written {
        object: obj,
        warnings,
        stored: None,
    }
}
