//! # selfcare-postgres
//!
//! The server store of the selfcare SDK (DESIGN §3): a [`Store`] on PostgreSQL through sqlx,
//! for services that serve many customers at once.
//!
//! - **Transactions** are `SERIALIZABLE`: every read-then-write of the use cases (is there an
//!   intent for this key, is this the first order, what is the audit chain's head) behaves as
//!   if the transactions ran one after the other, as they do on SQLite. A serialization
//!   failure (SQLSTATE `40001`) or a deadlock (`40P01`) is `StoreError::Retryable`, and the sdk
//!   re-runs the whole use case. Updates check version columns as well.
//! - **Row-level security** is a second wall behind the scoped queries: the application
//!   connects as a role that is not a superuser and does not bypass RLS; every
//!   organisation-scoped table has `FORCE ROW LEVEL SECURITY` with a policy that admits the rows
//!   of the organisation named by the transaction-local setting `selfcare.org` (set at the start
//!   of each organisation transaction), or every row when `selfcare.provider` is `on` (provider
//!   transactions and the global lookups, which return ids only). Without either setting a
//!   query sees no row and an insert fails.
//! - **Migrations** are embedded and run by [`PgStore::migrate`] (or on [`PgStore::open`]): one
//!   transaction per version, serialised by a row lock (`SELECT … FOR UPDATE`) on the
//!   `selfcare_schema` row rather than by advisory locks, so engines that speak PostgreSQL's
//!   protocol without advisory locks can run them. A schema newer than this code is an
//!   [`OpenError`], never a guess. *Tried*: PostgreSQL 15 (every test of this crate).
//!   *Not tried*: CockroachDB and YugabyteDB — the migrations use only plain DDL, row locks and
//!   `CREATE POLICY` (CockroachDB has row-level security from 25.2 on), but no test has run
//!   them there.
//! - **Values**: ids as `uuid`, instants as `bigint` nanoseconds (exact round trips, which
//!   `timestamptz`'s microseconds are not), money as `bigint` minor units beside a currency,
//!   aggregates the store does not query inside as JSON in `bytea`, so replayed results come
//!   back byte for byte.
//! - Lists are keyset-paginated with an index per list query; the SIM export reads through a
//!   server-side cursor.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use selfcare_postgres::{PgConfig, PgStore};
//! use selfcare_storage::Store;
//! let store = PgStore::open("postgres://selfcare@db.internal/selfcare", PgConfig::default()).await?;
//! let store: Arc<dyn Store> = Arc::new(store);
//! # let _ = store; Ok(()) }
//! ```

mod accounts;
mod addresses;
mod audit;
mod auth;
mod columns;
mod connection;
mod error;
mod lists;
mod migrations;
mod orders;
mod outbox;
mod payments;
mod sims;
mod tickets;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use selfcare_core::ids::OrgId;
use selfcare_storage::{OrgTransaction, ProviderTransaction, Store, StoreResult};

use crate::connection::{Connections, Scope};
pub use crate::error::OpenError;

/// How a [`PgStore`] connects: pool size, timeouts, schema, migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgConfig {
    /// The most connections the pool opens (default 10).
    pub max_connections: u32,
    /// How long a transaction waits for a free connection before the store answers
    /// `Unavailable` (default 5 s).
    pub acquire_timeout: Duration,
    /// The server-side limit of one statement (default 30 s); `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// The schema the store's tables live in (default: the connection's `search_path`,
    /// normally `public`). It must exist.
    pub schema: Option<String>,
    /// Whether [`PgStore::open`] brings the schema up to date (default `true`). With `false` a
    /// schema behind this code is an [`OpenError::Outdated`]: run [`PgStore::migrate`] as the
    /// owning role first.
    pub migrate: bool,
    /// The `application_name` the connections report (default `selfcare`), as seen in
    /// `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            schema: None,
            migrate: true,
            application_name: "selfcare".to_owned(),
        }
    }
}

impl PgConfig {
    /// With at most `n` pooled connections.
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// With `timeout` to wait for a free connection (and for the first one to connect).
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// With a server-side limit per statement (`None`: the server's own).
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// With the store's tables in `schema`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Whether [`PgStore::open`] migrates (`true`) or only checks the schema version.
    pub fn with_migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// With connections named `name` in `pg_stat_activity`.
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }
}

/// A selfcare store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    connections: Arc<Connections>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("server", &self.connections.server)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?…`) and, when
    /// `config.migrate` is set, brings the schema up to date.
    ///
    /// # Errors
    /// [`OpenError`]: a malformed URL, a server that cannot be reached or refuses the login,
    /// a schema newer than this code, another application's tables, a failed migration.
    pub async fn open(url: &str, config: PgConfig) -> Result<Self, OpenError> {
        let connections = Connections::connect(url, &config).await?;
        if config.migrate {
            migrations::run(&connections, None).await?;
        } else {
            migrations::check(&connections).await?;
        }
        Ok(PgStore {
            connections: Arc::new(connections),
        })
    }

    /// Brings the schema of the database at `url` up to date, as that URL's role (which must
    /// own the schema), and lets `app_role` (when given) read and write the store's tables:
    /// the deployment step for a service that connects as a role that owns nothing.
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn migrate(
        url: &str,
        config: &PgConfig,
        app_role: Option<&str>,
    ) -> Result<(), OpenError> {
        let mut config = config.clone();
        config.max_connections = 1;
        let connections = Connections::connect(url, &config).await?;
        let out = migrations::run(&connections, app_role).await;
        connections.close().await;
        out
    }

    /// The schema version this code writes.
    pub fn schema_version() -> i32 {
        migrations::KNOWN
    }

    /// Closes the pool: running transactions finish, new ones are `Unavailable`.
    pub async fn close(&self) {
        self.connections.close().await;
    }
}

/// A transaction of one organisation.
pub struct PgTx {
    org: OrgId,
    tx: connection::Tx,
}

/// A provider transaction (lists across organisations, the provider's audit chain).
pub struct PgProviderTx {
    tx: connection::Tx,
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>> {
        Ok(Box::new(PgTx {
            org,
            tx: self.connections.begin(Scope::Org(org)).await?,
        }))
    }

    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>> {
        Ok(Box::new(PgProviderTx {
            tx: self.connections.begin(Scope::Provider).await?,
        }))
    }
}

#[async_trait]
impl OrgTransaction for PgTx {
    fn org(&self) -> OrgId {
        self.org
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await
    }
}

#[async_trait]
impl ProviderTransaction for PgProviderTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await
    }
}

#[cfg(feature = "testing")]
pub mod testing;
