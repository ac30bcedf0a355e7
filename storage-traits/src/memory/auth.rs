//! The in-memory store's auth tables: sessions and tokens with their global hash indexes,
//! TOTP records, and the provider's throttle counters.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tokens::{TokenHash, TokenLifetimes, is_expired};
use time::OffsetDateTime;

use super::{MemoryProviderTx, MemoryStore, MemoryTx, OrgTable, next_version, vacant};
use crate::auth::{
    AuthLookup, AuthProvider, AuthTx, SessionRecord, SessionSubject, TokenRecord, TotpRecord,
};
use crate::error::{StoreError, StoreResult};
use crate::version::{Version, Versioned};

/// A token hash as an ordered key.
type HashKey = [u8; 32];

fn key(hash: TokenHash) -> HashKey {
    *hash.as_bytes()
}

/// The auth tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Sessions by organisation and token hash.
    pub(crate) sessions: OrgTable<HashKey, Versioned<SessionRecord>>,
    /// The global unique index of session token hashes.
    pub(crate) session_hashes: BTreeMap<HashKey, OrgId>,
    /// Single-use tokens by organisation and hash.
    pub(crate) tokens: OrgTable<HashKey, Versioned<TokenRecord>>,
    /// The global unique index of token hashes.
    pub(crate) token_hashes: BTreeMap<HashKey, OrgId>,
    /// TOTP records by organisation and user.
    pub(crate) totp: OrgTable<UserId, Versioned<TotpRecord>>,
    /// Throttle counters by storage key (provider scope, no organisation).
    pub(crate) throttle: BTreeMap<String, Versioned<FailureCounter>>,
}

impl MemoryTx {
    fn stored_session(&self, hash: TokenHash) -> Option<&Versioned<SessionRecord>> {
        self.inner.auth.sessions.get(&self.org)?.get(&key(hash))
    }

    fn stored_token(&self, hash: TokenHash) -> Option<&Versioned<TokenRecord>> {
        self.inner.auth.tokens.get(&self.org)?.get(&key(hash))
    }

    fn stored_totp(&self, user: UserId) -> Option<&Versioned<TotpRecord>> {
        self.inner.auth.totp.get(&self.org)?.get(&user)
    }

    fn remove_session(&mut self, hash: HashKey) -> bool {
        let org = self.org;
        let existed = self
            .inner
            .remove_in(|s| &mut s.auth.sessions, org, &hash)
            .is_some();
        if existed {
            self.inner.remove(|s| &mut s.auth.session_hashes, &hash);
        }
        existed
    }

    /// Removes this organisation's sessions whose subject matches, except `keep`; returns how
    /// many.
    pub(super) fn remove_sessions_of(
        &mut self,
        matches: impl Fn(SessionSubject) -> bool,
        keep: Option<TokenHash>,
    ) -> u64 {
        let keep = keep.map(key);
        let doomed: Vec<HashKey> = self
            .inner
            .auth
            .sessions
            .get(&self.org)
            .map(|rows| {
                rows.iter()
                    .filter(|(k, row)| matches(row.value.subject) && Some(**k) != keep)
                    .map(|(k, _)| *k)
                    .collect()
            })
            .unwrap_or_default();
        let mut removed = 0u64;
        for hash in doomed {
            if self.remove_session(hash) {
                removed = removed.saturating_add(1);
            }
        }
        removed
    }

    fn subject_exists(&self, subject: SessionSubject) -> bool {
        match subject {
            SessionSubject::User(user) => self.has_user(user),
            SessionSubject::ApiClient(client) => self.has_api_client(client),
        }
    }
}

#[async_trait]
impl AuthTx for MemoryTx {
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()> {
        if !self.subject_exists(session.subject) {
            return Err(StoreError::NotFound);
        }
        let (org, hash) = (self.org, key(session.token_hash));
        self.inner
            .claim(|s| &mut s.auth.session_hashes, hash, org, "session_token")?;
        self.inner
            .put_versioned_in(|s| &mut s.auth.sessions, org, hash, session, Version::FIRST);
        Ok(())
    }

    async fn session(
        &mut self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<Versioned<SessionRecord>>> {
        Ok(self.stored_session(token_hash).cloned())
    }

    async fn update_session(
        &mut self,
        session: SessionRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self
            .stored_session(session.token_hash)
            .ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.subject != session.subject {
            return Err(StoreError::InvalidInput {
                what: "session subject",
            });
        }
        let (org, hash) = (self.org, key(session.token_hash));
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.auth.sessions, org, hash, session, version))
    }

    async fn touch_session(
        &mut self,
        token_hash: TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut row = self
            .stored_session(token_hash)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        if now > row.value.times.last_seen_at {
            row.value.times.touch(now);
            let org = self.org;
            self.inner
                .put_in(|s| &mut s.auth.sessions, org, key(token_hash), row);
        }
        Ok(())
    }

    async fn delete_session(&mut self, token_hash: TokenHash) -> StoreResult<bool> {
        Ok(self.remove_session(key(token_hash)))
    }

    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64> {
        Ok(self.remove_sessions_of(|subject| subject == SessionSubject::User(user), keep))
    }

    async fn delete_api_client_sessions(&mut self, client: ApiClientId) -> StoreResult<u64> {
        Ok(self.remove_sessions_of(|subject| subject == SessionSubject::ApiClient(client), None))
    }

    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()> {
        let (org, hash) = (self.org, key(token.hash));
        vacant(Some(&self.inner.auth.token_hashes), &hash, "token")?;
        if token.user.is_some_and(|user| !self.has_user(user)) {
            return Err(StoreError::NotFound);
        }
        self.inner.put(|s| &mut s.auth.token_hashes, hash, org);
        self.inner
            .put_versioned_in(|s| &mut s.auth.tokens, org, hash, token, Version::FIRST);
        Ok(())
    }

    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>> {
        Ok(self.stored_token(hash).cloned())
    }

    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self.stored_token(hash).ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.state.used_at.is_some() {
            return Ok(stored.version);
        }
        let mut token = stored.value.clone();
        token.state.used_at = Some(at);
        let org = self.org;
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.auth.tokens, org, key(hash), token, version))
    }

    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool> {
        let (org, hash) = (self.org, key(hash));
        let existed = self
            .inner
            .remove_in(|s| &mut s.auth.tokens, org, &hash)
            .is_some();
        if existed {
            self.inner.remove(|s| &mut s.auth.token_hashes, &hash);
        }
        Ok(existed)
    }

    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()> {
        if !self.has_user(totp.user) {
            return Err(StoreError::NotFound);
        }
        if self.stored_totp(totp.user).is_some() {
            return Err(StoreError::duplicate("totp"));
        }
        let (org, user) = (self.org, totp.user);
        self.inner
            .put_versioned_in(|s| &mut s.auth.totp, org, user, totp, Version::FIRST);
        Ok(())
    }

    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>> {
        Ok(self.stored_totp(user).cloned())
    }

    async fn update_totp(&mut self, totp: TotpRecord, expected: Version) -> StoreResult<Version> {
        let version = next_version(self.stored_totp(totp.user), expected)?;
        let (org, user) = (self.org, totp.user);
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.auth.totp, org, user, totp, version))
    }

    async fn delete_totp(&mut self, user: UserId, expected: Version) -> StoreResult<()> {
        next_version(self.stored_totp(user), expected)?;
        let org = self.org;
        self.inner.remove_in(|s| &mut s.auth.totp, org, &user);
        Ok(())
    }
}

fn checked_key(key: &str) -> StoreResult<String> {
    if key.is_empty() {
        Err(StoreError::InvalidInput {
            what: "throttle key",
        })
    } else {
        Ok(key.to_owned())
    }
}

/// The at most `max` rows of a hash-keyed table that `due` gives a time, oldest first.
fn oldest_due<V>(
    table: &OrgTable<HashKey, Versioned<V>>,
    max: u32,
    due: impl Fn(&V) -> Option<OffsetDateTime>,
) -> Vec<(OrgId, TokenHash)> {
    let mut rows: Vec<(OffsetDateTime, OrgId, HashKey)> = table
        .iter()
        .flat_map(|(org, rows)| rows.iter().map(move |(k, row)| (*org, *k, row)))
        .filter_map(|(org, k, row)| Some((due(&row.value)?, org, k)))
        .collect();
    rows.sort();
    rows.into_iter()
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .map(|(_, org, k)| (org, TokenHash::from_bytes(k)))
        .collect()
}

#[async_trait]
impl AuthProvider for MemoryProviderTx {
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        Ok(oldest_due(&self.inner.auth.tokens, max, |token| {
            let state = &token.state;
            is_expired(state.issued_at, now, lifetimes.for_kind(state.kind))
                .then_some(state.issued_at)
        }))
    }

    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        Ok(oldest_due(&self.inner.auth.sessions, max, |session| {
            let times = &session.times;
            times
                .check(now, lifetimes)
                .is_err()
                .then_some(times.last_seen_at)
        }))
    }

    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>> {
        let key = checked_key(key)?;
        Ok(self.inner.auth.throttle.get(&key).cloned())
    }

    async fn put_throttle_counter(
        &mut self,
        key: &str,
        counter: FailureCounter,
        expected: Option<Version>,
    ) -> StoreResult<Version> {
        let key = checked_key(key)?;
        // An upsert: `None` expects no row (the first write), so a missing row is stale too.
        let stored = self.inner.auth.throttle.get(&key).map(|row| row.version);
        if stored != expected {
            return Err(StoreError::stale());
        }
        let version = stored.map_or(Version::FIRST, Version::next);
        Ok(self
            .inner
            .put_versioned(|s| &mut s.auth.throttle, key, counter, version))
    }

    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool> {
        let key = checked_key(key)?;
        Ok(self.inner.remove(|s| &mut s.auth.throttle, &key).is_some())
    }

    async fn purge_throttle_counters(
        &mut self,
        last_failure_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let doomed: Vec<String> = self
            .inner
            .auth
            .throttle
            .iter()
            .filter(|(_, row)| row.value.last_failure_at < last_failure_before)
            .map(|(k, _)| k.clone())
            .collect();
        let mut removed = 0u64;
        for k in doomed {
            if self.inner.remove(|s| &mut s.auth.throttle, &k).is_some() {
                removed = removed.saturating_add(1);
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl AuthLookup for MemoryStore {
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>> {
        let state = self.read().await;
        Ok(state
            .auth
            .session_hashes
            .get(&key(token_hash))
            .map(|org| (*org, token_hash)))
    }

    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        let state = self.read().await;
        Ok(state
            .auth
            .token_hashes
            .get(&key(hash))
            .map(|org| (*org, hash)))
    }
}
