//! `Portal::open`: a portal on the embedded SQLite store (feature `sqlite`, on by default) or,
//! with a `postgres://` URL, on PostgreSQL (arrives with the PostgreSQL store).

use std::sync::Arc;

use selfcare_core::ReasonCode;
use selfcare_sqlite::{OpenError, SqliteStore};

use crate::error::{Error, Result};
use crate::{Portal, PortalConfig, Ports};

impl Portal {
    /// Opens a portal on `path_or_url`: a file path opens (creating it when absent) the
    /// embedded SQLite store and brings its schema up to date; a `postgres://` or
    /// `postgresql://` URL is reserved for the PostgreSQL store.
    ///
    /// ```no_run
    /// # async fn demo(config: selfcare::PortalConfig) -> selfcare::Result<()> {
    /// use selfcare::{Portal, Ports};
    /// let portal = Portal::open("portal.db", Ports::development(), config).await?;
    /// # let _ = portal; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Validation` on `path` for a file that is not a selfcare store
    /// (`not_a_selfcare_store`) or was written by a newer version (`store_schema_too_new`);
    /// `Unavailable` naming the file when it is locked, corrupt, or cannot be read or written,
    /// and for a PostgreSQL URL in a build without the PostgreSQL store.
    pub async fn open(path_or_url: &str, ports: Ports, config: PortalConfig) -> Result<Portal> {
        let lower = path_or_url.trim_start().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Err(Error::Unavailable {
                reason: "PostgreSQL URLs open the PostgreSQL store, which this build does not \
                         contain yet"
                    .to_owned(),
            });
        }
        let store = SqliteStore::open(path_or_url).await.map_err(open_error)?;
        Portal::with_store(Arc::new(store), ports, config)
    }
}

fn open_error(e: OpenError) -> Error {
    let message = e.to_string();
    match e {
        OpenError::NotASelfcareStore { .. } => Error::Validation {
            field: "path".to_owned(),
            reason: ReasonCode::NotASelfcareStore,
            message,
        },
        OpenError::NewerSchema { .. } => Error::Validation {
            field: "path".to_owned(),
            reason: ReasonCode::StoreSchemaTooNew,
            message,
        },
        _ => Error::Unavailable { reason: message },
    }
}
