//! Label and field selectors, as the Kubernetes apiserver parses, validates and matches them.
//!
//! - [`LabelSelector`]: `?labelSelector=` strings ([`parse_label_selector`]) and
//!   `metav1.LabelSelector` ([`LabelSelector::from_meta`]); matches label maps
//!   ([`LabelSelector::matches`]) or objects ([`LabelSelector::matches_object`]).
//! - [`FieldSelector`]: `?fieldSelector=` strings ([`parse_field_selector`]); checked against a
//!   resource's supported fields ([`FieldSelector::validate_for`]) and matched against objects
//!   ([`FieldSelector::matches_object`]) using the per-resource table in [`fields_by_kind`].
//!
//! Both print back to their canonical string (`Display`), which parses to an equal selector.
//! Errors are [`SelectorError`]s whose messages are upstream's, to be returned as `400 BadRequest`.

mod error;
mod field;
pub mod fields_by_kind;
mod label;
mod label_parser;
mod validation;

pub use error::SelectorError;
pub use field::{
    FieldOperator, FieldRequirement, FieldSelector, escape_field_value, parse_field_selector,
    unescape_field_value,
};
pub use fields_by_kind::{convert_field_label, field_value, supported_field_labels};
pub use label::{LabelSelector, Labels, Operator, Requirement, parse_label_selector};
pub use validation::{
    LABEL_KEY_NAME_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH, is_valid_label_key, is_valid_label_value,
    label_key_errors, label_value_errors,
};

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod fields_by_kind_tests;
#[cfg(test)]
mod label_tests;
