//! The crate's integration tests, one module per file, linked into one test binary: one
//! link of the dependency graph instead of one per file keeps CI's disk use and link time
//! small.

mod admission_plugins;
mod api_versions;
mod bad_input;
mod common;
mod consistent_lists;
mod crd;
mod delete_propagation;
mod dry_run;
mod kube_client;
mod kubectl_describe;
mod kubectl_e2e;
mod kubectl_protobuf;
mod limit_ranges_and_quota;
mod list_items;
mod loopback;
mod openapi_kubectl;
mod patch;
mod priority_classes;
mod python_client;
mod request_options;
mod server_side_apply;
mod service_account_tokens;
mod serving;
mod write_responses;
