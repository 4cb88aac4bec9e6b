//! The node agent (kubelet): registers the node and keeps its status and lease fresh, runs the
//! pods bound to it through CRI (containerd + runc), and serves the kubelet HTTP API. A kube-rs
//! client of the apiserver, never of the store.

pub mod cri;
