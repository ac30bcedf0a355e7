//! Customers, users and API clients (ACC-*, USR-*, AUTH-4).
//!
//! - `customers`: one versioned JSON aggregate per organisation (the shared singleton rows).
//! - `users`: the record as JSON beside the columns the store queries: `login_key`
//!   (`Email::key`, a UNIQUE index across organisations) and `role` (the Owner count).
//! - `api_clients`: the record as JSON beside `client_id` (UNIQUE across organisations) and
//!   `user_id`, a foreign key to `users` with `ON DELETE CASCADE`; sessions, tokens and TOTP
//!   records hang off users and clients the same way, so deleting a user is one statement.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
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
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, uuid_from, version, version_from};
use crate::columns::enum_text;
use crate::error::{is_foreign_key_violation, is_unique_violation, sql};
use crate::pages::{fetch_limit, id_after, id_cursor, page_of};
use crate::rows::{insert_singleton, singleton, stale_or_missing, update_singleton};
use crate::{SqliteProviderTx, SqliteStore, SqliteTx};

const CUSTOMERS: &str = "customers";
const USERS: &str = "users";
const API_CLIENTS: &str = "api_clients";

/// Runs a query whose rows are `(version, body)` and decodes each aggregate.
fn versioned_rows<T: serde::de::DeserializeOwned>(
    c: &Connection,
    query: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<Versioned<T>>> {
    let mut stmt = c.prepare_cached(query).map_err(sql)?;
    let raw: Vec<(i64, Vec<u8>)> = stmt
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    raw.into_iter()
        .map(|(v, b)| {
            Ok(Versioned {
                value: from_body(&b, what)?,
                version: version_from(v)?,
            })
        })
        .collect()
}

/// Whether the organisation has the user `id`.
pub(crate) fn has_user(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM users WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| r.get::<_, i64>(0))
        .optional()
        .map(|found| found.is_some())
        .map_err(sql)
}

fn user_row(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<Versioned<UserRecord>>> {
    Ok(versioned_rows(
        c,
        "SELECT version, body FROM users WHERE org_id = ?1 AND id = ?2",
        params![id_bytes(org), id_bytes(id)],
        "user",
    )?
    .pop())
}

fn api_client_row(
    c: &Connection,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
    Ok(versioned_rows(
        c,
        "SELECT version, body FROM api_clients WHERE org_id = ?1 AND id = ?2",
        params![id_bytes(org), id_bytes(id)],
        "api client",
    )?
    .pop())
}

fn other_org_customer() -> StoreError {
    StoreError::InvalidInput {
        what: "customer of another organisation",
    }
}

#[async_trait]
impl AccountsTx for SqliteTx {
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()> {
        if record.customer.id() != self.org {
            return Err(other_org_customer());
        }
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_singleton(c, CUSTOMERS, org, &record, "customer"))
            .await
            .map(|_| ())
    }

    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>> {
        let org = self.org.as_uuid();
        self.conn.call(move |c| singleton(c, CUSTOMERS, org)).await
    }

    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        if record.customer.id() != self.org {
            return Err(other_org_customer());
        }
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_singleton(c, CUSTOMERS, org, &record, expected))
            .await
    }

    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = user.id.as_uuid();
                // The id is checked first, so the only unique index left is the login key.
                if has_user(c, org, id)? {
                    return Err(StoreError::duplicate("user"));
                }
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO users (org_id, id, login_key, role, version, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        id_bytes(id),
                        user.email.key(),
                        enum_text(&user.role)?,
                        version(Version::FIRST)?,
                        body(&user)?
                    ]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("login_email")),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| user_row(c, org, id.as_uuid()))
            .await
    }

    async fn update_user(&mut self, user: UserRecord, expected: Version) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = user.id.as_uuid();
                let next = expected.next();
                // One statement moves the key: a taken new key fails it whole (SQLite undoes
                // a failed statement), and the old key is free once it commits.
                let changed = c
                    .prepare_cached(
                        "UPDATE users SET login_key = ?1, role = ?2, version = ?3, body = ?4
                         WHERE org_id = ?5 AND id = ?6 AND version = ?7",
                    )
                    .map_err(sql)?
                    .execute(params![
                        user.email.key(),
                        enum_text(&user.role)?,
                        version(next)?,
                        body(&user)?,
                        id_bytes(org),
                        id_bytes(id),
                        version(expected)?
                    ]);
                match changed {
                    Ok(1) => Ok(next),
                    Ok(_) => Err(stale_or_missing(c, USERS, org, id)),
                    Err(e) if is_unique_violation(&e) => {
                        // The version is checked before the key: a stale writer learns that.
                        match user_row(c, org, id)? {
                            None => Err(StoreError::NotFound),
                            Some(row) if row.version != expected => Err(StoreError::stale()),
                            Some(_) => Err(StoreError::duplicate("login_email")),
                        }
                    }
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn delete_user(&mut self, id: UserId, expected: Version) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = id.as_uuid();
                // API clients, sessions, tokens and the TOTP record go with the user through
                // their foreign keys' ON DELETE CASCADE.
                let deleted = c
                    .prepare_cached(
                        "DELETE FROM users WHERE org_id = ?1 AND id = ?2 AND version = ?3",
                    )
                    .map_err(sql)?
                    .execute(params![id_bytes(org), id_bytes(id), version(expected)?])
                    .map_err(sql)?;
                if deleted == 1 {
                    Ok(())
                } else {
                    Err(stale_or_missing(c, USERS, org, id))
                }
            })
            .await
    }

    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>> {
        let org = self.org.as_uuid();
        let limit = page.checked_limit()?;
        let fetch = fetch_limit(limit);
        let after = id_after(&page)?;
        self.conn
            .call(move |c| {
                let rows: Vec<Versioned<UserRecord>> = match after {
                    None => versioned_rows(
                        c,
                        "SELECT version, body FROM users WHERE org_id = ?1 ORDER BY id LIMIT ?2",
                        params![id_bytes(org), fetch],
                        "user",
                    )?,
                    Some(after) => versioned_rows(
                        c,
                        "SELECT version, body FROM users WHERE org_id = ?1 AND id > ?2
                         ORDER BY id LIMIT ?3",
                        params![id_bytes(org), id_bytes(after), fetch],
                        "user",
                    )?,
                };
                Ok(page_of(rows, limit, |u| id_cursor(u.value.id.as_uuid())))
            })
            .await
    }

    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let count: i64 = c
                    .prepare_cached("SELECT count(*) FROM users WHERE org_id = ?1 AND role = ?2")
                    .map_err(sql)?
                    .query_row(params![id_bytes(org), enum_text(&role)?], |r| r.get(0))
                    .map_err(sql)?;
                u64::try_from(count).map_err(|_| StoreError::Corrupt {
                    what: "a user count".into(),
                })
            })
            .await
    }

    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = client.id.as_uuid();
                if !has_user(c, org, client.user.as_uuid())? {
                    return Err(StoreError::NotFound);
                }
                if api_client_row(c, org, id)?.is_some() {
                    return Err(StoreError::duplicate("api_client"));
                }
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO api_clients (org_id, id, client_id, user_id, version, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        id_bytes(id),
                        id_bytes(client.client_id.api_client_id().as_uuid()),
                        id_bytes(client.user.as_uuid()),
                        version(Version::FIRST)?,
                        body(&client)?
                    ]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("client_id")),
                    Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| api_client_row(c, org, id.as_uuid()))
            .await
    }

    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = client.id.as_uuid();
                let stored = api_client_row(c, org, id)?.ok_or(StoreError::NotFound)?;
                if stored.version != expected {
                    return Err(StoreError::stale());
                }
                if stored.value.client_id != client.client_id || stored.value.user != client.user {
                    return Err(StoreError::InvalidInput {
                        what: "api client's client id or user",
                    });
                }
                let next = expected.next();
                let changed = c
                    .prepare_cached(
                        "UPDATE api_clients SET version = ?1, body = ?2
                         WHERE org_id = ?3 AND id = ?4 AND version = ?5",
                    )
                    .map_err(sql)?
                    .execute(params![
                        version(next)?,
                        body(&client)?,
                        id_bytes(org),
                        id_bytes(id),
                        version(expected)?
                    ])
                    .map_err(sql)?;
                if changed == 1 {
                    Ok(next)
                } else {
                    Err(stale_or_missing(c, API_CLIENTS, org, id))
                }
            })
            .await
    }

    async fn delete_api_client(&mut self, id: ApiClientId, expected: Version) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let id = id.as_uuid();
                // The client's sessions go with it (ON DELETE CASCADE).
                let deleted = c
                    .prepare_cached(
                        "DELETE FROM api_clients WHERE org_id = ?1 AND id = ?2 AND version = ?3",
                    )
                    .map_err(sql)?
                    .execute(params![id_bytes(org), id_bytes(id), version(expected)?])
                    .map_err(sql)?;
                if deleted == 1 {
                    Ok(())
                } else {
                    Err(stale_or_missing(c, API_CLIENTS, org, id))
                }
            })
            .await
    }

    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>> {
        let org = self.org.as_uuid();
        let limit = page.checked_limit()?;
        let fetch = fetch_limit(limit);
        let after = id_after(&page)?;
        self.conn
            .call(move |c| {
                // Each shape has its own statement so each is a range scan of one index:
                // the primary key, or `api_clients_by_user`.
                let org = id_bytes(org);
                let what = "api client";
                let rows: Vec<Versioned<ApiClientRecord>> = match (user, after) {
                    (None, None) => versioned_rows(
                        c,
                        "SELECT version, body FROM api_clients WHERE org_id = ?1
                         ORDER BY id LIMIT ?2",
                        params![org, fetch],
                        what,
                    )?,
                    (None, Some(after)) => versioned_rows(
                        c,
                        "SELECT version, body FROM api_clients WHERE org_id = ?1 AND id > ?2
                         ORDER BY id LIMIT ?3",
                        params![org, id_bytes(after), fetch],
                        what,
                    )?,
                    (Some(user), None) => versioned_rows(
                        c,
                        "SELECT version, body FROM api_clients WHERE org_id = ?1 AND user_id = ?2
                         ORDER BY id LIMIT ?3",
                        params![org, id_bytes(user.as_uuid()), fetch],
                        what,
                    )?,
                    (Some(user), Some(after)) => versioned_rows(
                        c,
                        "SELECT version, body FROM api_clients
                         WHERE org_id = ?1 AND user_id = ?2 AND id > ?3
                         ORDER BY id LIMIT ?4",
                        params![org, id_bytes(user.as_uuid()), id_bytes(after), fetch],
                        what,
                    )?,
                };
                Ok(page_of(rows, limit, |r| id_cursor(r.value.id.as_uuid())))
            })
            .await
    }
}

#[async_trait]
impl AccountsProvider for SqliteProviderTx {
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>> {
        let limit = page.checked_limit()?;
        let fetch = fetch_limit(limit);
        let after = id_after(&page)?;
        self.conn
            .call(move |c| {
                let read = |query: &str, params: &[&dyn rusqlite::ToSql]| {
                    c.prepare_cached(query)
                        .map_err(sql)?
                        .query_map(params, |r| r.get::<_, Vec<u8>>(0))
                        .map_err(sql)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(sql)
                };
                let raw = match after {
                    None => read(
                        "SELECT org_id FROM customers ORDER BY org_id LIMIT ?1",
                        params![fetch],
                    )?,
                    Some(after) => read(
                        "SELECT org_id FROM customers WHERE org_id > ?1 ORDER BY org_id LIMIT ?2",
                        params![id_bytes(after), fetch],
                    )?,
                };
                let orgs = raw
                    .iter()
                    .map(|b| uuid_from(b).map(OrgId::from_uuid))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(page_of(orgs, limit, |o| id_cursor(o.as_uuid())))
            })
            .await
    }
}

#[async_trait]
impl AccountsLookup for SqliteStore {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        let key = login_key.to_owned();
        self.connections
            .read(move |c| {
                let row: Option<(Vec<u8>, Vec<u8>)> = c
                    .prepare_cached("SELECT org_id, id FROM users WHERE login_key = ?1")
                    .map_err(sql)?
                    .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql)?;
                row.map(|(org, id)| {
                    Ok((
                        OrgId::from_uuid(uuid_from(&org)?),
                        UserId::from_uuid(uuid_from(&id)?),
                    ))
                })
                .transpose()
            })
            .await
    }

    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        let key = id_bytes(client_id.api_client_id().as_uuid());
        self.connections
            .read(move |c| {
                let row: Option<(Vec<u8>, Vec<u8>)> = c
                    .prepare_cached("SELECT org_id, id FROM api_clients WHERE client_id = ?1")
                    .map_err(sql)?
                    .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql)?;
                row.map(|(org, id)| {
                    Ok((
                        OrgId::from_uuid(uuid_from(&org)?),
                        ApiClientId::from_uuid(uuid_from(&id)?),
                    ))
                })
                .transpose()
            })
            .await
    }
}
