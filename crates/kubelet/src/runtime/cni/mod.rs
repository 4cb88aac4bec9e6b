//! The node's pod network: the CNI conflist CRI reads ([`CniNetwork`]: bridge + host-local
//! over the node's pod CIDR + portmap + loopback) and the egress masquerade rule for traffic
//! leaving the cluster CIDR ([`EgressMasquerade`]).

mod cidr;
mod conflist;
mod error;
mod masquerade;

pub use cidr::Ipv4Cidr;
pub use conflist::CniNetwork;
pub use error::CniError;
pub use masquerade::EgressMasquerade;
