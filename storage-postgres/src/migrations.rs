//! The schema's migrations: embedded SQL, one transaction per version, serialised by a row
//! lock on `selfcare_schema` (not by advisory locks, which some engines that speak
//! PostgreSQL's protocol lack).

use sqlx::Row;

use crate::connection::{Connections, quote_ident};
use crate::error::OpenError;

/// The migrations in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[concat!(
    include_str!("../migrations/v1/accounts.sql"),
    include_str!("../migrations/v1/addresses.sql"),
    include_str!("../migrations/v1/auth.sql"),
    include_str!("../migrations/v1/payments.sql"),
    include_str!("../migrations/v1/orders.sql"),
    include_str!("../migrations/v1/sims.sql"),
    include_str!("../migrations/v1/usage.sql"),
    include_str!("../migrations/v1/tickets.sql"),
    include_str!("../migrations/v1/outbox.sql"),
    include_str!("../migrations/v1/audit.sql"),
    include_str!("../migrations/v1/security.sql"),
)];

/// The store's tables (besides `selfcare_schema`).
const TABLES: &[&str] = &[
    "customers",
    "users",
    "api_clients",
    "address_books",
    "sessions",
    "tokens",
    "totp",
    "throttle_counters",
    "payment_settings",
    "payment_intents",
    "idempotency_records",
    "orders",
    "order_documents",
    "document_bytes",
    "sims",
    "plans",
    "provisioning",
    "quotas",
    "usage_records_seen",
    "tickets",
    "ticket_messages",
    "outbox",
    "audit_entries",
    "provider_audit_entries",
];

/// The schema version this code writes.
pub(crate) const KNOWN: i32 = MIGRATIONS.len() as i32;

/// The application name kept in `selfcare_schema`, so another program's table of that name
/// is not taken for ours.
const APPLICATION: &str = "selfcare";

const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS selfcare_schema (
    id          smallint PRIMARY KEY CHECK (id = 1),
    application text     NOT NULL,
    version     integer  NOT NULL
)";

/// Brings the schema up to date and grants `app_role` (when given) the use of its tables.
pub(crate) async fn run(
    connections: &Connections,
    app_role: Option<&str>,
) -> Result<(), OpenError> {
    let server = connections.server.clone();
    let failed = |version: i32| {
        let server = server.clone();
        move |e: sqlx::Error| OpenError::Migration {
            server: server.clone(),
            version,
            reason: e.to_string(),
        }
    };
    // Two processes creating the table at once: the loser's CREATE fails on the catalog's
    // unique index; it looks again.
    for attempt in 0..3 {
        let mut tx = connections
            .begin_owner()
            .await
            .map_err(|e| OpenError::connect(&server, &e))?;
        let created = async {
            sqlx::query(CREATE_SCHEMA_TABLE).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO selfcare_schema (id, application, version) VALUES (1, $1, 0)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(APPLICATION)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        match created {
            Ok(()) => break,
            Err(_) if attempt < 2 => continue,
            Err(e) => return Err(failed(0)(e)),
        }
    }
    let mut tx = connections
        .begin_owner()
        .await
        .map_err(|e| OpenError::connect(&server, &e))?;
    // The row lock: a second runner waits here until the first has committed, then finds the
    // schema current.
    let row =
        sqlx::query("SELECT application, version FROM selfcare_schema WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await
            .map_err(failed(0))?;
    let (application, found) = schema_row(&server, &row)?;
    if application != APPLICATION {
        return Err(OpenError::NotASelfcareStore {
            server,
            reason: format!("selfcare_schema belongs to {application:?}"),
        });
    }
    if found > KNOWN {
        return Err(OpenError::NewerSchema {
            server,
            found,
            known: KNOWN,
        });
    }
    if found == 0 {
        // A schema no selfcare migration ran on must not hold tables of ours already: they
        // belong to another application, and creating ours beside them would fail halfway.
        let taken: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY 1",
        )
        .bind(TABLES)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed(1))?;
        if !taken.is_empty() {
            return Err(OpenError::NotASelfcareStore {
                server,
                reason: format!("tables of another application: {}", taken.join(", ")),
            });
        }
    }
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        sqlx::raw_sql(*migration)
            .execute(&mut *tx)
            .await
            .map_err(failed(version))?;
        sqlx::query("UPDATE selfcare_schema SET version = $1 WHERE id = 1")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(failed(version))?;
    }
    if let Some(role) = app_role {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut *tx)
            .await
            .map_err(failed(KNOWN))?;
        let (schema, role) = (quote_ident(&schema), quote_ident(role));
        let grants = format!(
            "GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
            .execute(&mut *tx)
            .await
            .map_err(failed(KNOWN))?;
    }
    tx.commit().await.map_err(failed(KNOWN))
}

/// Checks, without changing anything, that the schema is the one this code writes.
pub(crate) async fn check(connections: &Connections) -> Result<(), OpenError> {
    let server = connections.server.clone();
    let mut tx = connections
        .begin_owner()
        .await
        .map_err(|e| OpenError::connect(&server, &e))?;
    let row = match sqlx::query("SELECT application, version FROM selfcare_schema WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await
    {
        Ok(row) => row,
        // No table: a database no migration has run on.
        Err(e) if crate::error::sqlstate(&e).as_deref() == Some("42P01") => None,
        Err(e) => return Err(OpenError::connect(&server, &e)),
    };
    let Some(row) = row else {
        return Err(OpenError::Outdated {
            server,
            found: 0,
            known: KNOWN,
        });
    };
    let (application, found) = schema_row(&server, &row)?;
    if application != APPLICATION {
        return Err(OpenError::NotASelfcareStore {
            server,
            reason: format!("selfcare_schema belongs to {application:?}"),
        });
    }
    match found.cmp(&KNOWN) {
        std::cmp::Ordering::Greater => Err(OpenError::NewerSchema {
            server,
            found,
            known: KNOWN,
        }),
        std::cmp::Ordering::Less => Err(OpenError::Outdated {
            server,
            found,
            known: KNOWN,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

fn schema_row(server: &str, row: &sqlx::postgres::PgRow) -> Result<(String, i32), OpenError> {
    let application: String =
        row.try_get("application")
            .map_err(|e| OpenError::NotASelfcareStore {
                server: server.to_owned(),
                reason: e.to_string(),
            })?;
    let version: i32 = row
        .try_get("version")
        .map_err(|e| OpenError::NotASelfcareStore {
            server: server.to_owned(),
            reason: e.to_string(),
        })?;
    Ok((application, version))
}
