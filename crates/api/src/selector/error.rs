//! The one error type of the selector module.

/// Why a label or field selector was rejected.
///
/// Every variant displays the exact message the Kubernetes apiserver (v1.33) gives for the same
/// input, so it can be returned verbatim in a `400 BadRequest` `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string does not parse, or a requirement in it (or in a
    /// `metav1.LabelSelector`) is invalid, e.g.
    /// `unable to parse requirement: <nil>: Invalid value: "a b": ...`.
    #[error("{0}")]
    InvalidLabelSelector(String),
    /// The field selector string does not parse, e.g.
    /// `invalid selector: 'a'; can't understand 'a'`.
    #[error("{0}")]
    InvalidFieldSelector(String),
    /// The field selector names a field the resource cannot be selected by, e.g.
    /// `field label not supported: spec.foo`.
    #[error("{message}")]
    UnsupportedFieldLabel {
        /// The field label as the client sent it.
        label: String,
        /// Upstream's message for this resource (the wording differs between kinds).
        message: String,
    },
}
