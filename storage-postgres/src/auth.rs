//! (being written) the auth area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::contact::Email;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::roles::{Channel, Role};
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tokens::{SessionTimes, TokenHash, TokenLifetimes, TokenState};
use selfcare_storage::StoreError;
use selfcare_storage::auth::*;
use selfcare_storage::error::StoreResult;
use selfcare_storage::version::{Version, Versioned};
use std::fmt;
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::auth::AuthTx for PgTx {
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn session(
        &mut self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<Versioned<SessionRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_session(
        &mut self,
        session: SessionRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn touch_session(
        &mut self,
        token_hash: TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_session(&mut self, token_hash: TokenHash) -> StoreResult<bool> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_api_client_sessions(&mut self, client: ApiClientId) -> StoreResult<u64> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_totp(&mut self, totp: TotpRecord, expected: Version) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_totp(&mut self, user: UserId, expected: Version) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::auth::AuthProvider for PgProviderTx {
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn put_throttle_counter(
        &mut self,
        key: &str,
        counter: FailureCounter,
        expected: Option<Version>,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn purge_throttle_counters(
        &mut self,
        last_failure_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::auth::AuthLookup for PgStore {
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
