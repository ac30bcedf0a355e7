//! Storage of sessions, reset/confirmation/approval/invitation tokens, TOTP secrets with
//! recovery codes, and login-throttling counters (AUTH-*).
//!
//! Only hashes of tokens are stored ([`TokenHash`]); TOTP secrets arrive sealed by the sdk.
//! Whether a token or session is still valid is decided by `selfcare-core`
//! ([`TokenState::check`](selfcare_core::tokens::TokenState::check),
//! [`SessionTimes::check`](selfcare_core::tokens::SessionTimes::check)); stores keep the data.

use std::fmt;

use async_trait::async_trait;
use selfcare_core::contact::Email;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::roles::{Channel, Role};
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tokens::{SessionTimes, TokenHash, TokenLifetimes, TokenState};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::version::{Version, Versioned};

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "kind",
    content = "id",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum SessionSubject {
    /// A user logged in with e-mail and password.
    User(UserId),
    /// An API client logged in with client id and secret.
    ApiClient(ApiClientId),
}

/// A login session (AUTH-4). It holds only who and how, never the role (USR-5).
///
/// Primary key: `(org_id, token_hash)`. Unique across organisations: `token_hash`.
/// Organisation-scoped index: `(org_id, subject)` for ending a user's sessions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// SHA-256 of the session token.
    pub token_hash: TokenHash,
    /// The user or API client.
    pub subject: SessionSubject,
    /// The channel, from the credential type.
    pub channel: Channel,
    /// Login and last-request times.
    pub times: SessionTimes,
    /// Whether the second factor was passed in this session (AUTH-6).
    pub second_factor_passed: bool,
}

/// What a single-use token carries besides its state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenPayload {
    /// Nothing (a password reset).
    None,
    /// The new login e-mail a confirmation or approval token would set (USR-2, USR-3).
    NewEmail {
        /// The new address.
        email: Email,
    },
    /// An invitation to join the organisation with a role (USR-3).
    Invitation {
        /// The invited address.
        email: Email,
        /// The role granted on acceptance.
        role: Role,
    },
}

/// A reset, confirmation, approval or invitation token.
///
/// Primary key: `(org_id, hash)`. Unique across organisations: `hash`.
/// Provider index: `(kind, issued_at)` for purging expired tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// Kind, issue time, and when it was used.
    pub state: TokenState,
    /// The user it concerns, if any (an invitation may precede the user).
    pub user: Option<UserId>,
    /// What redeeming it does.
    pub payload: TokenPayload,
}

/// One stored recovery code (AUTH-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeSlot {
    /// SHA-256 of the canonical code.
    pub hash: TokenHash,
    /// Whether it was used (single use).
    pub used: bool,
}

/// A user's TOTP enrolment with recovery codes (AUTH-6). One aggregate, so one version guards
/// both the replay of a time step and the single use of a recovery code.
///
/// Primary key: `(org_id, user)`.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpRecord {
    /// The user.
    pub user: UserId,
    /// The secret, encrypted with the host key by the sdk.
    pub sealed_secret: Vec<u8>,
    /// The last accepted time step; a step at or below it is never accepted again.
    pub last_used_step: Option<u64>,
    /// Whether enrolment was confirmed with a first code.
    pub confirmed: bool,
    /// The recovery codes.
    pub recovery_codes: Vec<RecoveryCodeSlot>,
}

impl fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even sealed, secret material stays out of logs.
        f.debug_struct("TotpRecord")
            .field("user", &self.user)
            .field(
                "sealed_secret",
                &format_args!("<{} bytes>", self.sealed_secret.len()),
            )
            .field("last_used_step", &self.last_used_step)
            .field("confirmed", &self.confirmed)
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

/// Organisation-scoped operations on sessions, tokens and TOTP, inside an
/// [`crate::OrgTransaction`]. Every method works on the transaction's organisation only.
#[async_trait]
pub trait AuthTx: Send {
    /// Inserts a session at [`Version::FIRST`].
    ///
    /// It MUST return `NotFound` when the subject is not a user or API client of this
    /// organisation, and `Conflict(Duplicate { what: "session_token" })` when any organisation
    /// has a session with this hash.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(Duplicate)`, or a store failure.
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()>;

    /// The session with `token_hash` in this organisation, `None` when there is none.
    ///
    /// # Errors
    /// A store failure only.
    async fn session(
        &mut self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<Versioned<SessionRecord>>>;

    /// Replaces the session `session.token_hash` (e.g. the second factor passed) and returns
    /// its new version.
    ///
    /// It MUST return `NotFound` when there is no such session, `Conflict(StaleVersion)` when
    /// the stored version is not `expected`, and `InvalidInput` when `subject` differs from the
    /// stored one; on any error nothing is changed.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, `InvalidInput`, or a store failure.
    async fn update_session(
        &mut self,
        session: SessionRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Records a request at `now`: `last_seen_at` MUST become the later of its value and
    /// `now` (never earlier). Touches commute, so this checks and changes no version and
    /// concurrent requests of one session never conflict.
    ///
    /// # Errors
    /// `NotFound` when there is no such session, or a store failure.
    async fn touch_session(
        &mut self,
        token_hash: TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Deletes the session (logout, expiry); returns whether it existed. A logout MUST win
    /// over a concurrent touch, so no version is checked.
    ///
    /// # Errors
    /// A store failure only.
    async fn delete_session(&mut self, token_hash: TokenHash) -> StoreResult<bool>;

    /// Deletes every session whose subject is `SessionSubject::User(user)` except the one with
    /// hash `keep` (AUTH-4: a password or e-mail change ends the user's other sessions; AUTH-2:
    /// a reset ends all, `keep = None`). Returns how many were deleted.
    ///
    /// It MUST keep `keep` and every session of other subjects, and MUST touch no other
    /// organisation.
    ///
    /// # Errors
    /// A store failure only.
    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64>;

    /// Deletes every session whose subject is `SessionSubject::ApiClient(client)` (AUTH-4: a
    /// rotated or revoked client secret ends the client's sessions). Returns how many were
    /// deleted.
    ///
    /// It MUST keep every session of other subjects and MUST touch no other organisation.
    ///
    /// # Errors
    /// A store failure only.
    async fn delete_api_client_sessions(&mut self, client: ApiClientId) -> StoreResult<u64>;

    /// Inserts a token at [`Version::FIRST`].
    ///
    /// It MUST return `Conflict(Duplicate { what: "token" })` when any organisation has a token
    /// with this hash, and `NotFound` when `token.user` names no user of this organisation.
    ///
    /// # Errors
    /// `Conflict(Duplicate)`, `NotFound`, or a store failure.
    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()>;

    /// The token with `hash` in this organisation, `None` when there is none.
    ///
    /// # Errors
    /// A store failure only.
    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>>;

    /// Marks the token used at `at` and returns its new version. A used token MUST stay
    /// used: when it is used already, its first `used_at` is kept and the version returned
    /// unchanged (there is no way to clear `used_at`).
    ///
    /// It MUST return `NotFound` when there is no such token and `Conflict(StaleVersion)`
    /// without changing anything when the stored version is not `expected` (so of two
    /// concurrent redemptions only one succeeds).
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, or a store failure.
    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Deletes the token (purge, or superseded by a newer one); returns whether it existed.
    ///
    /// # Errors
    /// A store failure only.
    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool>;

    /// Inserts the user's TOTP record at [`Version::FIRST`].
    ///
    /// It MUST return `NotFound` when `totp.user` is not a user of this organisation and
    /// `Conflict(Duplicate { what: "totp" })` when the user has one.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(Duplicate)`, or a store failure.
    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()>;

    /// The TOTP record of `user`, `None` when the user has none (or is not of this
    /// organisation).
    ///
    /// # Errors
    /// A store failure only.
    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>>;

    /// Replaces the TOTP record of `totp.user` and returns its new version.
    ///
    /// It MUST return `NotFound` when there is none and `Conflict(StaleVersion)` without
    /// changing anything when the stored version is not `expected` (a time step or recovery
    /// code is then not accepted twice).
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, or a store failure.
    async fn update_totp(&mut self, totp: TotpRecord, expected: Version) -> StoreResult<Version>;

    /// Deletes the TOTP record of `user` (second factor removed).
    ///
    /// It MUST return `NotFound` when there is none and `Conflict(StaleVersion)` without
    /// deleting when the stored version is not `expected`.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, or a store failure.
    async fn delete_totp(&mut self, user: UserId, expected: Version) -> StoreResult<()>;
}

/// Provider-scoped reads (ids and due times) and the login-throttling counters, inside a
/// [`crate::ProviderTransaction`].
///
/// Throttle counters belong to no organisation: they are keyed by
/// [`ThrottleKey::storage_key`](selfcare_core::throttle::ThrottleKey::storage_key) alone,
/// because a login attempt names an e-mail before any organisation is known (AUTH-3).
#[async_trait]
pub trait AuthProvider: Send {
    /// Up to `max` tokens expired at `now` by the lifetime of their kind
    /// ([`selfcare_core::tokens::is_expired`] from `issued_at`), oldest first, as
    /// `(organisation, hash)`; each is then deleted in its organisation's scope. Used tokens
    /// that have not expired MUST NOT be listed (a used link must still say "used").
    ///
    /// # Errors
    /// A store failure only.
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>>;

    /// Up to `max` sessions ended at `now` by
    /// [`SessionTimes::check`](selfcare_core::tokens::SessionTimes::check) (idle or absolute),
    /// as `(organisation, hash)`; each is then deleted in its organisation's scope. Live
    /// sessions MUST NOT be listed.
    ///
    /// # Errors
    /// A store failure only.
    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>>;

    /// The failure counter stored under `key`, `None` when there is none.
    ///
    /// # Errors
    /// `InvalidInput` for an empty key, or a store failure.
    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>>;

    /// Stores `counter` under `key` and returns its version: inserts when `expected` is
    /// `None`, replaces when it is `Some`. It MUST return `Conflict(StaleVersion)` without
    /// writing when `expected` does not match what is stored (a counter exists though `None`
    /// was given, none exists, or its version differs), so concurrent failures are never lost.
    ///
    /// # Errors
    /// `Conflict(StaleVersion)`, `InvalidInput` for an empty key, or a store failure.
    async fn put_throttle_counter(
        &mut self,
        key: &str,
        counter: FailureCounter,
        expected: Option<Version>,
    ) -> StoreResult<Version>;

    /// Deletes the counter under `key` (a successful login clears it); returns whether it
    /// existed.
    ///
    /// # Errors
    /// `InvalidInput` for an empty key, or a store failure.
    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool>;

    /// Deletes every counter whose last failure is before `last_failure_before` (the sdk
    /// passes `now` minus the counter lifetime); returns how many. Newer counters MUST stay.
    ///
    /// # Errors
    /// A store failure only.
    async fn purge_throttle_counters(
        &mut self,
        last_failure_before: OffsetDateTime,
    ) -> StoreResult<u64>;
}

/// Global lookups of sessions and tokens (ids only), on the [`crate::Store`] itself, outside
/// transactions.
#[async_trait]
pub trait AuthLookup: Send + Sync {
    /// The organisation of the session with `token_hash`, with the hash; `None` when there is
    /// none (also after it was deleted).
    ///
    /// # Errors
    /// A store failure only.
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>>;

    /// The organisation of the reset, confirmation, approval or invitation token with `hash`,
    /// with the hash; `None` when there is none (also after it was purged). Used tokens are
    /// still found.
    ///
    /// # Errors
    /// A store failure only.
    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>>;
}
