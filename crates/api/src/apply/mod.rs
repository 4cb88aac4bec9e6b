//! Server-side apply and `managedFields`, after upstream's structured-merge-diff: field sets
//! and their `FieldsV1` encoding ([`set`]), an object's fields and changes by the built-in
//! types' list semantics ([`walk`]), merging an applied configuration and pruning what its
//! applier dropped ([`merge`]), and the ownership bookkeeping of updates and applies with
//! conflict detection ([`managers`]). Pure functions over JSON objects.

pub mod managers;
pub mod merge;
pub mod set;
mod sorted_map;
pub mod update;
pub mod walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod update_tests;

pub use managers::{Conflict, Entry, ManagedFields, Operation, Write, conflict_error};
pub use set::{FieldSet, PathElement};
pub use update::record_update;
