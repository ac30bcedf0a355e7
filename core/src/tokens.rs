//! Opaque tokens (AUTH-2, AUTH-4): sessions, password resets, e-mail confirmations and
//! approvals, invitations, and API client secrets.
//!
//! A [`Token`] is made from 32 random bytes the caller draws (256 bits, above the 128 the rules
//! ask for) and rendered as 43 characters of unpadded base64url, safe in a URL. Only its
//! [`TokenHash`] (SHA-256 of the text) is stored, so a leaked table yields no usable token;
//! lookups go by hash and comparisons are constant-time.
//!
//! Lifetimes are data ([`TokenLifetimes`], part of the portal configuration), and the checks
//! are pure functions of `now`: [`TokenState::check`] for single-use tokens,
//! [`SessionTimes::check`] for sessions.
//!
//! ```
//! use selfcare_core::tokens::{Token, TokenHash};
//! let token = Token::from_random([42; 32]);
//! let stored = token.hash();
//! let returned = Token::parse(token.expose()).unwrap();
//! assert!(stored.matches(&returned));
//! assert!(!format!("{token:?}").contains(token.expose()));
//! ```

use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroize;

use crate::digest::Sha256Digest;
use crate::error::{Error, ReasonCode, Result};
use crate::ids::ApiClientId;
use crate::roles::Channel;

/// Bytes of randomness in a token.
pub const TOKEN_BYTES: usize = 32;
/// Characters of a token's text (unpadded base64url of [`TOKEN_BYTES`]).
pub const TOKEN_CHARS: usize = 43;

/// An opaque secret token as handed to a user (in a link, a cookie, an API response). It never
/// appears in `Debug` output and is zeroized on drop; store only its [`TokenHash`].
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    /// A new token from 32 random bytes drawn by the caller from a CSPRNG.
    pub fn from_random(mut random: [u8; TOKEN_BYTES]) -> Self {
        let text = BASE64URL_NOPAD.encode(&random);
        random.zeroize();
        Token(SecretString::from(text))
    }

    /// A token as it came back from a user. Only the shape is checked (43 base64url
    /// characters, surrounding whitespace ignored); whether it exists is a lookup by
    /// [`Token::hash`].
    ///
    /// # Errors
    /// [`Error::Validation`] on field `token` with `TokenInvalid`; the message never repeats the
    /// input.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if is_canonical_token(text) {
            Ok(Token(SecretString::from(text)))
        } else {
            Err(TokenRejection::Invalid.into())
        }
    }

    /// The text to hand to the user. Never log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The SHA-256 of the text: the only form that is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of_text(self.expose())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut raw = String::deserialize(deserializer)?;
        let parsed = Token::parse(&raw).map_err(serde::de::Error::custom);
        raw.zeroize();
        parsed
    }
}

/// 43 base64url characters whose last one carries no bits beyond the 256 (its low two bits are
/// zero), i.e. exactly what [`Token::from_random`] produces.
fn is_canonical_token(text: &str) -> bool {
    if text.len() != TOKEN_CHARS {
        return false;
    }
    // The decoder rejects non-zero trailing bits, so only the canonical text of 32 bytes passes.
    match BASE64URL_NOPAD.decode(text.as_bytes()) {
        Ok(mut bytes) => {
            let canonical = bytes.len() == TOKEN_BYTES;
            bytes.zeroize();
            canonical
        }
        Err(_) => false,
    }
}

/// SHA-256 of a token's text, the stored form of every token and secret. Equality is
/// constant-time; it serialises as 64 lower-case hex digits. `Debug` shows a short prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenHash(Sha256Digest);

impl TokenHash {
    pub(crate) fn of_text(text: &str) -> Self {
        TokenHash(Sha256Digest::of(text.as_bytes()))
    }

    /// Wraps stored hash bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenHash(Sha256Digest::from_bytes(bytes))
    }

    /// The 32 hash bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `token_hash` with `InvalidFormat`.
    pub fn parse_hex(raw: &str) -> Result<Self> {
        Sha256Digest::parse_hex_field("token_hash", raw).map(TokenHash)
    }

    /// Whether `token` hashes to this value, compared in constant time.
    pub fn matches(&self, token: &Token) -> bool {
        *self == token.hash()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", self.0.short_hex())
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a token is for. A token found under one kind is never accepted as another.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A login session (portal or API); lives by [`SessionTimes`], ended by logout.
    Session,
    /// A password reset link (AUTH-2); single use.
    PasswordReset,
    /// Confirmation of a new e-mail address sent to that address (USR-2); single use.
    EmailConfirmation,
    /// Approval, by the user at the current address, of an e-mail change someone else made
    /// (USR-3); single use.
    EmailChangeApproval,
    /// An invitation to join an organisation (USR-3); single use.
    Invitation,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 5] = [
        TokenKind::Session,
        TokenKind::PasswordReset,
        TokenKind::EmailConfirmation,
        TokenKind::EmailChangeApproval,
        TokenKind::Invitation,
    ];

    /// Whether redeeming the token uses it up (all but sessions).
    pub fn is_single_use(self) -> bool {
        !matches!(self, TokenKind::Session)
    }
}

/// How long tokens and sessions live; part of the portal configuration. Lifetimes are
/// [`time::Duration`]s, compared with [`OffsetDateTime`] instants directly; a negative lifetime
/// counts as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLifetimes {
    /// A session ends after this long without a request (default 30 minutes, AUTH-4).
    pub session_idle: Duration,
    /// A session ends this long after login, active or not (default 12 hours, AUTH-4).
    pub session_absolute: Duration,
    /// A password reset token (default 30 minutes, AUTH-2).
    pub password_reset: Duration,
    /// Confirmation of a new e-mail address (default 24 hours: long enough to reach a mailbox
    /// checked once a day, short enough that an old mail is useless).
    pub email_confirmation: Duration,
    /// Approval of an e-mail change made by someone else (default 72 hours: the user may be
    /// away over a weekend; the change waits, nothing is lost by waiting).
    pub email_change_approval: Duration,
    /// An invitation (default 72 hours, the same reasoning).
    pub invitation: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            password_reset: Duration::minutes(30),
            email_confirmation: Duration::hours(24),
            email_change_approval: Duration::hours(72),
            invitation: Duration::hours(72),
        }
    }
}

impl TokenLifetimes {
    /// The lifetime of a token of `kind` from its issue; for sessions the absolute lifetime
    /// (idle expiry is [`SessionTimes::check`]).
    pub fn for_kind(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Session => self.session_absolute,
            TokenKind::PasswordReset => self.password_reset,
            TokenKind::EmailConfirmation => self.email_confirmation,
            TokenKind::EmailChangeApproval => self.email_change_approval,
            TokenKind::Invitation => self.invitation,
        }
    }
}

/// Whether something that started at `since` and lives `lifetime` is over at `now`: expired
/// from the instant `since + lifetime` on. A `now` before `since` (a clock stepped back) is not
/// expired; a negative lifetime counts as zero.
pub fn is_expired(since: OffsetDateTime, now: OffsetDateTime, lifetime: Duration) -> bool {
    now - since >= lifetime.max(Duration::ZERO)
}

/// Why a token was not accepted. Unknown tokens and tokens of another kind are both `Invalid`,
/// so a caller learns nothing about tokens it does not hold. `?` turns it into an
/// [`Error::Validation`] on `token` with [`TokenRejection::reason`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenRejection {
    /// Malformed, unknown, or of another kind.
    #[error("is not valid")]
    Invalid,
    /// Already redeemed (single use).
    #[error("was already used; request a new one")]
    Used,
    /// Past its lifetime.
    #[error("has expired; request a new one")]
    Expired,
}

impl TokenRejection {
    /// The stable reason code: `token_invalid`, `token_used` or `token_expired`.
    pub fn reason(self) -> ReasonCode {
        match self {
            TokenRejection::Invalid => ReasonCode::TokenInvalid,
            TokenRejection::Used => ReasonCode::TokenUsed,
            TokenRejection::Expired => ReasonCode::TokenExpired,
        }
    }
}

impl From<TokenRejection> for Error {
    fn from(rejection: TokenRejection) -> Error {
        Error::validation("token", rejection.reason(), rejection.to_string())
    }
}

/// The stored state of one issued token (beside its [`TokenHash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenState {
    /// What the token is for.
    pub kind: TokenKind,
    /// When it was issued.
    #[serde(with = "crate::formats::instant")]
    pub issued_at: OffsetDateTime,
    /// When it was redeemed (single-use kinds) or revoked; `None` while usable.
    #[serde(default, with = "crate::formats::instant::option")]
    pub used_at: Option<OffsetDateTime>,
}

impl TokenState {
    /// A freshly issued token.
    pub fn issued(kind: TokenKind, issued_at: OffsetDateTime) -> Self {
        TokenState {
            kind,
            issued_at,
            used_at: None,
        }
    }

    /// Whether the token may be redeemed as `expected` at `now`.
    ///
    /// # Errors
    /// [`TokenRejection::Invalid`] for another kind, `Used` once redeemed, `Expired` after its
    /// lifetime (checked in that order). `?` turns it into an [`Error::Validation`] on `token`.
    pub fn check(
        &self,
        expected: TokenKind,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
    ) -> Result<(), TokenRejection> {
        if self.kind != expected {
            return Err(TokenRejection::Invalid);
        }
        if self.used_at.is_some() {
            return Err(TokenRejection::Used);
        }
        if is_expired(self.issued_at, now, lifetimes.for_kind(self.kind)) {
            return Err(TokenRejection::Expired);
        }
        Ok(())
    }

    /// Checks as [`TokenState::check`] and marks a single-use token used at `now`. The store
    /// must persist the change in the same transaction as the effect of the token.
    ///
    /// # Errors
    /// As [`TokenState::check`].
    pub fn redeem(
        &mut self,
        expected: TokenKind,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
    ) -> Result<(), TokenRejection> {
        self.check(expected, now, lifetimes)?;
        if self.kind.is_single_use() {
            self.used_at = Some(now);
        }
        Ok(())
    }
}

/// Why a session ended on its own. `?` turns it into an [`Error::PermissionDenied`] with
/// [`SessionEnd::reason`]; the `sdk` reports it as `Unauthenticated(SessionExpired)`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// No request for longer than the idle lifetime.
    #[error("the session ended after being idle too long; please log in again")]
    Idle,
    /// Older than the absolute lifetime.
    #[error("the session reached its maximum lifetime; please log in again")]
    Absolute,
}

impl From<SessionEnd> for Error {
    fn from(end: SessionEnd) -> Error {
        Error::denied(end.reason())
    }
}

impl SessionEnd {
    /// `session_idle_timeout` or `session_absolute_timeout`.
    pub fn reason(self) -> ReasonCode {
        match self {
            SessionEnd::Idle => ReasonCode::SessionIdleTimeout,
            SessionEnd::Absolute => ReasonCode::SessionAbsoluteTimeout,
        }
    }
}

/// The timestamps that decide whether a session is alive (AUTH-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTimes {
    /// Login time; the absolute lifetime counts from here.
    #[serde(with = "crate::formats::instant")]
    pub created_at: OffsetDateTime,
    /// Last request; the idle lifetime counts from here.
    #[serde(with = "crate::formats::instant")]
    pub last_seen_at: OffsetDateTime,
}

impl SessionTimes {
    /// A session that starts at `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        SessionTimes {
            created_at: now,
            last_seen_at: now,
        }
    }

    /// Whether the session is still alive at `now`.
    ///
    /// # Errors
    /// [`SessionEnd::Absolute`] when older than `session_absolute` (reported first, since touching
    /// cannot help), otherwise [`SessionEnd::Idle`] when idle for `session_idle` or longer.
    pub fn check(&self, now: OffsetDateTime, lifetimes: &TokenLifetimes) -> Result<(), SessionEnd> {
        if is_expired(self.created_at, now, lifetimes.session_absolute) {
            Err(SessionEnd::Absolute)
        } else if is_expired(self.last_seen_at, now, lifetimes.session_idle) {
            Err(SessionEnd::Idle)
        } else {
            Ok(())
        }
    }

    /// Records a request at `now` (call after a successful [`SessionTimes::check`]). Never moves
    /// `last_seen_at` backwards, so a clock stepped back cannot shorten or extend a session.
    pub fn touch(&mut self, now: OffsetDateTime) {
        if now > self.last_seen_at {
            self.last_seen_at = now;
        }
    }

    /// When the session ends if no further request comes: the earlier of the idle and the
    /// absolute expiry. `None` when that instant is not representable.
    pub fn expires_at(&self, lifetimes: &TokenLifetimes) -> Option<OffsetDateTime> {
        let idle = self.last_seen_at.checked_add(lifetimes.session_idle)?;
        let absolute = self.created_at.checked_add(lifetimes.session_absolute)?;
        Some(idle.min(absolute))
    }
}

/// The kind of credential a session was opened with. The channel of every request comes from
/// here, never from the caller (AUTH-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// E-mail and password (and second factor): the customer portal.
    Password,
    /// API client id and secret: the API.
    ApiClient,
    /// A staff identity vouched for by the host: provider staff.
    Staff,
}

impl CredentialKind {
    /// The channel requests made with this credential belong to.
    pub fn channel(self) -> Channel {
        match self {
            CredentialKind::Password => Channel::Portal,
            CredentialKind::ApiClient => Channel::Api,
            CredentialKind::Staff => Channel::Staff,
        }
    }
}

const CLIENT_ID_PREFIX: &str = "scc_";

/// The public half of API client credentials: `scc_` followed by the 32 lower-case hex digits
/// of the [`ApiClientId`], so the global lookup by client id is a lookup by row id. Not a
/// secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(ApiClientId);

impl ClientId {
    /// The client id of an API client.
    pub const fn of(id: ApiClientId) -> Self {
        ClientId(id)
    }

    /// Parses a client id as submitted (surrounding whitespace ignored, hex in either case).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `client_id` with `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid =
            || Error::validation("client_id", ReasonCode::InvalidFormat, "is not a client id");
        let hex = raw
            .trim()
            .strip_prefix(CLIENT_ID_PREFIX)
            .ok_or_else(invalid)?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        uuid::Uuid::try_parse(hex)
            .map(|u| ClientId(ApiClientId::from_uuid(u)))
            .map_err(|_| invalid())
    }

    /// The API client this id names.
    pub const fn api_client_id(&self) -> ApiClientId {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{CLIENT_ID_PREFIX}{}", self.0.as_uuid().simple())
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

impl TryFrom<String> for ClientId {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.to_string()
    }
}

/// API client credentials as shown once to whoever created them (AUTH-4): the client id and
/// the secret. Store only [`ApiClientCredentials::secret_hash`]; `Debug` hides the secret.
#[derive(Debug, Clone)]
pub struct ApiClientCredentials {
    /// The public client id.
    pub client_id: ClientId,
    /// The secret, a [`Token`].
    pub secret: Token,
}

impl ApiClientCredentials {
    /// New credentials for `id` with a secret from 32 random bytes.
    pub fn issue(id: ApiClientId, random: [u8; TOKEN_BYTES]) -> Self {
        ApiClientCredentials {
            client_id: ClientId::of(id),
            secret: Token::from_random(random),
        }
    }

    /// The hash of the secret, the only form stored.
    pub fn secret_hash(&self) -> TokenHash {
        self.secret.hash()
    }
}

/// Checks a submitted API client secret against the stored hash in constant time.
pub fn verify_api_secret(secret: &Token, stored: &TokenHash) -> bool {
    stored.matches(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

    fn token(seed: u8) -> Token {
        Token::from_random([seed; 32])
    }

    #[test]
    fn auth_2_token_text_is_43_url_safe_characters_from_256_bits() {
        let t = token(0xAB);
        assert_eq!(t.expose().len(), TOKEN_CHARS);
        assert!(
            t.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        // Known vector: 32 zero bytes.
        assert_eq!(token(0).expose(), "A".repeat(43));
        // Every byte matters: tokens from different bytes differ.
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        assert_ne!(Token::from_random(bytes).expose(), token(0).expose());
        // Round trip through parse.
        assert_eq!(Token::parse(t.expose()).unwrap().hash(), t.hash());
        assert_eq!(
            Token::parse(&format!(" {}\n", t.expose())).unwrap().hash(),
            t.hash()
        );
    }

    #[test]
    fn auth_2_token_text_is_unpadded_base64url() {
        assert_eq!(Token::from_random([0; 32]).expose(), "A".repeat(43));
        assert_eq!(
            Token::from_random([0xff; 32]).expose(),
            format!("{}8", "_".repeat(42))
        );
        // RFC 4648 §5: 62 and 63 are '-' and '_'.
        let mut random = [0xfb; 32];
        random[31] = 0xff;
        assert_eq!(
            Token::from_random(random).expose(),
            format!("{}-_8", "-_v7".repeat(10))
        );
    }

    #[test]
    fn auth_2_malformed_tokens_are_invalid_without_echoing_them() {
        let good = token(7);
        let text = good.expose().to_owned();
        let mut too_long = text.clone();
        too_long.push('A');
        let mut bad_char = text.clone();
        bad_char.replace_range(0..1, "+");
        // 'B' has a low bit set: not the encoding of 32 bytes.
        let mut non_canonical = text[..42].to_owned();
        non_canonical.push('B');
        for raw in [
            "",
            &text[..42],
            &too_long,
            &bad_char,
            &non_canonical,
            "ééééééééééééééééééééé",
        ] {
            let err = Token::parse(raw).unwrap_err();
            assert_eq!(err.reason(), ReasonCode::TokenInvalid, "{raw}");
            assert_eq!(err.field(), Some("token"));
            if !raw.is_empty() {
                assert!(!err.to_string().contains(raw));
            }
        }
    }

    #[test]
    fn auth_2_only_the_hash_is_stored_and_compared_in_constant_time() {
        let t = token(1);
        let h = t.hash();
        assert_eq!(h.to_hex().len(), 64);
        assert_ne!(h.to_hex(), t.expose());
        assert!(h.matches(&t));
        assert!(!h.matches(&token(2)));
        // SHA-256 of the text, checked against an independent digest.
        let expected: [u8; 32] = Sha256::digest(t.expose().as_bytes()).into();
        assert_eq!(h.as_bytes(), &expected);
        // Hex and serde round trips.
        assert_eq!(TokenHash::parse_hex(&h.to_hex().to_uppercase()).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), h);
        assert!(TokenHash::parse_hex("xyz").is_err());
        assert!(TokenHash::parse_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn auth_2_debug_of_secret_types_shows_no_secret() {
        let t = token(3);
        let text = t.expose().to_owned();
        assert_eq!(format!("{t:?}"), "Token(***)");
        let h = t.hash();
        assert!(!format!("{h:?}").contains(&h.to_hex()));
        let creds = ApiClientCredentials::issue(ApiClientId::new(T0, [1; 10]), [4; 32]);
        let debug = format!("{creds:?}");
        assert!(!debug.contains(creds.secret.expose()), "{debug}");
        assert!(debug.contains(&creds.client_id.to_string()));
        let parsed: Token = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(parsed.hash(), h);
    }

    #[test]
    fn auth_2_reset_token_expires_after_30_minutes_and_is_single_use() {
        let lifetimes = TokenLifetimes::default();
        assert_eq!(lifetimes.password_reset, Duration::minutes(30));
        let mut state = TokenState::issued(TokenKind::PasswordReset, T0);
        let just_before = T0 + time::Duration::seconds(30 * 60 - 1);
        let at_expiry = T0 + time::Duration::minutes(30);
        assert_eq!(
            state.check(TokenKind::PasswordReset, at_expiry, &lifetimes),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            state.check(TokenKind::EmailConfirmation, just_before, &lifetimes),
            Err(TokenRejection::Invalid)
        );
        state
            .redeem(TokenKind::PasswordReset, just_before, &lifetimes)
            .unwrap();
        assert_eq!(state.used_at, Some(just_before));
        assert_eq!(
            state.redeem(TokenKind::PasswordReset, just_before, &lifetimes),
            Err(TokenRejection::Used)
        );
        let err: Error = TokenRejection::Used.into();
        assert_eq!(err.reason(), ReasonCode::TokenUsed);
        assert_eq!(
            Error::from(TokenRejection::Expired).reason(),
            ReasonCode::TokenExpired
        );
    }

    #[test]
    fn auth_2_every_kind_expires_at_its_own_lifetime() {
        let lifetimes = TokenLifetimes::default();
        for kind in TokenKind::ALL {
            let life = lifetimes.for_kind(kind);
            let state = TokenState::issued(kind, T0);
            let before = T0 + life - time::Duration::SECOND;
            assert_eq!(state.check(kind, before, &lifetimes), Ok(()), "{kind:?}");
            assert_eq!(
                state.check(kind, T0 + life, &lifetimes),
                Err(TokenRejection::Expired),
                "{kind:?}"
            );
        }
        // A session "redeemed" stays usable (not single use).
        let mut session = TokenState::issued(TokenKind::Session, T0);
        session.redeem(TokenKind::Session, T0, &lifetimes).unwrap();
        assert_eq!(session.used_at, None);
    }

    #[test]
    fn auth_2_expiry_edge_cases() {
        assert!(!is_expired(T0, T0 - Duration::HOUR, Duration::MINUTE));
        assert!(is_expired(T0, T0, Duration::ZERO));
        // A negative lifetime is zero: expired at once, but never before it started.
        assert!(is_expired(T0, T0, Duration::minutes(-5)));
        assert!(!is_expired(
            T0,
            T0 - Duration::SECOND,
            Duration::minutes(-5)
        ));
        assert!(!is_expired(
            T0,
            T0 + time::Duration::days(36500),
            Duration::MAX
        ));
    }

    #[test]
    fn auth_4_session_idle_and_absolute_expiry() {
        let lifetimes = TokenLifetimes::default();
        assert_eq!(lifetimes.session_idle, Duration::minutes(30));
        assert_eq!(lifetimes.session_absolute, Duration::hours(12));
        let mut s = SessionTimes::new(T0);
        // Idle: 30 minutes without a request.
        assert_eq!(
            s.check(T0 + time::Duration::minutes(30), &lifetimes),
            Err(SessionEnd::Idle)
        );
        // Activity every 20 minutes keeps it alive until 12 hours, then it ends regardless.
        let mut now = T0;
        while now < T0 + time::Duration::hours(12) - time::Duration::minutes(20) {
            now += time::Duration::minutes(20);
            assert_eq!(s.check(now, &lifetimes), Ok(()), "{now}");
            s.touch(now);
        }
        assert_eq!(
            s.check(T0 + time::Duration::hours(12), &lifetimes),
            Err(SessionEnd::Absolute)
        );
        assert_eq!(SessionEnd::Idle.reason(), ReasonCode::SessionIdleTimeout);
        assert_eq!(
            SessionEnd::Absolute.reason(),
            ReasonCode::SessionAbsoluteTimeout
        );
    }

    #[test]
    fn auth_2_auth_4_rejections_are_errors_and_convert_with_question_mark() {
        fn redeem(state: &mut TokenState, now: OffsetDateTime) -> Result<()> {
            state.redeem(TokenKind::PasswordReset, now, &TokenLifetimes::default())?;
            Ok(())
        }
        fn resume(s: &SessionTimes, now: OffsetDateTime) -> Result<()> {
            s.check(now, &TokenLifetimes::default())?;
            Ok(())
        }
        let mut state = TokenState::issued(TokenKind::PasswordReset, T0);
        redeem(&mut state, T0).unwrap();
        let err = redeem(&mut state, T0).unwrap_err();
        assert_eq!(
            err,
            Error::validation(
                "token",
                ReasonCode::TokenUsed,
                "was already used; request a new one"
            )
        );
        let session = SessionTimes::new(T0);
        assert_eq!(
            resume(&session, T0 + time::Duration::hours(12)).unwrap_err(),
            Error::denied(ReasonCode::SessionAbsoluteTimeout)
        );
        assert_eq!(
            resume(&session, T0 + time::Duration::minutes(31)).unwrap_err(),
            Error::denied(ReasonCode::SessionIdleTimeout)
        );
        // Both are std errors with a message, so hosts can box them too.
        let boxed: Box<dyn std::error::Error> = Box::new(SessionEnd::Idle);
        assert!(boxed.to_string().contains("idle"));
        let boxed: Box<dyn std::error::Error> = Box::new(TokenRejection::Expired);
        assert_eq!(boxed.to_string(), "has expired; request a new one");
    }

    #[test]
    fn auth_4_touch_never_moves_backwards_and_expiry_is_the_earlier_limit() {
        let lifetimes = TokenLifetimes::default();
        let mut s = SessionTimes::new(T0);
        s.touch(T0 + time::Duration::minutes(10));
        s.touch(T0);
        assert_eq!(s.last_seen_at, T0 + time::Duration::minutes(10));
        assert_eq!(
            s.expires_at(&lifetimes),
            Some(T0 + time::Duration::minutes(40))
        );
        s.touch(T0 + time::Duration::minutes(715));
        assert_eq!(
            s.expires_at(&lifetimes),
            Some(T0 + time::Duration::hours(12))
        );
    }

    #[test]
    fn auth_4_channel_comes_from_the_credential() {
        assert_eq!(CredentialKind::Password.channel(), Channel::Portal);
        assert_eq!(CredentialKind::ApiClient.channel(), Channel::Api);
        assert_eq!(CredentialKind::Staff.channel(), Channel::Staff);
    }

    #[test]
    fn auth_4_api_client_id_round_trips_and_secret_is_stored_hashed() {
        let id = ApiClientId::new(T0, [9; 10]);
        let creds = ApiClientCredentials::issue(id, [5; 32]);
        let text = creds.client_id.to_string();
        assert!(text.starts_with("scc_") && text.len() == 36, "{text}");
        assert_eq!(ClientId::parse(&text).unwrap().api_client_id(), id);
        assert_eq!(
            ClientId::parse(&format!(
                " {} ",
                text.to_uppercase().replace("SCC_", "scc_")
            ))
            .unwrap()
            .api_client_id(),
            id
        );
        for bad in ["", "scc_", "abc", &text[4..], &format!("{text}0"), "scc_zz"] {
            assert_eq!(
                ClientId::parse(bad).unwrap_err().reason(),
                ReasonCode::InvalidFormat
            );
        }
        let stored = creds.secret_hash();
        let submitted = Token::parse(creds.secret.expose()).unwrap();
        assert!(verify_api_secret(&submitted, &stored));
        assert!(!verify_api_secret(
            &token(5),
            &TokenHash::from_bytes([0; 32])
        ));
        let json = serde_json::to_string(&creds.client_id).unwrap();
        assert_eq!(
            serde_json::from_str::<ClientId>(&json).unwrap(),
            creds.client_id
        );
    }

    proptest! {
        #[test]
        fn auth_2_token_hash_never_equals_the_token(bytes in any::<[u8; 32]>()) {
            let t = Token::from_random(bytes);
            let h = t.hash();
            prop_assert_ne!(h.to_hex(), t.expose());
            prop_assert!(!h.to_hex().contains(t.expose()));
            prop_assert!(h.matches(&Token::parse(t.expose()).unwrap()));
            prop_assert!(is_canonical_token(t.expose()));
        }

        #[test]
        fn auth_2_distinct_random_bytes_give_distinct_tokens(
            a in any::<[u8; 32]>(), b in any::<[u8; 32]>()
        ) {
            prop_assume!(a != b);
            let (ta, tb) = (Token::from_random(a), Token::from_random(b));
            prop_assert_ne!(ta.expose(), tb.expose());
        }

        #[test]
        fn auth_2_parse_never_panics(raw in "\\PC{0,60}") {
            let _ = Token::parse(&raw);
            let _ = TokenHash::parse_hex(&raw);
            let _ = ClientId::parse(&raw);
        }
    }
}
