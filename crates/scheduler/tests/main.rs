//! The crate's integration tests, one module per file, linked into one test binary: one
//! link of the dependency graph instead of one per file keeps CI's disk use and link time
//! small.

mod common;
mod constraints;
mod leader;
mod preemption;
mod scheduling;
