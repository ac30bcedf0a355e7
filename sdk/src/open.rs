//! `Portal::open`: a portal on the embedded SQLite store (feature `sqlite`, on by default) from
//! a file path, or on PostgreSQL (feature `postgres`) from a `postgres://` URL.

use std::sync::Arc;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use selfcare_core::ReasonCode;

use crate::error::{Error, Result};
use crate::{Portal, PortalConfig, Ports};

impl Portal {
    /// Opens a portal on `path_or_url`. A file path opens (creating it when absent) the
    /// embedded SQLite store; a `postgres://` or `postgresql://` URL connects to PostgreSQL
    /// with [`selfcare_postgres::PgConfig`]'s defaults (10 connections, 5 s to get one, 30 s
    /// per statement). Either way the schema is brought up to date. For other pool settings,
    /// or a service whose role owns no tables, open the store yourself and pass it to
    /// [`Portal::with_store`].
    ///
    /// ```no_run
    /// # async fn demo(config: selfcare::PortalConfig) -> selfcare::Result<()> {
    /// use selfcare::{Portal, Ports};
    /// let portal = Portal::open("portal.db", Ports::development(), config).await?;
    /// # let _ = portal; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Validation` (field `path` or `url`) for a database that is not a selfcare store
    /// (`not_a_selfcare_store`), one written by a newer version (`store_schema_too_new`), or
    /// a malformed URL (`invalid_store_url`); `Unavailable` naming the file or server when it
    /// is locked, corrupt, unreachable, refuses the login, or cannot be read or written, and
    /// for a kind of store this build does not contain.
    pub async fn open(path_or_url: &str, ports: Ports, config: PortalConfig) -> Result<Portal> {
        let lower = path_or_url.trim_start().to_ascii_lowercase();
        let store: Arc<dyn selfcare_storage::Store> =
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                open_postgres(path_or_url).await?
            } else {
                open_sqlite(path_or_url).await?
            };
        Portal::with_store(store, ports, config)
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &str) -> Result<Arc<dyn selfcare_storage::Store>> {
    use selfcare_sqlite::{OpenError, SqliteStore};
    let store = SqliteStore::open(path).await.map_err(|e| {
        let message = e.to_string();
        match e {
            OpenError::NotASelfcareStore { .. } => {
                invalid("path", ReasonCode::NotASelfcareStore, message)
            }
            OpenError::NewerSchema { .. } => {
                invalid("path", ReasonCode::StoreSchemaTooNew, message)
            }
            _ => Error::Unavailable { reason: message },
        }
    })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_path: &str) -> Result<Arc<dyn selfcare_storage::Store>> {
    Err(Error::Unavailable {
        reason: "file paths open the SQLite store, which this build does not contain \
                 (the sdk's feature `sqlite`)"
            .to_owned(),
    })
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn selfcare_storage::Store>> {
    use selfcare_postgres::{OpenError, PgConfig, PgStore};
    let store = PgStore::open(url, PgConfig::default()).await.map_err(|e| {
        let message = e.to_string();
        match e {
            OpenError::BadUrl => invalid("url", ReasonCode::InvalidStoreUrl, message),
            OpenError::NotASelfcareStore { .. } => {
                invalid("url", ReasonCode::NotASelfcareStore, message)
            }
            OpenError::NewerSchema { .. } => invalid("url", ReasonCode::StoreSchemaTooNew, message),
            _ => Error::Unavailable { reason: message },
        }
    })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> Result<Arc<dyn selfcare_storage::Store>> {
    Err(Error::Unavailable {
        reason: "postgres:// URLs open the PostgreSQL store, which this build does not contain \
                 (the sdk's feature `postgres`)"
            .to_owned(),
    })
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn invalid(field: &str, reason: ReasonCode, message: String) -> Error {
    Error::Validation {
        field: field.to_owned(),
        reason,
        message,
    }
}
