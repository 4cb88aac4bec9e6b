//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): the resources they serve, live.
//!
//! The CRD kind itself is a built-in resource (validated in `rkube_api::validation::
//! apiextensions`). This module owns what follows from CRD objects: the live table of served
//! custom resources ([`registry`]), the in-apiserver controller that accepts names, establishes
//! CRDs and cleans up deleted ones ([`controller`]), the schema's defaulting, pruning and
//! validation of custom objects ([`schema`], hooked into the generic registry by [`admit`]),
//! and the custom parts of serving them: discovery entries, printer columns, `/scale`.

pub mod admit;
pub mod conditions;
pub mod controller;
pub mod discovery;
pub mod openapi;
pub mod registry;
pub mod request;
pub mod scale;
pub mod schema;
pub mod table;

pub use registry::{CrdTable, CustomVersion, custom};
