//! The conformance suite on the embedded SQLite backend.

mod conformance;

use rkube_store::Store;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use std::sync::Arc;

async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(EmbeddedOptions::new(dir.path()))
        .await
        .expect("open embedded store");
    (Arc::new(store), dir)
}

conformance::conformance_tests!(fresh_store);
