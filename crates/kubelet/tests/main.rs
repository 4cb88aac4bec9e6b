//! The crate's integration tests, one module per file, linked into one test binary: one
//! link of the dependency graph instead of one per file keeps CI's disk use and link time
//! small.

mod common;
mod features;
mod housekeeping;
mod pods;
mod portforward;
mod probes;
mod registry;
mod runtime;
mod service_account_token;
mod stats;
mod streams;
