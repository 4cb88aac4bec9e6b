//! The conformance suite on the etcd backend, each case on a fresh single-member etcd.

mod conformance;

use rkube_store::Store;
use rkube_store::etcd::{EtcdConfig, EtcdStore};
use rkube_testkit::EtcdCluster;
use std::sync::Arc;

async fn fresh_store() -> (Arc<dyn Store>, EtcdCluster) {
    let cluster = EtcdCluster::start(1).await.expect("start etcd");
    let store = EtcdStore::connect(EtcdConfig::new(cluster.endpoints()))
        .await
        .expect("connect to etcd");
    (Arc::new(store), cluster)
}

conformance::conformance_tests!(fresh_store);
