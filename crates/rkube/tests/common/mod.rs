//! Shared harnesses of the binary's end-to-end tests.

pub mod cluster;
pub mod leftovers;
