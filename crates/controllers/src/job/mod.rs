//! The Job controller, as upstream's: runs a Job's pods to completion.
//!
//! Watches Jobs and pods; every change enqueues the Job's key and the reconcile
//! ([`controller`]) re-reads the cache, plans with the pure [`sync::plan`] and acts:
//! deletes and creates pods (guarded by expectations), records finished pods in
//! `status.uncountedTerminatedPods` before releasing their `batch.kubernetes.io/job-tracking`
//! finalizer, then moves them into the counters and, once nothing is left to count or
//! terminating, adds Complete or Failed.
//!
//! - [`indexes`]: completion indexes and `completedIndexes` intervals;
//! - [`failure_policy`]: `podFailurePolicy` rules;
//! - [`backoff`]: the replacement delay after failures;
//! - [`conditions`]: condition types, reasons and messages;
//! - [`pods`]: pod predicates and templates.

pub mod backoff;
pub mod conditions;
mod controller;
pub mod failure_policy;
pub mod indexes;
pub mod pods;
pub mod sync;

pub use controller::{COMPONENT, run, run_with_clock};

#[cfg(test)]
mod sync_tests;
