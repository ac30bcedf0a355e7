//! Sessions, single-use tokens, TOTP enrolments and login-throttling counters (AUTH-*).
//!
//! - `sessions` and `tokens` are plain columns (the maintenance walk queries their times);
//!   their hashes are UNIQUE across organisations, and both hang off `users` (sessions also
//!   off `api_clients`) by foreign keys with `ON DELETE CASCADE`.
//! - `totp` is one versioned JSON aggregate per user.
//! - `throttle_counters` belong to no organisation: the provider transaction keys them by
//!   `ThrottleKey::storage_key` alone.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tokens::{SessionTimes, TokenHash, TokenKind, TokenLifetimes, TokenState};
use selfcare_storage::StoreError;
use selfcare_storage::auth::{
    AuthLookup, AuthProvider, AuthTx, SessionRecord, SessionSubject, TokenRecord, TotpRecord,
};
use selfcare_storage::error::StoreResult;
use selfcare_storage::version::{Version, Versioned};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::accounts::has_user;
use crate::codec::{
    body, from_body, id_bytes, instant, instant_from, uuid_from, version, version_from,
};
use crate::columns::{enum_from, enum_text};
use crate::error::{is_foreign_key_violation, is_unique_violation, sql};
use crate::{SqliteProviderTx, SqliteStore, SqliteTx};

/// A token hash read back from its 32-byte BLOB.
fn hash_from(bytes: &[u8]) -> StoreResult<TokenHash> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash::from_bytes)
        .map_err(|_| StoreError::Corrupt {
            what: "a token hash column".into(),
        })
}

/// The latest instant, in stored nanoseconds, at which something that lives `lifetime` has
/// expired at `now` ([`selfcare_core::tokens::is_expired`]: `since <= now - lifetime`, a
/// negative lifetime counting as zero). Clamped to the column's range.
fn cutoff(now: OffsetDateTime, lifetime: Duration) -> i64 {
    let nanos = now
        .unix_timestamp_nanos()
        .saturating_sub(lifetime.max(Duration::ZERO).whole_nanoseconds());
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// An optional id as a column value.
fn opt_id(id: Option<Uuid>) -> Option<[u8; 16]> {
    id.map(id_bytes)
}

// ---- sessions ----

const SESSION_COLUMNS: &str = "token_hash, user_id, api_client_id, channel, created_at, \
                               last_seen_at, second_factor_passed, version";

/// One `sessions` row as read, before decoding.
struct RawSession {
    hash: Vec<u8>,
    user: Option<Vec<u8>>,
    client: Option<Vec<u8>>,
    channel: String,
    created_at: i64,
    last_seen_at: i64,
    second_factor_passed: bool,
    version: i64,
}

impl RawSession {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawSession {
            hash: r.get(0)?,
            user: r.get(1)?,
            client: r.get(2)?,
            channel: r.get(3)?,
            created_at: r.get(4)?,
            last_seen_at: r.get(5)?,
            second_factor_passed: r.get(6)?,
            version: r.get(7)?,
        })
    }

    fn decode(self) -> StoreResult<Versioned<SessionRecord>> {
        let subject = match (self.user, self.client) {
            (Some(user), None) => SessionSubject::User(UserId::from_uuid(uuid_from(&user)?)),
            (None, Some(client)) => {
                SessionSubject::ApiClient(ApiClientId::from_uuid(uuid_from(&client)?))
            }
            _ => {
                return Err(StoreError::Corrupt {
                    what: "a session's subject".into(),
                });
            }
        };
        Ok(Versioned {
            value: SessionRecord {
                token_hash: hash_from(&self.hash)?,
                subject,
                channel: enum_from(&self.channel, "session channel")?,
                times: SessionTimes {
                    created_at: instant_from(self.created_at)?,
                    last_seen_at: instant_from(self.last_seen_at)?,
                },
                second_factor_passed: self.second_factor_passed,
            },
            version: version_from(self.version)?,
        })
    }
}

/// The `(user_id, api_client_id)` columns of a subject.
fn subject_columns(subject: SessionSubject) -> (Option<Uuid>, Option<Uuid>) {
    match subject {
        SessionSubject::User(user) => (Some(user.as_uuid()), None),
        SessionSubject::ApiClient(client) => (None, Some(client.as_uuid())),
    }
}

fn session_row(
    c: &Connection,
    org: Uuid,
    hash: TokenHash,
) -> StoreResult<Option<Versioned<SessionRecord>>> {
    c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE org_id = ?1 AND token_hash = ?2"
    ))
    .map_err(sql)?
    .query_row(params![id_bytes(org), hash.as_bytes()], RawSession::read)
    .optional()
    .map_err(sql)?
    .map(RawSession::decode)
    .transpose()
}

// ---- tokens ----

const TOKEN_COLUMNS: &str = "hash, kind, issued_at, used_at, user_id, payload, version";

/// One `tokens` row as read, before decoding.
struct RawToken {
    hash: Vec<u8>,
    kind: String,
    issued_at: i64,
    used_at: Option<i64>,
    user: Option<Vec<u8>>,
    payload: Vec<u8>,
    version: i64,
}

impl RawToken {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawToken {
            hash: r.get(0)?,
            kind: r.get(1)?,
            issued_at: r.get(2)?,
            used_at: r.get(3)?,
            user: r.get(4)?,
            payload: r.get(5)?,
            version: r.get(6)?,
        })
    }

    fn decode(self) -> StoreResult<Versioned<TokenRecord>> {
        Ok(Versioned {
            value: TokenRecord {
                hash: hash_from(&self.hash)?,
                state: TokenState {
                    kind: enum_from(&self.kind, "token kind")?,
                    issued_at: instant_from(self.issued_at)?,
                    used_at: self.used_at.map(instant_from).transpose()?,
                },
                user: self
                    .user
                    .map(|u| uuid_from(&u).map(UserId::from_uuid))
                    .transpose()?,
                payload: from_body(&self.payload, "token payload")?,
            },
            version: version_from(self.version)?,
        })
    }
}

fn token_row(
    c: &Connection,
    org: Uuid,
    hash: TokenHash,
) -> StoreResult<Option<Versioned<TokenRecord>>> {
    c.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 AND hash = ?2"
    ))
    .map_err(sql)?
    .query_row(params![id_bytes(org), hash.as_bytes()], RawToken::read)
    .optional()
    .map_err(sql)?
    .map(RawToken::decode)
    .transpose()
}

// ---- TOTP ----

fn totp_row(c: &Connection, org: Uuid, user: Uuid) -> StoreResult<Option<Versioned<TotpRecord>>> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached("SELECT version, body FROM totp WHERE org_id = ?1 AND user_id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(user)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sql)?;
    row.map(|(v, b)| {
        Ok(Versioned {
            value: from_body(&b, "totp record")?,
            version: version_from(v)?,
        })
    })
    .transpose()
}

/// After a versioned TOTP statement changed nothing: stale when the user has a record.
fn totp_stale_or_missing(c: &Connection, org: Uuid, user: Uuid) -> StoreError {
    match totp_row(c, org, user) {
        Ok(Some(_)) => StoreError::stale(),
        Ok(None) => StoreError::NotFound,
        Err(e) => e,
    }
}

#[async_trait]
impl AuthTx for SqliteTx {
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let (user, client) = subject_columns(session.subject);
                let inserted = c
                    .prepare_cached(&format!(
                        "INSERT INTO sessions (org_id, {SESSION_COLUMNS})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                    ))
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        session.token_hash.as_bytes(),
                        opt_id(user),
                        opt_id(client),
                        enum_text(&session.channel)?,
                        instant(session.times.created_at)?,
                        instant(session.times.last_seen_at)?,
                        session.second_factor_passed,
                        version(Version::FIRST)?
                    ]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => {
                        Err(StoreError::duplicate("session_token"))
                    }
                    // The subject is not a user or API client of this organisation.
                    Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn session(
        &mut self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<Versioned<SessionRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| session_row(c, org, token_hash))
            .await
    }

    async fn update_session(
        &mut self,
        session: SessionRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let hash = session.token_hash;
                let stored = session_row(c, org, hash)?.ok_or(StoreError::NotFound)?;
                if stored.version != expected {
                    return Err(StoreError::stale());
                }
                if stored.value.subject != session.subject {
                    return Err(StoreError::InvalidInput {
                        what: "session subject",
                    });
                }
                let next = expected.next();
                // `last_seen_at` never moves back, even when the update was prepared from a
                // read made before a concurrent touch (touches check no version).
                let changed = c
                    .prepare_cached(
                        "UPDATE sessions SET channel = ?1, created_at = ?2,
                             last_seen_at = max(last_seen_at, ?3), second_factor_passed = ?4,
                             version = ?5
                         WHERE org_id = ?6 AND token_hash = ?7 AND version = ?8",
                    )
                    .map_err(sql)?
                    .execute(params![
                        enum_text(&session.channel)?,
                        instant(session.times.created_at)?,
                        instant(session.times.last_seen_at)?,
                        session.second_factor_passed,
                        version(next)?,
                        id_bytes(org),
                        hash.as_bytes(),
                        version(expected)?
                    ])
                    .map_err(sql)?;
                if changed == 1 {
                    Ok(next)
                } else {
                    Err(StoreError::stale())
                }
            })
            .await
    }

    async fn touch_session(
        &mut self,
        token_hash: TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let now = instant(now)?;
        self.conn
            .call(move |c| {
                let changed = c
                    .prepare_cached(
                        "UPDATE sessions SET last_seen_at = max(last_seen_at, ?1)
                         WHERE org_id = ?2 AND token_hash = ?3",
                    )
                    .map_err(sql)?
                    .execute(params![now, id_bytes(org), token_hash.as_bytes()])
                    .map_err(sql)?;
                if changed == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                }
            })
            .await
    }

    async fn delete_session(&mut self, token_hash: TokenHash) -> StoreResult<bool> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                c.prepare_cached("DELETE FROM sessions WHERE org_id = ?1 AND token_hash = ?2")
                    .map_err(sql)?
                    .execute(params![id_bytes(org), token_hash.as_bytes()])
                    .map(|n| n > 0)
                    .map_err(sql)
            })
            .await
    }

    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let keep: Option<[u8; 32]> = keep.map(|h| *h.as_bytes());
                c.prepare_cached(
                    "DELETE FROM sessions
                     WHERE org_id = ?1 AND user_id = ?2 AND token_hash IS NOT ?3",
                )
                .map_err(sql)?
                .execute(params![id_bytes(org), id_bytes(user.as_uuid()), keep])
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                .map_err(sql)
            })
            .await
    }

    async fn delete_api_client_sessions(&mut self, client: ApiClientId) -> StoreResult<u64> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                c.prepare_cached("DELETE FROM sessions WHERE org_id = ?1 AND api_client_id = ?2")
                    .map_err(sql)?
                    .execute(params![id_bytes(org), id_bytes(client.as_uuid())])
                    .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                    .map_err(sql)
            })
            .await
    }

    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let user = token.user.map(|u| u.as_uuid());
                let inserted = c
                    .prepare_cached(&format!(
                        "INSERT INTO tokens (org_id, {TOKEN_COLUMNS})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    ))
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        token.hash.as_bytes(),
                        enum_text(&token.state.kind)?,
                        instant(token.state.issued_at)?,
                        token.state.used_at.map(instant).transpose()?,
                        opt_id(user),
                        body(&token.payload)?,
                        version(Version::FIRST)?
                    ]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("token")),
                    // `token.user` is not a user of this organisation.
                    Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>> {
        let org = self.org.as_uuid();
        self.conn.call(move |c| token_row(c, org, hash)).await
    }

    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        let at = instant(at)?;
        self.conn
            .call(move |c| {
                let stored = token_row(c, org, hash)?.ok_or(StoreError::NotFound)?;
                if stored.version != expected {
                    return Err(StoreError::stale());
                }
                if stored.value.state.used_at.is_some() {
                    return Ok(stored.version);
                }
                let next = expected.next();
                // `used_at IS NULL` keeps the first use even against a writer this
                // transaction cannot see (there is none under BEGIN IMMEDIATE, but it costs
                // nothing).
                let changed = c
                    .prepare_cached(
                        "UPDATE tokens SET used_at = ?1, version = ?2
                         WHERE org_id = ?3 AND hash = ?4 AND version = ?5 AND used_at IS NULL",
                    )
                    .map_err(sql)?
                    .execute(params![
                        at,
                        version(next)?,
                        id_bytes(org),
                        hash.as_bytes(),
                        version(expected)?
                    ])
                    .map_err(sql)?;
                if changed == 1 {
                    Ok(next)
                } else {
                    Err(StoreError::stale())
                }
            })
            .await
    }

    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                c.prepare_cached("DELETE FROM tokens WHERE org_id = ?1 AND hash = ?2")
                    .map_err(sql)?
                    .execute(params![id_bytes(org), hash.as_bytes()])
                    .map(|n| n > 0)
                    .map_err(sql)
            })
            .await
    }

    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let user = totp.user.as_uuid();
                if !has_user(c, org, user)? {
                    return Err(StoreError::NotFound);
                }
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO totp (org_id, user_id, version, body) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        id_bytes(user),
                        version(Version::FIRST)?,
                        body(&totp)?
                    ]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("totp")),
                    Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| totp_row(c, org, user.as_uuid()))
            .await
    }

    async fn update_totp(&mut self, totp: TotpRecord, expected: Version) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let user = totp.user.as_uuid();
                let next = expected.next();
                let changed = c
                    .prepare_cached(
                        "UPDATE totp SET version = ?1, body = ?2
                         WHERE org_id = ?3 AND user_id = ?4 AND version = ?5",
                    )
                    .map_err(sql)?
                    .execute(params![
                        version(next)?,
                        body(&totp)?,
                        id_bytes(org),
                        id_bytes(user),
                        version(expected)?
                    ])
                    .map_err(sql)?;
                if changed == 1 {
                    Ok(next)
                } else {
                    Err(totp_stale_or_missing(c, org, user))
                }
            })
            .await
    }

    async fn delete_totp(&mut self, user: UserId, expected: Version) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let user = user.as_uuid();
                let deleted = c
                    .prepare_cached(
                        "DELETE FROM totp WHERE org_id = ?1 AND user_id = ?2 AND version = ?3",
                    )
                    .map_err(sql)?
                    .execute(params![id_bytes(org), id_bytes(user), version(expected)?])
                    .map_err(sql)?;
                if deleted == 1 {
                    Ok(())
                } else {
                    Err(totp_stale_or_missing(c, org, user))
                }
            })
            .await
    }
}

// ---- provider scope ----

fn checked_key(key: &str) -> StoreResult<String> {
    if key.is_empty() {
        Err(StoreError::InvalidInput {
            what: "throttle key",
        })
    } else {
        Ok(key.to_owned())
    }
}

/// A row of the maintenance queries: when it became due, its organisation and hash (raw).
type DueRow = (i64, Vec<u8>, Vec<u8>);

/// `(due, org, hash)` rows as read by the maintenance queries.
fn due_rows(
    c: &Connection,
    query: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<DueRow>> {
    c.prepare_cached(query)
        .map_err(sql)?
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
}

/// Orders `(due, org, hash)` rows oldest first, keeps `max`, and decodes them.
fn oldest(mut rows: Vec<DueRow>, max: usize) -> StoreResult<Vec<(OrgId, TokenHash)>> {
    rows.sort();
    rows.dedup();
    rows.into_iter()
        .take(max)
        .map(|(_, org, hash)| Ok((OrgId::from_uuid(uuid_from(&org)?), hash_from(&hash)?)))
        .collect()
}

#[async_trait]
impl AuthProvider for SqliteProviderTx {
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        // One range scan of `tokens_by_kind_issued` per kind, each with its own cutoff.
        let cutoffs = TokenKind::ALL
            .iter()
            .map(|&kind| Ok((enum_text(&kind)?, cutoff(now, lifetimes.for_kind(kind)))))
            .collect::<StoreResult<Vec<_>>>()?;
        let take = usize::try_from(max).unwrap_or(usize::MAX);
        let limit = i64::from(max);
        self.conn
            .call(move |c| {
                let mut rows = Vec::new();
                for (kind, cutoff) in cutoffs {
                    rows.extend(due_rows(
                        c,
                        "SELECT issued_at, org_id, hash FROM tokens
                         WHERE kind = ?1 AND issued_at <= ?2
                         ORDER BY issued_at, org_id, hash LIMIT ?3",
                        params![kind, cutoff, limit],
                    )?);
                }
                oldest(rows, take)
            })
            .await
    }

    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        // Absolute expiry by `created_at`, idle expiry by `last_seen_at`: a range scan of each
        // index (at most `max` rows each), merged and ordered by the last request as the
        // in-memory store does.
        let absolute = cutoff(now, lifetimes.session_absolute);
        let idle = cutoff(now, lifetimes.session_idle);
        let take = usize::try_from(max).unwrap_or(usize::MAX);
        let limit = i64::from(max);
        self.conn
            .call(move |c| {
                let mut rows = due_rows(
                    c,
                    "SELECT last_seen_at, org_id, token_hash FROM sessions
                     WHERE created_at <= ?1 ORDER BY created_at LIMIT ?2",
                    params![absolute, limit],
                )?;
                rows.extend(due_rows(
                    c,
                    "SELECT last_seen_at, org_id, token_hash FROM sessions
                     WHERE last_seen_at <= ?1 ORDER BY last_seen_at, org_id, token_hash LIMIT ?2",
                    params![idle, limit],
                )?);
                oldest(rows, take)
            })
            .await
    }

    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>> {
        let key = checked_key(key)?;
        self.conn
            .call(move |c| {
                let row: Option<(i64, i64, i64)> = c
                    .prepare_cached(
                        "SELECT failures, last_failure_at, version FROM throttle_counters
                         WHERE key = ?1",
                    )
                    .map_err(sql)?
                    .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
                    .map_err(sql)?;
                row.map(|(failures, last, v)| {
                    Ok(Versioned {
                        value: FailureCounter {
                            failures: u32::try_from(failures).map_err(|_| StoreError::Corrupt {
                                what: "a throttle counter".into(),
                            })?,
                            last_failure_at: instant_from(last)?,
                        },
                        version: version_from(v)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn put_throttle_counter(
        &mut self,
        key: &str,
        counter: FailureCounter,
        expected: Option<Version>,
    ) -> StoreResult<Version> {
        let key = checked_key(key)?;
        let last = instant(counter.last_failure_at)?;
        let failures = i64::from(counter.failures);
        self.conn
            .call(move |c| match expected {
                // The first write: an existing counter means another failure got there first.
                None => {
                    let inserted = c
                        .prepare_cached(
                            "INSERT INTO throttle_counters (key, failures, last_failure_at, version)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .map_err(sql)?
                        .execute(params![key, failures, last, version(Version::FIRST)?]);
                    match inserted {
                        Ok(_) => Ok(Version::FIRST),
                        Err(e) if is_unique_violation(&e) => Err(StoreError::stale()),
                        Err(e) => Err(sql(e)),
                    }
                }
                Some(expected) => {
                    let next = expected.next();
                    let changed = c
                        .prepare_cached(
                            "UPDATE throttle_counters
                             SET failures = ?1, last_failure_at = ?2, version = ?3
                             WHERE key = ?4 AND version = ?5",
                        )
                        .map_err(sql)?
                        .execute(params![
                            failures,
                            last,
                            version(next)?,
                            key,
                            version(expected)?
                        ])
                        .map_err(sql)?;
                    if changed == 1 {
                        Ok(next)
                    } else {
                        Err(StoreError::stale())
                    }
                }
            })
            .await
    }

    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool> {
        let key = checked_key(key)?;
        self.conn
            .call(move |c| {
                c.prepare_cached("DELETE FROM throttle_counters WHERE key = ?1")
                    .map_err(sql)?
                    .execute(params![key])
                    .map(|n| n > 0)
                    .map_err(sql)
            })
            .await
    }

    async fn purge_throttle_counters(
        &mut self,
        last_failure_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let before = instant(last_failure_before)?;
        self.conn
            .call(move |c| {
                c.prepare_cached("DELETE FROM throttle_counters WHERE last_failure_at < ?1")
                    .map_err(sql)?
                    .execute(params![before])
                    .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                    .map_err(sql)
            })
            .await
    }
}

/// The organisation of the row with `hash` in `query`'s table, read on a reader connection.
fn org_of_hash(c: &Connection, query: &str, hash: TokenHash) -> StoreResult<Option<OrgId>> {
    let org: Option<Vec<u8>> = c
        .prepare_cached(query)
        .map_err(sql)?
        .query_row(params![hash.as_bytes()], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    org.map(|o| uuid_from(&o).map(OrgId::from_uuid)).transpose()
}

#[async_trait]
impl AuthLookup for SqliteStore {
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.connections
            .read(move |c| {
                Ok(org_of_hash(
                    c,
                    "SELECT org_id FROM sessions WHERE token_hash = ?1",
                    token_hash,
                )?
                .map(|org| (org, token_hash)))
            })
            .await
    }

    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.connections
            .read(move |c| {
                Ok(
                    org_of_hash(c, "SELECT org_id FROM tokens WHERE hash = ?1", hash)?
                        .map(|org| (org, hash)),
                )
            })
            .await
    }
}
