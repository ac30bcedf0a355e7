//! # selfcare-sqlite
//!
//! The embedded default store of the selfcare SDK (DESIGN §3): a [`Store`] on bundled SQLite
//! through `rusqlite`; taking the write lock, commits and bulk work run on the blocking pool.
//!
//! - Opening runs the embedded migrations; a file written by a newer version, another
//!   application's database, a locked or corrupt file is an [`OpenError`] naming the file.
//! - WAL journal, `synchronous=FULL` (a commit survives a crash or power cut), foreign keys on,
//!   a busy timeout; write transactions start with `BEGIN IMMEDIATE`, so two writers never
//!   deadlock halfway: a busy database is `StoreError::Retryable` and the sdk re-runs the use
//!   case.
//! - One writer connection, held by a transaction from `BEGIN` to `COMMIT`; global lookups
//!   read through their own connections and see the last commit only.
//! - Every organisation-scoped table's key starts with the organisation id, and every scoped
//!   statement filters by the transaction's organisation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use selfcare_sqlite::SqliteStore;
//! use selfcare_storage::Store;
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open("portal.db").await?);
//! # let _ = store; Ok(()) }
//! ```

mod accounts;
mod addresses;
mod audit;
mod auth;
mod codec;
mod columns;
mod connection;
mod error;
mod orders;
mod outbox;
mod pages;
mod payments;
mod rows;
mod sims;
mod tickets;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use selfcare_core::ids::OrgId;
use selfcare_storage::{OrgTransaction, ProviderTransaction, Store, StoreResult};

use crate::connection::{Conn, Connections, migrate, open_connection};
pub use crate::error::OpenError;

/// A selfcare store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    connections: Arc<Connections>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.connections.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store in `path`, creating the file when it does not exist, and brings its
    /// schema up to date.
    ///
    /// # Errors
    /// [`OpenError`]: not a selfcare store, a newer schema, locked, corrupt, or not readable or
    /// writable (the directory does not exist, permissions, a read-only file system).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let opened = tokio::task::spawn_blocking(move || {
            let mut conn = open_connection(&path, true)?;
            migrate(&mut conn, &path)?;
            Ok::<_, OpenError>((path, conn))
        })
        .await
        .map_err(|_| OpenError::Io {
            path: PathBuf::new(),
            reason: "the opening thread failed".into(),
        })??;
        let (path, conn) = opened;
        Ok(SqliteStore {
            connections: Arc::new(Connections::new(path, conn)),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.connections.path
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(())` when the file is sound.
    ///
    /// # Errors
    /// `StoreError::Corrupt` with SQLite's first complaint; `Unavailable` when the file
    /// cannot be read.
    pub async fn integrity_check(&self) -> StoreResult<()> {
        self.connections
            .read(|c| {
                let verdict: String = c
                    .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .map_err(error::sql)?;
                if verdict == "ok" {
                    Ok(())
                } else {
                    Err(selfcare_storage::StoreError::Corrupt { what: verdict })
                }
            })
            .await
    }
}

/// A transaction of one organisation.
pub struct SqliteTx {
    org: OrgId,
    conn: Conn,
}

/// A provider transaction (lists across organisations, the provider's audit chain).
pub struct SqliteProviderTx {
    conn: Conn,
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>> {
        Ok(Box::new(SqliteTx {
            org,
            conn: self.connections.begin().await?,
        }))
    }

    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>> {
        Ok(Box::new(SqliteProviderTx {
            conn: self.connections.begin().await?,
        }))
    }
}

#[async_trait]
impl OrgTransaction for SqliteTx {
    fn org(&self) -> OrgId {
        self.org
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.conn.commit().await
    }
}

#[async_trait]
impl ProviderTransaction for SqliteProviderTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.conn.commit().await
    }
}
