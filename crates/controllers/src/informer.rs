//! An informer as client-go's: a list-watch of one kind kept in a reflector [`Store`], with a
//! handler told of every change (added, updated with the old object, deleted). Handlers only
//! enqueue keys; controllers read the store when they reconcile.
//!
//! After a relist (the watch restarted), objects that vanished while the watch was down are
//! reported as deleted and the others as updated, so expectations and owners catch up.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{ObjectRef, Store, store};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

/// One change the informer saw.
#[derive(Debug)]
pub enum Change<K> {
    /// A new object.
    Added(Arc<K>),
    /// An object changed (`old` is what the store held before).
    Updated {
        /// Before.
        old: Arc<K>,
        /// After.
        new: Arc<K>,
    },
    /// An object is gone (its last known state).
    Deleted(Arc<K>),
}

/// The watch task of an informer: stops when dropped (so a controller's informers stop with
/// the controller's future).
pub struct WatchTask(tokio::task::JoinHandle<()>);

impl Drop for WatchTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts list-watching `api` with `config`, calling `handler` for each change. Returns the
/// store (wait for [`Store::wait_until_ready`] before trusting it) and the watch task (keep it
/// alive as long as the store is used; dropping it stops the watch).
pub fn spawn<K, H>(api: Api<K>, config: watcher::Config, handler: H) -> (Store<K>, WatchTask)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
    H: Fn(Change<K>) + Send + Sync + 'static,
{
    let (reader, mut writer) = store::<K>();
    let store = reader.clone();
    let task = tokio::spawn(async move {
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        // The store's contents when a relist began, to tell what vanished meanwhile.
        let mut before_relist: Option<HashMap<ObjectRef<K>, Arc<K>>> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!(error = %e, "watch failed; retrying");
                    continue;
                }
            };
            match &event {
                Event::Apply(obj) => {
                    let old = reader.get(&ObjectRef::from_obj(obj));
                    writer.apply_watcher_event(&event);
                    let new = Arc::new(obj.clone());
                    handler(match old {
                        Some(old) => Change::Updated { old, new },
                        None => Change::Added(new),
                    });
                }
                Event::Delete(obj) => {
                    let last = reader
                        .get(&ObjectRef::from_obj(obj))
                        .unwrap_or_else(|| Arc::new(obj.clone()));
                    writer.apply_watcher_event(&event);
                    handler(Change::Deleted(last));
                }
                Event::Init => {
                    before_relist = Some(
                        reader
                            .state()
                            .into_iter()
                            .map(|o| (ObjectRef::from_obj(&*o), o))
                            .collect(),
                    );
                    writer.apply_watcher_event(&event);
                }
                Event::InitApply(_) => writer.apply_watcher_event(&event),
                Event::InitDone => {
                    writer.apply_watcher_event(&event);
                    let mut before = before_relist.take().unwrap_or_default();
                    for new in reader.state() {
                        match before.remove(&ObjectRef::from_obj(&*new)) {
                            Some(old) => handler(Change::Updated { old, new }),
                            None => handler(Change::Added(new)),
                        }
                    }
                    for (_, gone) in before {
                        handler(Change::Deleted(gone));
                    }
                }
            }
        }
    });
    (store, WatchTask(task))
}
