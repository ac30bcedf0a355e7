//! The one error type of every store.

/// What kind of conflict a store reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ConflictKind {
    /// The row's version differs from the expected one (optimistic concurrency).
    StaleVersion,
    /// A row with the same key, or the same globally unique value, exists already.
    Duplicate {
        /// Which key or unique value (`login_email`, `iccid`, `order_number`, …).
        what: &'static str,
    },
    /// An audit entry does not continue the stored chain head.
    ChainMismatch,
}

/// Everything a store can report. The sdk maps each category onto the public error of
/// DESIGN §1; messages never carry secrets or personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist in this organisation.
    #[error("not found")]
    NotFound,
    /// A stale version, a duplicate key or a broken audit chain.
    #[error("conflict: {0:?}")]
    Conflict(ConflictKind),
    /// A transient failure (serialization failure, deadlock, busy database): re-running the
    /// whole use case is safe and expected.
    #[error("retryable: {reason}")]
    Retryable {
        /// Why, for logs.
        reason: String,
    },
    /// The store cannot be reached or answered with an I/O failure.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why, for logs.
        reason: String,
    },
    /// The caller passed a value the store cannot accept (a page limit out of range, a cursor
    /// it did not produce).
    #[error("invalid input: {what}")]
    InvalidInput {
        /// Which input.
        what: &'static str,
    },
    /// Stored data no longer parses into the domain types (a schema or data defect).
    #[error("corrupt data: {what}")]
    Corrupt {
        /// Which record.
        what: String,
    },
    /// A defect in the store itself.
    #[error("internal store error: {reason}")]
    Internal {
        /// Why, for logs.
        reason: String,
    },
}

impl StoreError {
    /// A stale-version conflict.
    pub const fn stale() -> Self {
        StoreError::Conflict(ConflictKind::StaleVersion)
    }

    /// A duplicate of the unique value `what`.
    pub const fn duplicate(what: &'static str) -> Self {
        StoreError::Conflict(ConflictKind::Duplicate { what })
    }

    /// Whether re-running the use case may succeed.
    pub const fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retryable { .. })
    }
}

/// The result type of the store traits.
pub type StoreResult<T> = Result<T, StoreError>;
