//! What every apiserver-client component (scheduler, controller manager, …) shares: leader
//! election on a `coordination.k8s.io/v1` Lease ([`leader`]) and a bounded background Event
//! writer ([`events`]). Depends on `rkube-api` at most, never on another component.

pub mod events;
pub mod leader;
