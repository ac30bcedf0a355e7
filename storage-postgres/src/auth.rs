//! Sessions, single-use tokens, TOTP enrolments and login-throttling counters (AUTH-*).
//!
//! - `sessions` and `tokens` are plain columns (the maintenance walk queries their times);
//!   their hashes are UNIQUE across organisations, and both hang off `users` (sessions also
//!   off `api_clients`) by foreign keys with `ON DELETE CASCADE`.
//! - `totp` is one versioned JSON aggregate per user.
//! - `throttle_counters` belong to no organisation: the provider transaction keys them by
//!   `ThrottleKey::storage_key` alone.
//!
//! As in the accounts area, inserts check their parent in the statement and write nothing on a
//! taken key (`ON CONFLICT DO NOTHING`), so a refused insert leaves the transaction usable, and
//! versioned writes report in the same statement whether the row existed.

use async_trait::async_trait;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tokens::{SessionTimes, TokenHash, TokenKind, TokenLifetimes, TokenState};
use selfcare_storage::StoreError;
use selfcare_storage::auth::{
    AuthLookup, AuthProvider, AuthTx, SessionRecord, SessionSubject, TokenRecord, TotpRecord,
};
use selfcare_storage::error::StoreResult;
use selfcare_storage::version::{Version, Versioned};
use sqlx::postgres::PgRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::accounts::{changed_or, has_user, versioned};
use crate::columns::{
    body, enum_from, enum_text, from_body, get, get_instant, get_opt_instant, get_version, instant,
    instant_from, opt_instant, version,
};
use crate::error::{is_foreign_key_violation, sql};
use crate::{PgProviderTx, PgStore, PgTx};

/// A token hash read back from its 32-byte `bytea`.
fn hash_from(row: &PgRow, column: &str) -> StoreResult<TokenHash> {
    <[u8; 32]>::try_from(get::<&[u8]>(row, column)?)
        .map(TokenHash::from_bytes)
        .map_err(|_| StoreError::Corrupt {
            what: format!("the token hash column {column}"),
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

// ---- sessions ----

/// A session row (`token_hash, user_id, api_client_id, channel, created_at, last_seen_at,
/// second_factor_passed, version`).
fn session_from(row: &PgRow) -> StoreResult<Versioned<SessionRecord>> {
    let subject = match (
        get::<Option<Uuid>>(row, "user_id")?,
        get::<Option<Uuid>>(row, "api_client_id")?,
    ) {
        (Some(user), None) => SessionSubject::User(UserId::from_uuid(user)),
        (None, Some(client)) => SessionSubject::ApiClient(ApiClientId::from_uuid(client)),
        _ => {
            return Err(StoreError::Corrupt {
                what: "a session's subject".into(),
            });
        }
    };
    Ok(Versioned {
        value: SessionRecord {
            token_hash: hash_from(row, "token_hash")?,
            subject,
            channel: enum_from(get::<&str>(row, "channel")?, "session channel")?,
            times: SessionTimes {
                created_at: get_instant(row, "created_at")?,
                last_seen_at: get_instant(row, "last_seen_at")?,
            },
            second_factor_passed: get(row, "second_factor_passed")?,
        },
        version: get_version(row, "version")?,
    })
}

/// The `(user_id, api_client_id)` columns of a subject.
fn subject_columns(subject: SessionSubject) -> (Option<Uuid>, Option<Uuid>) {
    match subject {
        SessionSubject::User(user) => (Some(user.as_uuid()), None),
        SessionSubject::ApiClient(client) => (None, Some(client.as_uuid())),
    }
}

// ---- tokens ----

/// A token row (`hash, kind, issued_at, used_at, user_id, payload, version`).
fn token_from(row: &PgRow) -> StoreResult<Versioned<TokenRecord>> {
    Ok(Versioned {
        value: TokenRecord {
            hash: hash_from(row, "hash")?,
            state: TokenState {
                kind: enum_from(get::<&str>(row, "kind")?, "token kind")?,
                issued_at: get_instant(row, "issued_at")?,
                used_at: get_opt_instant(row, "used_at")?,
            },
            user: get::<Option<Uuid>>(row, "user_id")?.map(UserId::from_uuid),
            payload: from_body(get::<&[u8]>(row, "payload")?, "token payload")?,
        },
        version: get_version(row, "version")?,
    })
}

#[async_trait]
impl AuthTx for PgTx {
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let (user, client) = subject_columns(session.subject);
        // The subject is checked in the statement (a foreign key violation would abort the
        // transaction; a NULL id matches nothing), a taken hash writes nothing.
        let inserted = sqlx::query(
            "INSERT INTO sessions (org_id, token_hash, user_id, api_client_id, channel,
                                   created_at, last_seen_at, second_factor_passed, version)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
             WHERE EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $3)
                OR EXISTS (SELECT 1 FROM api_clients WHERE org_id = $1 AND id = $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(session.token_hash.as_bytes().as_slice())
        .bind(user)
        .bind(client)
        .bind(enum_text(&session.channel)?)
        .bind(instant(session.times.created_at)?)
        .bind(instant(session.times.last_seen_at)?)
        .bind(session.second_factor_passed)
        .bind(version(Version::FIRST)?)
        .execute(self.tx.conn())
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => Ok(()),
            Ok(_) => {
                let row = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2)
                         OR EXISTS (SELECT 1 FROM api_clients WHERE org_id = $1 AND id = $3)
                         AS subject",
                )
                .bind(org)
                .bind(user)
                .bind(client)
                .fetch_one(self.tx.conn())
                .await
                .map_err(sql)?;
                if get::<bool>(&row, "subject")? {
                    Err(StoreError::duplicate("session_token"))
                } else {
                    // The subject is not a user or API client of this organisation.
                    Err(StoreError::NotFound)
                }
            }
            // The subject was deleted by a transaction this one cannot see.
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sql(e)),
        }
    }

    async fn session(
        &mut self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<Versioned<SessionRecord>>> {
        sqlx::query(
            "SELECT token_hash, user_id, api_client_id, channel, created_at, last_seen_at,
                    second_factor_passed, version
             FROM sessions WHERE org_id = $1 AND token_hash = $2",
        )
        .bind(self.org.as_uuid())
        .bind(token_hash.as_bytes().as_slice())
        .fetch_optional(self.tx.conn())
        .await
        .map_err(sql)?
        .map(|row| session_from(&row))
        .transpose()
    }

    async fn update_session(
        &mut self,
        session: SessionRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let next = expected.next();
        let (user, client) = subject_columns(session.subject);
        // The subject is fixed: the statement changes the row only when it matches, and
        // reports the stored version and whether it matched, so missing, stale and a changed
        // subject are told apart in that order. `last_seen_at` never moves back, even when the
        // update was prepared from a read made before a touch (touches check no version).
        let row = sqlx::query(
            "WITH changed AS (
                 UPDATE sessions SET channel = $1, created_at = $2,
                     last_seen_at = GREATEST(last_seen_at, $3), second_factor_passed = $4,
                     version = $5
                 WHERE org_id = $6 AND token_hash = $7 AND version = $8
                   AND user_id IS NOT DISTINCT FROM $9
                   AND api_client_id IS NOT DISTINCT FROM $10
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed, stored.version AS stored,
                    stored.user_id IS NOT DISTINCT FROM $9
                        AND stored.api_client_id IS NOT DISTINCT FROM $10 AS same_subject
             FROM (SELECT 1) AS one
             LEFT JOIN sessions AS stored ON stored.org_id = $6 AND stored.token_hash = $7",
        )
        .bind(enum_text(&session.channel)?)
        .bind(instant(session.times.created_at)?)
        .bind(instant(session.times.last_seen_at)?)
        .bind(session.second_factor_passed)
        .bind(version(next)?)
        .bind(self.org.as_uuid())
        .bind(session.token_hash.as_bytes().as_slice())
        .bind(version(expected)?)
        .bind(user)
        .bind(client)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        if get::<bool>(&row, "changed")? {
            return Ok(next);
        }
        match get::<Option<i64>>(&row, "stored")? {
            None => Err(StoreError::NotFound),
            Some(stored) if stored != version(expected)? => Err(StoreError::stale()),
            Some(_) if get::<Option<bool>>(&row, "same_subject")? != Some(true) => {
                Err(StoreError::InvalidInput {
                    what: "session subject",
                })
            }
            Some(_) => Err(StoreError::stale()),
        }
    }

    async fn touch_session(
        &mut self,
        token_hash: TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1)
             WHERE org_id = $2 AND token_hash = $3",
        )
        .bind(instant(now)?)
        .bind(self.org.as_uuid())
        .bind(token_hash.as_bytes().as_slice())
        .execute(self.tx.conn())
        .await
        .map_err(sql)?;
        if changed.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn delete_session(&mut self, token_hash: TokenHash) -> StoreResult<bool> {
        sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND token_hash = $2")
            .bind(self.org.as_uuid())
            .bind(token_hash.as_bytes().as_slice())
            .execute(self.tx.conn())
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(sql)
    }

    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64> {
        // `sessions_by_user`; `IS DISTINCT FROM` keeps every session when `keep` is NULL.
        sqlx::query(
            "DELETE FROM sessions
             WHERE org_id = $1 AND user_id = $2 AND token_hash IS DISTINCT FROM $3",
        )
        .bind(self.org.as_uuid())
        .bind(user.as_uuid())
        .bind(keep.map(|h| h.as_bytes().to_vec()))
        .execute(self.tx.conn())
        .await
        .map(|done| done.rows_affected())
        .map_err(sql)
    }

    async fn delete_api_client_sessions(&mut self, client: ApiClientId) -> StoreResult<u64> {
        sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND api_client_id = $2")
            .bind(self.org.as_uuid())
            .bind(client.as_uuid())
            .execute(self.tx.conn())
            .await
            .map(|done| done.rows_affected())
            .map_err(sql)
    }

    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let user = token.user.map(|u| u.as_uuid());
        // `token.user`, when given, is checked in the statement; a taken hash writes nothing.
        let inserted = sqlx::query(
            "INSERT INTO tokens (org_id, hash, kind, issued_at, used_at, user_id, payload,
                                 version)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE $6 IS NULL OR EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(token.hash.as_bytes().as_slice())
        .bind(enum_text(&token.state.kind)?)
        .bind(instant(token.state.issued_at)?)
        .bind(opt_instant(token.state.used_at)?)
        .bind(user)
        .bind(body(&token.payload)?)
        .bind(version(Version::FIRST)?)
        .execute(self.tx.conn())
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => Ok(()),
            Ok(_) => match user {
                // `token.user` is not a user of this organisation.
                Some(user) if !has_user(self.tx.conn(), org, user).await? => {
                    Err(StoreError::NotFound)
                }
                _ => Err(StoreError::duplicate("token")),
            },
            // The user was deleted by a transaction this one cannot see.
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sql(e)),
        }
    }

    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>> {
        sqlx::query(
            "SELECT hash, kind, issued_at, used_at, user_id, payload, version
             FROM tokens WHERE org_id = $1 AND hash = $2",
        )
        .bind(self.org.as_uuid())
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(self.tx.conn())
        .await
        .map_err(sql)?
        .map(|row| token_from(&row))
        .transpose()
    }

    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        expected: Version,
    ) -> StoreResult<Version> {
        let next = expected.next();
        // `used_at IS NULL` keeps the first use; the statement reports the stored version and
        // whether the token was used already, so a used token answers its version unchanged.
        let row = sqlx::query(
            "WITH changed AS (
                 UPDATE tokens SET used_at = $1, version = $2
                 WHERE org_id = $3 AND hash = $4 AND version = $5 AND used_at IS NULL
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed, stored.version AS stored,
                    stored.used_at IS NOT NULL AS used
             FROM (SELECT 1) AS one
             LEFT JOIN tokens AS stored ON stored.org_id = $3 AND stored.hash = $4",
        )
        .bind(instant(at)?)
        .bind(version(next)?)
        .bind(self.org.as_uuid())
        .bind(hash.as_bytes().as_slice())
        .bind(version(expected)?)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        if get::<bool>(&row, "changed")? {
            return Ok(next);
        }
        match get::<Option<i64>>(&row, "stored")? {
            None => Err(StoreError::NotFound),
            Some(stored) if stored != version(expected)? => Err(StoreError::stale()),
            Some(_) if get::<Option<bool>>(&row, "used")? == Some(true) => Ok(expected),
            Some(_) => Err(StoreError::stale()),
        }
    }

    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool> {
        sqlx::query("DELETE FROM tokens WHERE org_id = $1 AND hash = $2")
            .bind(self.org.as_uuid())
            .bind(hash.as_bytes().as_slice())
            .execute(self.tx.conn())
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(sql)
    }

    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let user = totp.user.as_uuid();
        let inserted = sqlx::query(
            "INSERT INTO totp (org_id, user_id, version, body)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(user)
        .bind(version(Version::FIRST)?)
        .bind(body(&totp)?)
        .execute(self.tx.conn())
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => Ok(()),
            Ok(_) if has_user(self.tx.conn(), org, user).await? => {
                Err(StoreError::duplicate("totp"))
            }
            Ok(_) => Err(StoreError::NotFound),
            // The user was deleted by a transaction this one cannot see.
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sql(e)),
        }
    }

    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>> {
        sqlx::query("SELECT version, body FROM totp WHERE org_id = $1 AND user_id = $2")
            .bind(self.org.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| versioned(&row, "totp record"))
            .transpose()
    }

    async fn update_totp(&mut self, totp: TotpRecord, expected: Version) -> StoreResult<Version> {
        let next = expected.next();
        let row = sqlx::query(
            "WITH changed AS (
                 UPDATE totp SET version = $1, body = $2
                 WHERE org_id = $3 AND user_id = $4 AND version = $5 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM totp WHERE org_id = $3 AND user_id = $4) AS present",
        )
        .bind(version(next)?)
        .bind(body(&totp)?)
        .bind(self.org.as_uuid())
        .bind(totp.user.as_uuid())
        .bind(version(expected)?)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        changed_or(&row, next)
    }

    async fn delete_totp(&mut self, user: UserId, expected: Version) -> StoreResult<()> {
        let row = sqlx::query(
            "WITH changed AS (
                 DELETE FROM totp WHERE org_id = $1 AND user_id = $2 AND version = $3
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM totp WHERE org_id = $1 AND user_id = $2) AS present",
        )
        .bind(self.org.as_uuid())
        .bind(user.as_uuid())
        .bind(version(expected)?)
        .fetch_one(self.tx.conn())
        .await
        .map_err(sql)?;
        changed_or(&row, ())
    }
}

// ---- provider scope ----

fn checked_key(key: &str) -> StoreResult<&str> {
    if key.is_empty() {
        Err(StoreError::InvalidInput {
            what: "throttle key",
        })
    } else {
        Ok(key)
    }
}

/// `(org_id, hash)` rows of the maintenance queries.
fn due_from(rows: &[PgRow], hash: &str) -> StoreResult<Vec<(OrgId, TokenHash)>> {
    rows.iter()
        .map(|row| Ok((OrgId::from_uuid(get(row, "org_id")?), hash_from(row, hash)?)))
        .collect()
}

#[async_trait]
impl AuthProvider for PgProviderTx {
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        // Each kind has its own cutoff: one range scan of `tokens_by_kind_issued` per kind
        // (at most `max` rows each), merged oldest first.
        let mut kinds = Vec::with_capacity(TokenKind::ALL.len());
        let mut cutoffs = Vec::with_capacity(TokenKind::ALL.len());
        for &kind in TokenKind::ALL.iter() {
            kinds.push(enum_text(&kind)?);
            cutoffs.push(cutoff(now, lifetimes.for_kind(kind)));
        }
        let rows = sqlx::query(
            "SELECT due.org_id, due.hash
             FROM UNNEST($1::text[], $2::int8[]) AS due_kind (name, cutoff)
             CROSS JOIN LATERAL (
                 SELECT issued_at, org_id, hash FROM tokens
                 WHERE kind = due_kind.name AND issued_at <= due_kind.cutoff
                 ORDER BY issued_at, org_id, hash LIMIT $3) AS due
             ORDER BY due.issued_at, due.org_id, due.hash LIMIT $3",
        )
        .bind(kinds)
        .bind(cutoffs)
        .bind(i64::from(max))
        .fetch_all(self.tx.conn())
        .await
        .map_err(sql)?;
        due_from(&rows, "hash")
    }

    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        // Absolute expiry by `created_at`, idle expiry by `last_seen_at`: a range scan of each
        // index (at most `max` rows each), merged without repeats and ordered by the last
        // request as the in-memory store does.
        let rows = sqlx::query(
            "SELECT org_id, token_hash FROM (
                 (SELECT last_seen_at, org_id, token_hash FROM sessions
                  WHERE created_at <= $1 ORDER BY created_at LIMIT $3)
                 UNION
                 (SELECT last_seen_at, org_id, token_hash FROM sessions
                  WHERE last_seen_at <= $2 ORDER BY last_seen_at, org_id, token_hash LIMIT $3)
             ) AS due
             ORDER BY last_seen_at, org_id, token_hash LIMIT $3",
        )
        .bind(cutoff(now, lifetimes.session_absolute))
        .bind(cutoff(now, lifetimes.session_idle))
        .bind(i64::from(max))
        .fetch_all(self.tx.conn())
        .await
        .map_err(sql)?;
        due_from(&rows, "token_hash")
    }

    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>> {
        let key = checked_key(key)?;
        let row = sqlx::query(
            "SELECT failures, last_failure_at, version FROM throttle_counters WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.tx.conn())
        .await
        .map_err(sql)?;
        row.map(|row| {
            Ok(Versioned {
                value: FailureCounter {
                    failures: u32::try_from(get::<i64>(&row, "failures")?).map_err(|_| {
                        StoreError::Corrupt {
                            what: "a throttle counter".into(),
                        }
                    })?,
                    last_failure_at: instant_from(get::<i64>(&row, "last_failure_at")?)?,
                },
                version: get_version(&row, "version")?,
            })
        })
        .transpose()
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
        match expected {
            // The first write: an existing counter means another failure got there first.
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO throttle_counters (key, failures, last_failure_at, version)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                )
                .bind(key)
                .bind(failures)
                .bind(last)
                .bind(version(Version::FIRST)?)
                .execute(self.tx.conn())
                .await
                .map_err(sql)?;
                if inserted.rows_affected() == 1 {
                    Ok(Version::FIRST)
                } else {
                    Err(StoreError::stale())
                }
            }
            Some(expected) => {
                let next = expected.next();
                let changed = sqlx::query(
                    "UPDATE throttle_counters
                     SET failures = $1, last_failure_at = $2, version = $3
                     WHERE key = $4 AND version = $5",
                )
                .bind(failures)
                .bind(last)
                .bind(version(next)?)
                .bind(key)
                .bind(version(expected)?)
                .execute(self.tx.conn())
                .await
                .map_err(sql)?;
                if changed.rows_affected() == 1 {
                    Ok(next)
                } else {
                    Err(StoreError::stale())
                }
            }
        }
    }

    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool> {
        let key = checked_key(key)?;
        sqlx::query("DELETE FROM throttle_counters WHERE key = $1")
            .bind(key)
            .execute(self.tx.conn())
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(sql)
    }

    async fn purge_throttle_counters(
        &mut self,
        last_failure_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        sqlx::query("DELETE FROM throttle_counters WHERE last_failure_at < $1")
            .bind(instant(last_failure_before)?)
            .execute(self.tx.conn())
            .await
            .map(|done| done.rows_affected())
            .map_err(sql)
    }
}

#[async_trait]
impl AuthLookup for PgStore {
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_bytes().as_slice())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| Ok((OrgId::from_uuid(get(&row, "org_id")?), token_hash)))
            .transpose()
    }

    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id FROM tokens WHERE hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| Ok((OrgId::from_uuid(get(&row, "org_id")?), hash)))
            .transpose()
    }
}
