//! Errors: opening a store, and PostgreSQL's answers mapped onto [`StoreError`].

use selfcare_storage::StoreError;

/// Why a PostgreSQL store could not be opened. Messages name the server
/// (`host:port/database`), never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL is not a PostgreSQL connection URL.
    #[error("not a valid postgres:// URL")]
    BadUrl,
    /// The server could not be reached, refused the login, or did not answer in time.
    #[error("{server}: cannot connect: {reason}")]
    Connect {
        /// `host:port/database`.
        server: String,
        /// The driver's reason.
        reason: String,
    },
    /// The schema holds tables that are not a selfcare store's.
    #[error("{server}: not a selfcare store: {reason}")]
    NotASelfcareStore {
        /// `host:port/database`.
        server: String,
        /// What was found.
        reason: String,
    },
    /// The schema was written by a newer version of selfcare; this version must not touch it.
    #[error(
        "{server}: schema version {found} is newer than this version of selfcare knows ({known})"
    )]
    NewerSchema {
        /// `host:port/database`.
        server: String,
        /// The schema's version.
        found: i32,
        /// The newest version this code knows.
        known: i32,
    },
    /// The schema is older than this code and the store was opened without migrating.
    #[error(
        "{server}: schema version {found} is older than this version of selfcare needs ({known}); run the migrations as the role that owns the schema"
    )]
    Outdated {
        /// `host:port/database`.
        server: String,
        /// The schema's version.
        found: i32,
        /// The version this code needs.
        known: i32,
    },
    /// A migration failed (and was rolled back).
    #[error("{server}: migration to version {version} failed: {reason}")]
    Migration {
        /// `host:port/database`.
        server: String,
        /// The version it was to bring.
        version: i32,
        /// The server's reason.
        reason: String,
    },
}

impl OpenError {
    pub(crate) fn connect(server: &str, e: &sqlx::Error) -> Self {
        OpenError::Connect {
            server: server.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// The SQLSTATE of a database error.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// A failed statement: a serialization failure or deadlock is `Retryable` (the sdk re-runs
/// the use case); a lost connection, a terminated backend, a server shutting down, a pool
/// without a free connection in time are `Unavailable`; anything else `Internal`. Constraint
/// violations are mapped by the caller, which knows what was unique ([`unique_violation`]).
pub(crate) fn sql(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "40001" => StoreError::Retryable {
                    reason: "a serialization failure".into(),
                },
                "40P01" => StoreError::Retryable {
                    reason: "a deadlock".into(),
                },
                // Connection exceptions, operator intervention (terminated backend, shutdown),
                // insufficient resources, system errors.
                c if c.starts_with("08")
                    || c.starts_with("57")
                    || c.starts_with("53")
                    || c.starts_with("58") =>
                {
                    StoreError::Unavailable {
                        reason: format!("the database server: {}", d.message()),
                    }
                }
                _ => StoreError::Internal {
                    reason: format!("the database refused a statement ({code}): {}", d.message()),
                },
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable {
            reason: format!("the database connection: {e}"),
        },
        _ => StoreError::Internal {
            reason: format!("the database driver: {e}"),
        },
    }
}

/// The constraint a UNIQUE or PRIMARY KEY violation (23505) names, if `e` is one.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e.as_database_error() {
        Some(d) if d.code().as_deref() == Some("23505") => {
            Some(d.constraint().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

/// Whether `e` is a FOREIGN KEY violation (23503): a row naming a parent this organisation
/// lacks.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("23503")
}
