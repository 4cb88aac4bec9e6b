//! The Kubernetes API as data, shared by the apiserver and every component: the table of
//! built-in resources, label and field selectors, patches (JSON, strategic merge), Table
//! printers, and `Status` errors.
//! Pure: no IO, no async runtime.

pub mod apply;
pub mod convert;
pub mod defaults;
pub mod node_token;
pub mod patch;
pub mod quota;
pub mod resources;
pub mod selector;
pub mod status;
pub mod table;
pub mod typed;
pub mod validation;
