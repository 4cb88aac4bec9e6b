//! What every apiserver-client component (scheduler, controller manager, …) shares: leader
//! election on a `coordination.k8s.io/v1` Lease ([`leader`]), a bounded background Event
//! writer ([`events`]) and the tuning of the binaries' allocator ([`allocator`]). Depends on
//! `rkube-api` at most, never on another component.

pub mod allocator;
pub mod events;
pub mod leader;
