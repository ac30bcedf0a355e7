//! The public error of the SDK: the categories of DESIGN §1, the same in every language.
//!
//! Every category carries a stable [`ReasonCode`] (for apps to translate) and an English
//! message; secrets never appear in either.

use std::time::Duration;

use selfcare_core::ReasonCode;
use selfcare_storage::ports::{NextAction, PortError};
use selfcare_storage::{ConflictKind, StoreError};

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnauthenticatedKind {
    /// Unknown e-mail, wrong password, wrong second factor: always the same answer (AUTH-1).
    InvalidCredentials,
    /// The session ended (idle or absolute expiry, logout, password change) (AUTH-4).
    SessionExpired,
    /// The organisation requires a second factor and the user has none yet (AUTH-6).
    SecondFactorEnrolmentRequired,
}

/// Everything a use case can refuse or fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input is malformed or breaks a rule about its value.
    #[error("{field}: {message}")]
    Validation {
        /// Dotted path of the offending field.
        field: String,
        /// Why.
        reason: ReasonCode,
        /// English explanation.
        message: String,
    },
    /// The caller is not (or no longer) authenticated.
    #[error("not authenticated: {kind:?}")]
    Unauthenticated {
        /// Why.
        kind: UnauthenticatedKind,
    },
    /// The actor's role or channel does not allow the action.
    #[error("permission denied: {}", reason.text())]
    PermissionDenied {
        /// The policy's reason.
        reason: ReasonCode,
    },
    /// The target does not exist or is not visible to the actor (another organisation's data
    /// looks exactly like this, USR-5).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state (a stale version, a duplicate, an illegal
    /// transition, an idempotency key reused for another request).
    #[error("conflict: {}", reason.text())]
    Conflict {
        /// What conflicts.
        reason: ReasonCode,
    },
    /// A field that cannot be changed through this channel (ACC-1, ADDR-4).
    #[error("{field} cannot be changed here: {message}")]
    ImmutableField {
        /// Dotted path of the field.
        field: String,
        /// Why.
        reason: ReasonCode,
        /// English explanation (e.g. "contact support").
        message: String,
    },
    /// Too many attempts: try again after `retry_after` (AUTH-3, ORD-4).
    #[error("too many attempts, retry after {} s", retry_after.as_secs())]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The payment gateway declined the charge; nothing was ordered.
    #[error("payment declined: {reason}")]
    PaymentDeclined {
        /// The gateway's reason, for the customer.
        reason: String,
    },
    /// The charge needs the customer's action (3-D Secure); retry with the same key afterwards.
    #[error("payment needs the customer's action")]
    PaymentActionRequired {
        /// What the customer must do.
        next_action: NextAction,
    },
    /// A store or service is unavailable; retrying the same request is safe.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why, for logs.
        reason: String,
    },
    /// A defect; the request may or may not have taken effect.
    #[error("internal error")]
    Internal,
}

/// The result type of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable reason code of this error, for every category.
    pub fn reason(&self) -> ReasonCode {
        match self {
            Error::Validation { reason, .. }
            | Error::PermissionDenied { reason }
            | Error::Conflict { reason }
            | Error::ImmutableField { reason, .. } => *reason,
            Error::Unauthenticated { kind } => match kind {
                UnauthenticatedKind::InvalidCredentials => ReasonCode::InvalidCredentials,
                UnauthenticatedKind::SessionExpired => ReasonCode::SessionExpired,
                UnauthenticatedKind::SecondFactorEnrolmentRequired => {
                    ReasonCode::SecondFactorEnrolmentRequired
                }
            },
            Error::NotFound => ReasonCode::NotFound,
            Error::Throttled { .. } => ReasonCode::TooManyAttempts,
            Error::PaymentDeclined { .. } => ReasonCode::PaymentDeclined,
            Error::PaymentActionRequired { .. } => ReasonCode::PaymentActionRequired,
            Error::Unavailable { .. } => ReasonCode::ServiceUnavailable,
            Error::Internal => ReasonCode::InternalError,
        }
    }

    pub(crate) fn unauthenticated(kind: UnauthenticatedKind) -> Self {
        Error::Unauthenticated { kind }
    }
}

impl From<selfcare_core::Error> for Error {
    fn from(e: selfcare_core::Error) -> Self {
        use selfcare_core::Error as Core;
        match e {
            Core::Validation {
                field,
                reason,
                message,
            } => Error::Validation {
                field,
                reason,
                message,
            },
            Core::ImmutableField {
                field,
                reason,
                message,
            } => Error::ImmutableField {
                field,
                reason,
                message,
            },
            // Core has no authentication category: these reasons are decided there and are
            // authentication outcomes here (DESIGN §1).
            Core::PermissionDenied {
                reason: ReasonCode::SecondFactorEnrolmentRequired,
            } => Error::unauthenticated(UnauthenticatedKind::SecondFactorEnrolmentRequired),
            Core::PermissionDenied {
                reason: ReasonCode::SessionIdleTimeout | ReasonCode::SessionAbsoluteTimeout,
            } => Error::unauthenticated(UnauthenticatedKind::SessionExpired),
            Core::PermissionDenied { reason } => Error::PermissionDenied { reason },
            Core::NotFound => Error::NotFound,
            Core::Conflict { reason } => Error::Conflict { reason },
            Core::Throttled { retry_after } => Error::Throttled { retry_after },
            // `core::Error` is non-exhaustive; a category added there must be mapped here.
            _ => Error::Internal,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(ConflictKind::StaleVersion) => Error::Conflict {
                reason: ReasonCode::StaleVersion,
            },
            StoreError::Conflict(_) => Error::Conflict {
                reason: ReasonCode::AlreadyExists,
            },
            StoreError::Retryable { reason } | StoreError::Unavailable { reason } => {
                Error::Unavailable { reason }
            }
            StoreError::InvalidInput { what } => Error::Validation {
                field: what.to_owned(),
                reason: ReasonCode::InvalidFormat,
                message: format!("{what} is not valid"),
            },
            _ => Error::Internal,
        }
    }
}

impl From<PortError> for Error {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Unavailable { reason } | PortError::Rejected { reason } => {
                Error::Unavailable { reason }
            }
            PortError::Timeout => Error::Unavailable {
                reason: "a service did not answer in time".to_owned(),
            },
            _ => Error::Unavailable {
                reason: "a service failed".to_owned(),
            },
        }
    }
}
