//! The apiserver: the Kubernetes REST API over the store, and the only component that
//! touches the store.

pub mod admission;
pub mod authn;
pub mod crd;
pub mod handlers;
pub mod inflight;
pub mod join;
pub mod loopback;
pub mod openapi;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod serve;
pub mod server;
pub mod serviceaccount;
