//! Customers, users and API clients (ACC-*, USR-*, AUTH-4).
//!
//! - `customers`: one versioned JSON aggregate per organisation (the shared singleton rows,
//!   whose statements the address book uses as well).
//! - `users`: the record as JSON beside the columns the store queries: `login_key`
//!   (`Email::key`, a UNIQUE index across organisations) and `role` (the Owner count).
//! - `api_clients`: the record as JSON beside `client_id` (UNIQUE across organisations) and
//!   `user_id`, a foreign key to `users` with `ON DELETE CASCADE`; sessions, tokens and TOTP
//!   records hang off users and clients the same way, so deleting a user is one statement.
//!
//! A failed statement aborts a PostgreSQL transaction, and the contracts keep the transaction
//! usable after a refused write. So inserts use `ON CONFLICT DO NOTHING` (which the unique
//! indexes answer across organisations, whatever row-level security hides) and tell why
//! nothing was written afterwards; an e-mail change, whose UPDATE has no such clause, runs in a
//! savepoint. Versioned updates and deletes report in the same statement whether the row
//! existed, so "stale" and "missing" cost no second round trip.

use async_trait::async_trait;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::roles::Role;
use selfcare_core::tokens::ClientId;
use selfcare_storage::StoreError;
use selfcare_storage::accounts::{
    AccountsLookup, AccountsProvider, AccountsTx, ApiClientRecord, CustomerRecord, UserRecord,
};
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::version::{Version, Versioned};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::columns::{
    body, enum_text, fetch_limit, from_body, get, get_version, id_after, id_cursor, page_of,
    version,
};
use crate::error::{is_foreign_key_violation, sql, unique_violation};
use crate::lists::Keyset;
use crate::{PgProviderTx, PgStore, PgTx};

// ---- shared by the accounts area group ----

/// A versioned aggregate from a row with `version` and `body` columns.
pub(crate) fn versioned<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    what: &str,
) -> StoreResult<Versioned<T>> {
    Ok(Versioned {
        value: from_body(get::<&[u8]>(row, "body")?, what)?,
        version: get_version(row, "version")?,
    })
}

/// The statements of a one-row-per-organisation table (`org_id` primary key, `version`,
/// `body`): customers, address books. Constants, so no SQL is built at run time.
pub(crate) struct Singleton {
    /// `$1` org.
    pub(crate) select: &'static str,
    /// `$1` org, `$2` version, `$3` body; `ON CONFLICT DO NOTHING`.
    pub(crate) insert: &'static str,
    /// `$1` next version, `$2` body, `$3` org, `$4` expected version; answers `changed` and
    /// `present` (whether the row existed before the statement).
    pub(crate) update: &'static str,
    /// What the `Duplicate` names and what a corrupt body is called.
    pub(crate) what: &'static str,
}

/// The customer rows.
pub(crate) const CUSTOMERS: Singleton = Singleton {
    select: "SELECT version, body FROM customers WHERE org_id = $1",
    insert: "INSERT INTO customers (org_id, version, body) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
    update: "WITH changed AS (
                 UPDATE customers SET version = $1, body = $2
                 WHERE org_id = $3 AND version = $4 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM customers WHERE org_id = $3) AS present",
    what: "customer",
};

/// The organisation's row of a one-row-per-organisation table.
pub(crate) async fn singleton<T: serde::de::DeserializeOwned>(
    conn: &mut PgConnection,
    table: &Singleton,
    org: Uuid,
) -> StoreResult<Option<Versioned<T>>> {
    sqlx::query(table.select)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(sql)?
        .map(|row| versioned(&row, table.what))
        .transpose()
}

/// Inserts the organisation's first row at [`Version::FIRST`];
/// `Conflict(Duplicate { what })` when it has one (the transaction stays usable).
pub(crate) async fn insert_singleton<T: serde::Serialize>(
    conn: &mut PgConnection,
    table: &Singleton,
    org: Uuid,
    value: &T,
) -> StoreResult<Version> {
    let inserted = sqlx::query(table.insert)
        .bind(org)
        .bind(version(Version::FIRST)?)
        .bind(body(value)?)
        .execute(conn)
        .await
        .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        Ok(Version::FIRST)
    } else {
        Err(StoreError::duplicate(table.what))
    }
}

/// Replaces the organisation's row when its version is `expected`; `Conflict(StaleVersion)`
/// when it is not, `NotFound` when there is no row.
pub(crate) async fn update_singleton<T: serde::Serialize>(
    conn: &mut PgConnection,
    table: &Singleton,
    org: Uuid,
    value: &T,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let row = sqlx::query(table.update)
        .bind(version(next)?)
        .bind(body(value)?)
        .bind(org)
        .bind(version(expected)?)
        .fetch_one(conn)
        .await
        .map_err(sql)?;
    changed_or(&row, next)
}

/// The answer of a versioned write that reports `changed` and `present`: the new version,
/// `Conflict(StaleVersion)` when the row is there with another version, `NotFound` otherwise.
pub(crate) fn changed_or<V>(row: &PgRow, next: V) -> StoreResult<V> {
    if get::<bool>(row, "changed")? {
        Ok(next)
    } else if get::<bool>(row, "present")? {
        Err(StoreError::stale())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Whether the organisation has the user `id`.
pub(crate) async fn has_user(conn: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<bool> {
    sqlx::query("SELECT 1 FROM users WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map(|found| found.is_some())
        .map_err(sql)
}

fn other_org_customer() -> StoreError {
    StoreError::InvalidInput {
        what: "customer of another organisation",
    }
}

/// Decodes `(version, body)` rows.
fn versioned_rows<T: serde::de::DeserializeOwned>(
    rows: &[PgRow],
    what: &str,
) -> StoreResult<Vec<Versioned<T>>> {
    rows.iter().map(|row| versioned(row, what)).collect()
}

#[async_trait]
impl AccountsTx for PgTx {
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()> {
        if record.customer.id() != self.org {
            return Err(other_org_customer());
        }
        insert_singleton(self.tx.conn(), &CUSTOMERS, self.org.as_uuid(), &record)
            .await
            .map(|_| ())
    }

    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>> {
        singleton(self.tx.conn(), &CUSTOMERS, self.org.as_uuid()).await
    }

    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        if record.customer.id() != self.org {
            return Err(other_org_customer());
        }
        update_singleton(
            self.tx.conn(),
            &CUSTOMERS,
            self.org.as_uuid(),
            &record,
            expected,
        )
        .await
    }

    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let id = user.id.as_uuid();
        // One statement on the happy path: a taken id or login key writes nothing (and leaves
        // the transaction usable), and only then is it asked which of the two it was.
        let inserted = sqlx::query(
            "INSERT INTO users (org_id, id, login_key, role, version, body)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(id)
        .bind(user.email.key())
        .bind(enum_text(&user.role)?)
        .bind(version(Version::FIRST)?)
        .bind(body(&user)?)
        .execute(self.tx.conn())
        .await
        .map_err(sql)?;
        if inserted.rows_affected() == 1 {
            return Ok(());
        }
        if has_user(self.tx.conn(), org, id).await? {
            Err(StoreError::duplicate("user"))
        } else {
            Err(StoreError::duplicate("login_email"))
        }
    }

    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>> {
        sqlx::query("SELECT version, body FROM users WHERE org_id = $1 AND id = $2")
            .bind(self.org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| versioned(&row, "user"))
            .transpose()
    }

    async fn update_user(&mut self, user: UserRecord, expected: Version) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        let id = user.id.as_uuid();
        let key = user.email.key();
        let role = enum_text(&user.role)?;
        let next = expected.next();
        let body = body(&user)?;
        // The common update keeps the login key: it cannot hit the unique index, so it runs
        // bare, and tells in the same statement why it changed nothing. The version is
        // checked before the key: a stale writer learns that it is stale.
        let row = sqlx::query(
            "WITH changed AS (
                 UPDATE users SET role = $1, version = $2, body = $3
                 WHERE org_id = $4 AND id = $5 AND version = $6 AND login_key = $7
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    (SELECT version FROM users WHERE org_id = $4 AND id = $5) AS stored",
        )
        .bind(&role)
        .bind(version(next)?)
        .bind(&body)
        .bind(org)
        .bind(id)
        .bind(version(expected)?)
        .bind(key)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        if get::<bool>(&row, "changed")? {
            return Ok(next);
        }
        match get::<Option<i64>>(&row, "stored")? {
            None => return Err(StoreError::NotFound),
            Some(stored) if stored != version(expected)? => return Err(StoreError::stale()),
            Some(_) => {}
        }
        // The key moves. One statement frees the old key and claims the new one; a key held
        // by another user (of any organisation, which row-level security hides from a
        // pre-check) fails it, so it runs in a savepoint that keeps the transaction usable.
        savepoint(self.tx.conn()).await?;
        let moved = sqlx::query(
            "UPDATE users SET login_key = $1, role = $2, version = $3, body = $4
             WHERE org_id = $5 AND id = $6 AND version = $7",
        )
        .bind(key)
        .bind(&role)
        .bind(version(next)?)
        .bind(&body)
        .bind(org)
        .bind(id)
        .bind(version(expected)?)
        .execute(self.tx.conn())
        .await;
        match moved {
            Ok(done) => {
                release(self.tx.conn()).await?;
                if done.rows_affected() == 1 {
                    Ok(next)
                } else {
                    // Read as present with this version a statement ago, in this
                    // transaction: only a concurrent writer could have moved it.
                    Err(StoreError::stale())
                }
            }
            Err(e) => {
                rollback_to_savepoint(self.tx.conn()).await?;
                if unique_violation(&e).is_some() {
                    Err(StoreError::duplicate("login_email"))
                } else {
                    Err(sql(e))
                }
            }
        }
    }

    async fn delete_user(&mut self, id: UserId, expected: Version) -> StoreResult<()> {
        // API clients, sessions, tokens and the TOTP record go with the user through their
        // foreign keys' ON DELETE CASCADE.
        let row = sqlx::query(
            "WITH changed AS (
                 DELETE FROM users WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2) AS present",
        )
        .bind(self.org.as_uuid())
        .bind(id.as_uuid())
        .bind(version(expected)?)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        changed_or(&row, ())
    }

    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>> {
        let org = self.org.as_uuid();
        let limit = page.checked_limit()?;
        // A range scan of the primary key.
        const USERS: Keyset = Keyset {
            first: "SELECT version, body FROM users WHERE org_id = $1 ORDER BY id LIMIT $2",
            after: "SELECT version, body FROM users WHERE org_id = $1 AND id > $2
                    ORDER BY id LIMIT $3",
        };
        let rows = USERS
            .rows(self.tx.conn(), |q| q.bind(org), id_after(&page)?, limit)
            .await?;
        let users: Vec<Versioned<UserRecord>> = versioned_rows(&rows, "user")?;
        Ok(page_of(users, limit, |u| id_cursor(u.value.id.as_uuid())))
    }

    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64> {
        let row = sqlx::query("SELECT count(*) AS n FROM users WHERE org_id = $1 AND role = $2")
            .bind(self.org.as_uuid())
            .bind(enum_text(&role)?)
            .fetch_one(self.tx.conn())
            .await
            .map_err(sql)?;
        u64::try_from(get::<i64>(&row, "n")?).map_err(|_| StoreError::Corrupt {
            what: "a user count".into(),
        })
    }

    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let id = client.id.as_uuid();
        let user = client.user.as_uuid();
        // The user is checked in the statement (a foreign key violation would abort the
        // transaction); a taken id or client id writes nothing. Only when nothing was written
        // is it asked why.
        let inserted = sqlx::query(
            "INSERT INTO api_clients (org_id, id, client_id, user_id, version, body)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(id)
        .bind(client.client_id.api_client_id().as_uuid())
        .bind(user)
        .bind(version(Version::FIRST)?)
        .bind(body(&client)?)
        .execute(self.tx.conn())
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => Ok(()),
            Ok(_) => {
                let row = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2) AS user,
                            EXISTS (SELECT 1 FROM api_clients WHERE org_id = $1 AND id = $3)
                                AS client",
                )
                .bind(org)
                .bind(user)
                .bind(id)
                .fetch_one(self.tx.conn())
                .await
                .map_err(sql)?;
                if !get::<bool>(&row, "user")? {
                    Err(StoreError::NotFound)
                } else if get::<bool>(&row, "client")? {
                    Err(StoreError::duplicate("api_client"))
                } else {
                    Err(StoreError::duplicate("client_id"))
                }
            }
            // The user was deleted by a transaction this one cannot see.
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sql(e)),
        }
    }

    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
        sqlx::query("SELECT version, body FROM api_clients WHERE org_id = $1 AND id = $2")
            .bind(self.org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| versioned(&row, "api client"))
            .transpose()
    }

    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let next = expected.next();
        // The columns mirror the body's client id and user, which are fixed for the client's
        // life: the statement changes the row only when they match, and reports the stored
        // version and whether they matched, so missing, stale and a changed key are told
        // apart in that order.
        let row = sqlx::query(
            "WITH changed AS (
                 UPDATE api_clients SET version = $1, body = $2
                 WHERE org_id = $3 AND id = $4 AND version = $5
                   AND client_id = $6 AND user_id = $7
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed, stored.version AS stored,
                    stored.client_id = $6 AND stored.user_id = $7 AS same_keys
             FROM (SELECT 1) AS one
             LEFT JOIN api_clients AS stored ON stored.org_id = $3 AND stored.id = $4",
        )
        .bind(version(next)?)
        .bind(body(&client)?)
        .bind(self.org.as_uuid())
        .bind(client.id.as_uuid())
        .bind(version(expected)?)
        .bind(client.client_id.api_client_id().as_uuid())
        .bind(client.user.as_uuid())
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        if get::<bool>(&row, "changed")? {
            return Ok(next);
        }
        match get::<Option<i64>>(&row, "stored")? {
            None => Err(StoreError::NotFound),
            Some(stored) if stored != version(expected)? => Err(StoreError::stale()),
            Some(_) if get::<Option<bool>>(&row, "same_keys")? != Some(true) => {
                Err(StoreError::InvalidInput {
                    what: "api client's client id or user",
                })
            }
            Some(_) => Err(StoreError::stale()),
        }
    }

    async fn delete_api_client(&mut self, id: ApiClientId, expected: Version) -> StoreResult<()> {
        // The client's sessions go with it (ON DELETE CASCADE).
        let row = sqlx::query(
            "WITH changed AS (
                 DELETE FROM api_clients WHERE org_id = $1 AND id = $2 AND version = $3
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM api_clients WHERE org_id = $1 AND id = $2) AS present",
        )
        .bind(self.org.as_uuid())
        .bind(id.as_uuid())
        .bind(version(expected)?)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        changed_or(&row, ())
    }

    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>> {
        let org = self.org.as_uuid();
        let limit = page.checked_limit()?;
        let after = id_after(&page)?;
        // Each shape has its own statement so each is a range scan of one index: the primary
        // key, or `api_clients_by_user`.
        let conn = self.tx.conn();
        const BY_ORG: Keyset = Keyset {
            first: "SELECT version, body FROM api_clients WHERE org_id = $1
                    ORDER BY id LIMIT $2",
            after: "SELECT version, body FROM api_clients WHERE org_id = $1 AND id > $2
                    ORDER BY id LIMIT $3",
        };
        const BY_USER: Keyset = Keyset {
            first: "SELECT version, body FROM api_clients WHERE org_id = $1 AND user_id = $2
                    ORDER BY id LIMIT $3",
            after: "SELECT version, body FROM api_clients
                    WHERE org_id = $1 AND user_id = $2 AND id > $3
                    ORDER BY id LIMIT $4",
        };
        let rows = match user {
            None => BY_ORG.rows(conn, |q| q.bind(org), after, limit).await?,
            Some(user) => {
                let user = user.as_uuid();
                BY_USER
                    .rows(conn, |q| q.bind(org).bind(user), after, limit)
                    .await?
            }
        };
        let clients: Vec<Versioned<ApiClientRecord>> = versioned_rows(&rows, "api client")?;
        Ok(page_of(clients, limit, |c| id_cursor(c.value.id.as_uuid())))
    }
}

// ---- savepoints (a refused write that must leave the transaction usable) ----

/// Opens the savepoint of a statement that may fail.
async fn savepoint(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::raw_sql("SAVEPOINT selfcare_accounts")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(sql)
}

/// Keeps what the statement did.
async fn release(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::raw_sql("RELEASE SAVEPOINT selfcare_accounts")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(sql)
}

/// Undoes the failed statement, so the transaction goes on.
async fn rollback_to_savepoint(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::raw_sql("ROLLBACK TO SAVEPOINT selfcare_accounts; RELEASE SAVEPOINT selfcare_accounts")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(sql)
}

#[async_trait]
impl AccountsProvider for PgProviderTx {
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>> {
        let limit = page.checked_limit()?;
        let fetch = fetch_limit(limit);
        let rows = match id_after(&page)? {
            None => {
                sqlx::query("SELECT org_id FROM customers ORDER BY org_id LIMIT $1")
                    .bind(fetch)
                    .fetch_all(self.tx.conn())
                    .await
            }
            Some(after) => {
                sqlx::query(
                    "SELECT org_id FROM customers WHERE org_id > $1 ORDER BY org_id LIMIT $2",
                )
                .bind(after)
                .bind(fetch)
                .fetch_all(self.tx.conn())
                .await
            }
        }
        .map_err(sql)?;
        let orgs = rows
            .iter()
            .map(|row| get::<Uuid>(row, "org_id").map(OrgId::from_uuid))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(orgs, limit, |o| id_cursor(o.as_uuid())))
    }
}

#[async_trait]
impl AccountsLookup for PgStore {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, id FROM users WHERE login_key = $1")
            .bind(login_key)
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| {
            Ok((
                OrgId::from_uuid(get(&row, "org_id")?),
                UserId::from_uuid(get(&row, "id")?),
            ))
        })
        .transpose()
    }

    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, id FROM api_clients WHERE client_id = $1")
            .bind(client_id.api_client_id().as_uuid())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| {
            Ok((
                OrgId::from_uuid(get(&row, "org_id")?),
                ApiClientId::from_uuid(get(&row, "id")?),
            ))
        })
        .transpose()
    }
}
