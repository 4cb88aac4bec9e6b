//! What admission reads on every pod create — the namespace, the service account, the
//! PriorityClasses, the namespace's LimitRanges and ResourceQuotas — as of the latest
//! revision, decoded once per stored version of each object rather than once per request:
//! upstream's admission plugins read these from informer caches, and decoding them again for
//! every create was ~8 % of a pod create's CPU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use rkube_store::Revision;
use serde_json::Value;

use super::{ListOptions, Registry, decode_at};

/// How many decoded objects are kept; all are forgotten when full (admission reads a few
/// objects per namespace, so this is only reached with thousands of namespaces).
const CAPACITY: usize = 4096;

/// Decoded objects by the revision that wrote them, with the bytes they were decoded from: an
/// entry serves a read only of the very same bytes, so it can never hand out anything but what
/// decoding would.
#[derive(Default)]
pub(super) struct DecodedObjects(Mutex<HashMap<Revision, Decoded>>);

/// One cached object and the bytes it was decoded from.
struct Decoded {
    bytes: Box<[u8]>,
    object: Arc<Value>,
}

impl DecodedObjects {
    /// `bytes` (stored at `revision`) decoded, from the cache when it decoded them before.
    fn decode(&self, bytes: &[u8], revision: Revision) -> Result<Arc<Value>, ApiError> {
        if let Ok(cache) = self.0.lock()
            && let Some(cached) = cache.get(&revision)
            && *cached.bytes == *bytes
        {
            return Ok(cached.object.clone());
        }
        let obj = Arc::new(decode_at(bytes, revision)?);
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            let cached = Decoded {
                bytes: bytes.into(),
                object: obj.clone(),
            };
            cache.insert(revision, cached);
        }
        Ok(obj)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Registry {
    /// [`Registry::get`] for admission's own reads: the latest version of the object (see
    /// [`Registry::get_current_stored`]), shared.
    pub(crate) async fn get_current(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        match self.get_current_stored(info, namespace, name).await? {
            Some((bytes, revision)) => self.decoded.decode(&bytes, revision),
            None => self.get(info, namespace, name).await.map(Arc::new),
        }
    }

    /// Every object of `info` (in `namespace`) at the latest revision, shared.
    pub(crate) async fn list_current(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
    ) -> Result<Vec<Arc<Value>>, ApiError> {
        let mut items = Vec::new();
        self.list_each_raw(
            info,
            namespace,
            &ListOptions::default(),
            &mut |bytes, rev| {
                items.push(self.decoded.decode(bytes, rev)?);
                Ok(())
            },
        )
        .await?;
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[test]
    fn a_cached_object_serves_only_the_same_bytes() {
        let cache = DecodedObjects::default();
        let a = stored(&serde_json::json!({"metadata": {"name": "a"}}));
        let first = cache.decode(&a, 7).unwrap();
        assert_eq!(first["metadata"]["resourceVersion"], "7");
        // The same write again: the same decoded object.
        assert!(Arc::ptr_eq(&first, &cache.decode(&a, 7).unwrap()));
        // Other bytes under the same revision (another store, a restore): decoded anew.
        let b = stored(&serde_json::json!({"metadata": {"name": "b"}}));
        let other = cache.decode(&b, 7).unwrap();
        assert_eq!(other["metadata"]["name"], "b");
        assert!(cache.decode(b"not json", 8).is_err());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_forgets_everything_when_full() {
        let cache = DecodedObjects::default();
        let a = stored(&serde_json::json!({}));
        for rev in 0..CAPACITY as Revision {
            cache.decode(&a, rev).unwrap();
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.decode(&a, -1).unwrap();
        assert_eq!(cache.len(), 1);
    }
}
