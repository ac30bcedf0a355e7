//! Errors: opening a file, and SQLite's answers mapped onto [`StoreError`].

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;
use selfcare_storage::StoreError;

/// Why a database file could not be opened as a store. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not a selfcare store (another application's database).
    #[error("{path}: not a selfcare store")]
    NotASelfcareStore {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer version of selfcare; this version must not touch it.
    #[error(
        "{path}: schema version {found} is newer than this version of selfcare knows ({known})"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this code knows.
        known: i64,
    },
    /// Another process holds the file's lock longer than the busy timeout.
    #[error("{path}: the database is locked by another process")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The file is damaged or not a database at all.
    #[error("{path}: the file is corrupt or not a database")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// The file or its directory cannot be read or written (permissions, missing directory,
    /// a read-only file system).
    #[error("{path}: cannot open: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        reason: String,
    },
}

impl OpenError {
    pub(crate) fn io(path: &Path, e: &rusqlite::Error) -> Self {
        OpenError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }

    /// The error of a statement run while opening.
    pub(crate) fn classify(path: &Path, e: &rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OpenError::Locked {
                path: path.to_path_buf(),
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => OpenError::Corrupt {
                path: path.to_path_buf(),
            },
            _ => OpenError::io(path, e),
        }
    }
}

/// A failed statement: a busy or locked database is `Retryable` (the sdk re-runs the use
/// case), a full disk or I/O failure `Unavailable`, a damaged file `Corrupt`, anything else
/// `Internal`. Constraint violations are mapped by the caller, which knows what was unique
/// ([`is_unique_violation`]).
pub(crate) fn sql(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Retryable {
            reason: "the database is busy".into(),
        },
        Some(
            ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied,
        ) => StoreError::Unavailable {
            reason: e.to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            what: "the database file".into(),
        },
        _ => StoreError::Internal {
            reason: e.to_string(),
        },
    }
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Whether `e` is a FOREIGN KEY violation (a row that names a parent this organisation lacks).
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}
