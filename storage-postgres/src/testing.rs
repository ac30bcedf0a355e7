//! For tests (feature `testing`): a fresh, empty store per test in its own schema of the test
//! run's database, migrated as the owning role and used as the application role, as a
//! deployment would.
//!
//! The test run exports `SELFCARE_PG_URL` (the application role: not a superuser, does not
//! bypass row-level security) and `SELFCARE_PG_OWNER_URL` (the role that owns the database).
//! Without them a test that needs PostgreSQL fails when `CI` is set and is skipped with one
//! printed line otherwise.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

use crate::connection::quote_ident;
use crate::{OpenError, PgConfig, PgStore};

/// The URLs of the test run's database.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// The application role's URL.
    pub app_url: String,
    /// The owning role's URL.
    pub owner_url: String,
    /// A superuser's URL (`SELFCARE_PG_ADMIN_URL`), for fault injection
    /// (`pg_terminate_backend`); `None` when the environment names none.
    pub admin_url: Option<String>,
}

impl TestDatabase {
    /// The test run's database, from the environment; `None` (after printing why) when there
    /// is none and `CI` is not set.
    ///
    /// # Panics
    /// When `CI` is set and the environment names no database: a test that needs PostgreSQL
    /// must fail there, not skip.
    #[allow(clippy::panic)]
    pub fn from_env(test: &str) -> Option<TestDatabase> {
        match (
            std::env::var("SELFCARE_PG_URL"),
            std::env::var("SELFCARE_PG_OWNER_URL"),
        ) {
            (Ok(app_url), Ok(owner_url)) => Some(TestDatabase {
                app_url,
                owner_url,
                admin_url: std::env::var("SELFCARE_PG_ADMIN_URL").ok(),
            }),
            _ if std::env::var_os("CI").is_some() => {
                panic!("{test}: CI is set but SELFCARE_PG_URL / SELFCARE_PG_OWNER_URL are not")
            }
            _ => {
                println!(
                    "{test}: skipped, no PostgreSQL (run it through ./scripts/test, which starts one)"
                );
                None
            }
        }
    }

    /// The application role's name (the user of [`TestDatabase::app_url`]).
    pub fn app_role(&self) -> Result<String, OpenError> {
        let options: sqlx::postgres::PgConnectOptions =
            self.app_url.parse().map_err(|_| OpenError::BadUrl)?;
        Ok(options.get_username().to_owned())
    }

    /// A new empty schema, migrated by the owner and granted to the application role.
    ///
    /// # Errors
    /// [`OpenError`] when the server refuses.
    pub async fn fresh_schema(&self) -> Result<String, OpenError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut owner = sqlx::PgConnection::connect(&self.owner_url)
            .await
            .map_err(|e| OpenError::connect("test database", &e))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {}",
            quote_ident(&name)
        )))
        .execute(&mut owner)
        .await
        .map_err(|e| OpenError::connect("test database", &e))?;
        let _ = owner.close().await;
        let config = PgConfig::default().with_schema(name.clone());
        PgStore::migrate(&self.owner_url, &config, Some(&self.app_role()?)).await?;
        Ok(name)
    }

    /// A fresh store in a new schema, connected as the application role.
    ///
    /// # Errors
    /// [`OpenError`] when the server refuses.
    pub async fn fresh_store(&self, config: PgConfig) -> Result<PgStore, OpenError> {
        Ok(self.fresh_store_in_schema(config).await?.0)
    }

    /// [`TestDatabase::fresh_store`] and the name of its schema.
    ///
    /// # Errors
    /// [`OpenError`] when the server refuses.
    pub async fn fresh_store_in_schema(
        &self,
        config: PgConfig,
    ) -> Result<(PgStore, String), OpenError> {
        let schema = self.fresh_schema().await?;
        let store = PgStore::open(
            &self.app_url,
            config.with_schema(schema.clone()).with_migrate(false),
        )
        .await?;
        Ok((store, schema))
    }
}
