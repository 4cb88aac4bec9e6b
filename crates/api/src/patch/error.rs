//! Why a patch was refused.

/// A patch that could not be applied. The apiserver answers [`PatchError::Malformed`] with 400
/// and [`PatchError::DoesNotApply`] with 422, as upstream does for the same failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is not the shape its type requires (not a list of operations, a
    /// directive with the wrong type, …).
    #[error("{0}")]
    Malformed(String),
    /// The patch is well formed but cannot be applied to this object (a path that does not
    /// exist, a failed `test`, a list item without its merge key, …).
    #[error("{0}")]
    DoesNotApply(String),
    /// A JSON patch with more operations than the server accepts.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit.
        max: usize,
        /// Operations in the patch.
        got: usize,
    },
}

impl PatchError {
    pub(crate) fn malformed(message: impl Into<String>) -> PatchError {
        PatchError::Malformed(message.into())
    }

    pub(crate) fn does_not_apply(message: impl Into<String>) -> PatchError {
        PatchError::DoesNotApply(message.into())
    }
}
