//! The node's container runtime layer: a private, supervised containerd speaking CRI
//! ([`containerd`]), the images the node needs without a registry ([`images`]: the pause image,
//! busybox test images, airgap tarballs) and the pod network configuration ([`cni`]).
//!
//! The settings used here are the ones verified on these machines (see `shared/RUNTIME.md`):
//! cgroupfs v1, `restrict_oom_score_adj`, a per-instance runc root, overlayfs, and the
//! distribution's CNI plugins (bridge, host-local, portmap, loopback).

pub mod cni;
pub mod command;
pub mod containerd;
pub mod images;
