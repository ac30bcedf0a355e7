//! The pool, and transactions scoped for row-level security.

use selfcare_core::ids::OrgId;
use selfcare_storage::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres};

use crate::PgConfig;
use crate::error::{OpenError, sql};

/// What a transaction may see under row-level security.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// The rows of one organisation (`selfcare.org`).
    Org(OrgId),
    /// Every row (`selfcare.provider = on`): provider transactions and global lookups.
    Provider,
}

/// The store's connection pool.
pub(crate) struct Connections {
    pool: PgPool,
    /// `host:port/database`, for messages (never the password).
    pub(crate) server: String,
}

impl Connections {
    /// Opens the pool on `url` with `config`'s size, timeouts and schema.
    pub(crate) async fn connect(url: &str, config: &PgConfig) -> Result<Self, OpenError> {
        let options: PgConnectOptions = url.parse().map_err(|_| OpenError::BadUrl)?;
        let server = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let mut settings: Vec<(&str, String)> = Vec::new();
        if let Some(limit) = config.statement_timeout {
            settings.push(("statement_timeout", format!("{}ms", limit.as_millis())));
        }
        if let Some(schema) = &config.schema {
            settings.push(("search_path", quote_ident(schema)));
        }
        let options = options
            .application_name(&config.application_name)
            .options(settings);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::connect(&server, &e))?;
        Ok(Connections { pool, server })
    }

    /// Begins a serializable transaction that sees `scope`'s rows: `BEGIN` and the setting go
    /// to the server as one simple query, one round trip.
    pub(crate) async fn begin(&self, scope: Scope) -> StoreResult<Tx> {
        let statement = format!("BEGIN ISOLATION LEVEL SERIALIZABLE; {}", scope.setting());
        let inner = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(statement))
            .await
            .map_err(sql)?;
        Ok(Tx { inner })
    }

    /// Begins a read-only transaction that sees every row, for a global lookup (which returns
    /// ids only, and reads one committed state).
    pub(crate) async fn lookup(&self) -> StoreResult<Tx> {
        let statement = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; {}",
            Scope::Provider.setting()
        );
        let inner = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(statement))
            .await
            .map_err(sql)?;
        Ok(Tx { inner })
    }

    /// Begins a transaction for the migration runner (no scope: it owns the tables).
    pub(crate) async fn begin_owner(
        &self,
    ) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

impl Scope {
    /// The statement that sets the scope for the rest of the transaction. The organisation id
    /// is a UUID formatted here (hex digits and dashes), never text from outside.
    fn setting(self) -> String {
        match self {
            Scope::Org(org) => format!(
                "SELECT set_config('selfcare.org', '{}', true)",
                org.as_uuid().hyphenated()
            ),
            Scope::Provider => "SELECT set_config('selfcare.provider', 'on', true)".to_owned(),
        }
    }
}

/// A PostgreSQL identifier in double quotes.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One transaction on a pooled connection. Dropped without [`Tx::commit`], it rolls back
/// (when the connection goes back to the pool).
pub(crate) struct Tx {
    inner: sqlx::Transaction<'static, Postgres>,
}

impl Tx {
    /// The connection, to run statements inside the transaction.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.inner
    }

    /// Commits. A commit whose answer is lost (the connection dropped) is `Unavailable`: the
    /// caller cannot know whether it happened.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.inner.commit().await.map_err(sql)
    }
}
