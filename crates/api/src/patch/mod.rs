//! Patches as Kubernetes applies them to an object: RFC 6902 JSON patch ([`json`]) and
//! Kubernetes' strategic merge patch ([`strategic`]) with the per-field strategies and merge
//! keys of the built-in types ([`schema`]). Pure functions from (object, patch) to a new object;
//! failures are [`PatchError`] values telling a malformed patch from one that does not apply.

mod error;
pub mod json;
mod pointer;
pub mod schema;
pub mod strategic;
mod strategies;

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod strategic_tests;

pub use error::PatchError;
