//! The optional second factor (AUTH-6): TOTP enrolment, the login challenge, single-use
//! recovery codes and the organisation-wide requirement.
//!
//! - [`Session::enrol_totp`] (current password) draws a secret and stores it unconfirmed;
//!   [`Session::confirm_totp`] confirms it with a first code and returns the recovery codes,
//!   shown once (only their SHA-256 is stored).
//! - From then on [`Portal::login`] answers
//!   [`LoginOutcome::SecondFactorRequired`](crate::LoginOutcome::SecondFactorRequired) with a
//!   short-lived challenge ([`CHALLENGE_LIFETIME`]); [`Portal::complete_second_factor`] with a
//!   code from the authenticator app or a recovery code opens the session. A time step is never
//!   accepted twice and a recovery code works once; failures are throttled per user and per
//!   source like logins (AUTH-3).
//! - [`Session::disable_totp`], [`Session::regenerate_recovery_codes`], and
//!   [`Session::require_second_factor`] for Owners and Admins.
//!
//! The secret is stored sealed with ChaCha20-Poly1305 under a key derived from the host key
//! (`selfcare/totp-seal/v1`), with a random nonce and the organisation and user ids as
//! associated data, so a sealed secret copied to another user or organisation does not open.
//! API clients authenticate with their client secret and are never challenged.
//!
//! ```no_run
//! # async fn demo(portal: selfcare::Portal, session: selfcare::Session) -> selfcare::Result<()> {
//! use selfcare::{LoginOutcome, RequestContext};
//! use selfcare_core::password::Password;
//! let enrolment = session.enrol_totp(Password::new("correct horse battery staple")).await?;
//! // show enrolment.provisioning_uri as a QR code, then:
//! let codes = session.confirm_totp("123456").await?;
//! let ctx = RequestContext::from_source("203.0.113.7");
//! let outcome = portal.login("ada@example.com", Password::new("correct horse battery staple"), &ctx).await?;
//! if let LoginOutcome::SecondFactorRequired(challenge) = outcome {
//!     let session = portal.complete_second_factor(challenge.token(), "654321", &ctx).await?;
//! }
//! # Ok(()) }
//! ```

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use selfcare_core::ReasonCode;
use selfcare_core::audit::{
    AuditActor, AuditEvent, AuditEventName, AuditNote, HostKey, Outcome, PersonalField,
};
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::password::Password;
use selfcare_core::policy::{Action, Actor};
use selfcare_core::roles::Channel;
use selfcare_core::throttle::ThrottleKey;
use selfcare_core::tokens::{SessionTimes, Token, TokenHash, TokenKind, TokenState, is_expired};
use selfcare_core::totp::{
    self, RECOVERY_RANDOM_BYTES, RecoveryCode, TotpSecret, generate_recovery_codes,
    redeem_recovery_code,
};
use selfcare_storage::OrgTransaction;
use selfcare_storage::accounts::{UserRecord, UserStatus};
use selfcare_storage::auth::{
    RecoveryCodeSlot, SessionRecord, SessionSubject, TokenPayload, TokenRecord, TotpRecord,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroize;

use crate::error::{Error, Result, UnauthenticatedKind};
use crate::portal::{Attempt, Portal, RequestContext, fields, target};
use crate::session::Session;

/// How long a login challenge can be completed (AUTH-6): long enough to open an authenticator
/// app, short enough that a stolen challenge is useless soon.
pub const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);

/// The label of the key derived from the host key for sealing TOTP secrets.
const SEAL_LABEL: &str = "selfcare/totp-seal/v1";
/// The first byte of a sealed secret: the sealing format, so it can change later.
const SEAL_FORMAT: u8 = 1;
/// ChaCha20-Poly1305 nonce length.
const NONCE_BYTES: usize = 12;

/// A second-factor challenge from [`Portal::login`]: an opaque token (256 bits; only its hash
/// is stored) bound to the user, valid until `expires_at`. `Debug` hides the token.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorChallenge {
    /// The challenge token to pass to [`Portal::complete_second_factor`].
    #[serde(with = "secret_text")]
    pub token: SecretString,
    /// When the challenge stops being accepted.
    #[serde(with = "selfcare_core::formats::instant")]
    pub expires_at: OffsetDateTime,
}

impl SecondFactorChallenge {
    /// The challenge token.
    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }
}

impl std::fmt::Debug for SecondFactorChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorChallenge")
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What [`Session::enrol_totp`] gives: the secret for the authenticator app, as a QR-code URI
/// and as base32 text for typing. Shown once; `Debug` hides both.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolment {
    /// The `otpauth://totp/…` URI (contains the secret).
    #[serde(with = "secret_text")]
    pub provisioning_uri: SecretString,
    /// The secret in RFC 4648 base32 without padding.
    #[serde(with = "secret_text")]
    pub secret: SecretString,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("provisioning_uri", &"***")
            .field("secret", &"***")
            .finish()
    }
}

/// Fresh recovery codes, shown once (each works once; only their hashes are stored). `Debug`
/// shows how many there are, never the codes.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodes {
    /// The codes, grouped `XXXX-XXXX-XXXX-XXXX`.
    #[serde(with = "secret_list")]
    pub codes: Vec<SecretString>,
}

impl RecoveryCodes {
    fn of(codes: &[RecoveryCode]) -> Self {
        RecoveryCodes {
            codes: codes
                .iter()
                .map(|c| SecretString::from(c.expose().to_owned()))
                .collect(),
        }
    }

    /// The codes as text, to show to the user.
    pub fn expose(&self) -> Vec<&str> {
        self.codes.iter().map(|c| c.expose_secret()).collect()
    }
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} codes, ***)", self.codes.len())
    }
}

/// The user's second factor as [`Session::second_factor`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorStatus {
    /// TOTP is enrolled and confirmed (logins are challenged).
    pub enabled: bool,
    /// An enrolment waits for its first code.
    pub pending: bool,
    /// Unused recovery codes left.
    pub recovery_codes_left: usize,
    /// The organisation requires a second factor of every user.
    pub required_by_organisation: bool,
}

/// Serde for a secret string: written out only where the response carries it on purpose.
pub(crate) mod secret_text {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.expose_secret())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

/// Serde for a list of secret strings.
mod secret_list {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        values: &[SecretString],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.expose_secret()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<SecretString>, D::Error> {
        Vec::<String>::deserialize(d).map(|v| v.into_iter().map(SecretString::from).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Sealing
// ---------------------------------------------------------------------------------------------

fn cipher(key: &HostKey) -> ChaCha20Poly1305 {
    let derived = key.derive(SEAL_LABEL);
    ChaCha20Poly1305::new(Key::from_slice(derived.expose_secret()))
}

/// The associated data: the secret opens only for the user and organisation it was sealed for.
fn associated_data(org: OrgId, user: UserId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SEAL_LABEL.len() + 32);
    aad.extend_from_slice(SEAL_LABEL.as_bytes());
    aad.extend_from_slice(org.as_uuid().as_bytes());
    aad.extend_from_slice(user.as_uuid().as_bytes());
    aad
}

/// Seals `secret` for `user` of `org`: format byte, nonce, ciphertext with tag.
fn seal(
    key: &HostKey,
    org: OrgId,
    user: UserId,
    secret: &TotpSecret,
    nonce: [u8; NONCE_BYTES],
) -> Result<Vec<u8>> {
    let aad = associated_data(org, user);
    let sealed = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.expose_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| Error::Internal)?;
    let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
    out.push(SEAL_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed secret; `None` when it was sealed for someone else, with another key, or was
/// changed.
fn open(key: &HostKey, org: OrgId, user: UserId, sealed: &[u8]) -> Option<TotpSecret> {
    let (&format, rest) = sealed.split_first()?;
    if format != SEAL_FORMAT {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at_checked(NONCE_BYTES)?;
    let aad = associated_data(org, user);
    let mut plain = cipher(key)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .ok()?;
    let secret = TotpSecret::from_bytes(&plain).ok();
    plain.zeroize();
    secret
}

// ---------------------------------------------------------------------------------------------
// Checking a code
// ---------------------------------------------------------------------------------------------

/// Which factor a code was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Used {
    Totp,
    RecoveryCode,
}

/// Checks `code` (six digits from the app, or a recovery code) against `record` at `now` and
/// returns the record to store: the accepted time step recorded (never accepted again) or the
/// recovery code marked used. A recovery code counts only once the enrolment is confirmed.
fn accept(
    key: &HostKey,
    org: OrgId,
    record: &TotpRecord,
    code: &str,
    now: OffsetDateTime,
) -> std::result::Result<(TotpRecord, Used), selfcare_core::Error> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut next = record.clone();
    if compact.len() == usize::from(totp::DIGITS) && compact.bytes().all(|b| b.is_ascii_digit()) {
        let Some(secret) = open(key, org, record.user, &record.sealed_secret) else {
            tracing::warn!("selfcare: a stored TOTP secret does not open with the host key");
            return Err(selfcare_core::Error::validation(
                "code",
                ReasonCode::TotpCodeInvalid,
                "is not valid",
            ));
        };
        let step = secret.verify(&compact, now, record.last_used_step)?;
        next.last_used_step = Some(step);
        return Ok((next, Used::Totp));
    }
    let unused: Vec<(usize, TokenHash)> = record
        .recovery_codes
        .iter()
        .enumerate()
        .filter(|(_, slot)| !slot.used && record.confirmed)
        .map(|(index, slot)| (index, slot.hash))
        .collect();
    let hashes: Vec<TokenHash> = unused.iter().map(|(_, hash)| *hash).collect();
    let found = redeem_recovery_code(code, &hashes)?;
    if let Some(slot) = unused
        .get(found)
        .and_then(|(index, _)| next.recovery_codes.get_mut(*index))
    {
        slot.used = true;
    }
    Ok((next, Used::RecoveryCode))
}

/// The throttle key of second-factor attempts for one user.
fn user_key(user: UserId) -> String {
    ThrottleKey::second_factor_user(user).storage_key()
}

fn slots(codes: &[RecoveryCode]) -> Vec<RecoveryCodeSlot> {
    codes
        .iter()
        .map(|c| RecoveryCodeSlot {
            hash: c.hash(),
            used: false,
        })
        .collect()
}

fn note(text: &str) -> Result<Option<AuditNote>> {
    AuditNote::parse(text).map(Some).map_err(Error::from)
}

fn stale() -> Attempt {
    Attempt::Fail(Error::Conflict {
        reason: ReasonCode::StaleVersion,
    })
}

// ---------------------------------------------------------------------------------------------
// Login challenge
// ---------------------------------------------------------------------------------------------

/// Stores a challenge for `user` under `token` inside the login's transaction and audits it
/// (`authn_token_created`: the password was right, the second factor is pending).
pub(crate) async fn issue_challenge(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    org: OrgId,
    user: UserId,
    token: &Token,
    ctx: &RequestContext,
) -> std::result::Result<SecondFactorChallenge, Attempt> {
    let now = portal.now();
    // No token kind of its own: a `Session`-kind token record is never accepted by the
    // redemption of any other kind, and is found only here.
    tx.insert_token(TokenRecord {
        hash: token.hash(),
        state: TokenState::issued(TokenKind::Session, now),
        user: Some(user),
        payload: TokenPayload::None,
    })
    .await?;
    let mut event = portal.audit_event(
        Some(org),
        AuditActor::User { id: user },
        Channel::Portal,
        AuditEventName::AuthnTokenCreated,
        target("user", user)?,
        Outcome::Success,
    )?;
    event.note = note("password verified; second factor challenge issued")?;
    event.personal = portal.personal([(PersonalField::Source, ctx.source.as_str())])?;
    portal.audit(tx, event).await?;
    Ok(SecondFactorChallenge {
        token: SecretString::from(token.expose().to_owned()),
        expires_at: now.saturating_add(CHALLENGE_LIFETIME),
    })
}

/// The user a stored challenge is for, while it can still be completed.
fn live_challenge(record: &TokenRecord, now: OffsetDateTime) -> Option<UserId> {
    let state = record.state;
    let live = state.kind == TokenKind::Session
        && state.used_at.is_none()
        && !is_expired(state.issued_at, now, CHALLENGE_LIFETIME)
        && record.payload == TokenPayload::None;
    live.then_some(record.user).flatten()
}

impl Portal {
    /// Completes a login that answered
    /// [`LoginOutcome::SecondFactorRequired`](crate::LoginOutcome::SecondFactorRequired)
    /// (AUTH-6) with a six-digit code from the authenticator app or one of the recovery codes,
    /// and opens the session. A time step already used is refused; a recovery code is used up.
    /// Failures are throttled per user (across challenges) and per source, and audited as
    /// `authn_mfa_fail`; a success as `authn_login_success`.
    ///
    /// # Errors
    /// `Unauthenticated(SessionExpired)` for an unknown, used or expired challenge (log in
    /// again); `Unauthenticated(InvalidCredentials)` for a wrong, reused or used-up code;
    /// `Throttled { retry_after }`; `Unavailable`.
    pub async fn complete_second_factor(
        &self,
        challenge: &str,
        code_or_recovery_code: &str,
        ctx: &RequestContext,
    ) -> Result<Session> {
        let expired = || Error::unauthenticated(UnauthenticatedKind::SessionExpired);
        let challenge = Token::parse(challenge.trim()).map_err(|_| expired())?;
        let hash = challenge.hash();
        let (org, _) = self
            .store()
            .token_by_hash(hash)
            .await?
            .ok_or_else(expired)?;
        let now = self.now();
        let user = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                let record = tx.token(hash).await?.ok_or_else(expired)?;
                Ok(live_challenge(&record.value, now).ok_or_else(expired)?)
            })
            .await?;
        let user_key = user_key(user);
        let source_key = ThrottleKey::login_source(&ctx.source).storage_key();
        self.check_throttle(&[&user_key, &source_key]).await?;

        let session_token = Token::from_random(self.random()?);
        let outcome = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                let record = tx.token(hash).await?.ok_or_else(expired)?;
                if live_challenge(&record.value, now) != Some(user) {
                    return Err(expired().into());
                }
                tx.user(user)
                    .await?
                    .filter(|u| u.value.status == UserStatus::Active)
                    .ok_or_else(expired)?;
                let totp = tx
                    .totp(user)
                    .await?
                    .filter(|t| t.value.confirmed)
                    .ok_or_else(expired)?;
                let (next, used) = match accept(
                    self.config().host_key(),
                    org,
                    &totp.value,
                    code_or_recovery_code,
                    now,
                ) {
                    Ok(accepted) => accepted,
                    // Nothing is written here; the failure is recorded on its own below.
                    Err(e) => return Ok(Err(e.reason())),
                };
                tx.update_totp(next, totp.version).await?;
                tx.mark_token_used(hash, now, record.version).await?;
                tx.insert_session(SessionRecord {
                    token_hash: session_token.hash(),
                    subject: SessionSubject::User(user),
                    channel: Channel::Portal,
                    times: SessionTimes::new(now),
                    second_factor_passed: true,
                })
                .await?;
                let mut event = self.audit_event(
                    Some(org),
                    AuditActor::User { id: user },
                    Channel::Portal,
                    AuditEventName::AuthnLoginSuccess,
                    target("user", user)?,
                    Outcome::Success,
                )?;
                if used == Used::RecoveryCode {
                    event.note = note("second factor passed with a recovery code")?;
                }
                event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
                self.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(Ok(()))
            })
            .await?;
        match outcome {
            Ok(()) => {
                self.clear_throttle(&user_key).await?;
                Ok(Session::opened(
                    self,
                    &session_token,
                    org,
                    user,
                    Channel::Portal,
                ))
            }
            Err(reason) => {
                self.count_failures(&[&user_key, &source_key]).await?;
                self.audit_mfa_failure(
                    org,
                    AuditActor::Anonymous,
                    Channel::Portal,
                    user,
                    reason,
                    Some(ctx),
                )
                .await?;
                Err(Error::unauthenticated(
                    UnauthenticatedKind::InvalidCredentials,
                ))
            }
        }
    }

    /// Writes a refused second factor (`authn_mfa_fail`) in its own transaction (AUD-1).
    async fn audit_mfa_failure(
        &self,
        org: OrgId,
        actor: AuditActor,
        channel: Channel,
        user: UserId,
        reason: ReasonCode,
        ctx: Option<&RequestContext>,
    ) -> Result<()> {
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let mut event = self.audit_event(
                Some(org),
                actor.clone(),
                channel,
                AuditEventName::AuthnMfaFail,
                target("user", user)?,
                Outcome::Failure,
            )?;
            event.reason = Some(reason);
            if let Some(ctx) = ctx {
                event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
            }
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Session use cases
// ---------------------------------------------------------------------------------------------

impl Session {
    /// The logged-in user's second factor: enabled, pending, recovery codes left, and whether
    /// the organisation requires one. Allowed before enrolment, so a user under the
    /// organisation's requirement can see why.
    ///
    /// # Errors
    /// `Unauthenticated(SessionExpired)`; `PermissionDenied` for an ApiUser; `Unavailable`.
    pub async fn second_factor(&self) -> Result<SecondFactorStatus> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (user, _) = self.authorize(tx.as_mut(), Action::ViewOwnProfile).await?;
            let totp = tx.totp(user.value.id).await?.map(|t| t.value);
            let required = tx
                .customer()
                .await?
                .is_some_and(|c| c.value.second_factor_required);
            Ok(SecondFactorStatus {
                enabled: totp.as_ref().is_some_and(|t| t.confirmed),
                pending: totp.as_ref().is_some_and(|t| !t.confirmed),
                recovery_codes_left: totp
                    .as_ref()
                    .filter(|t| t.confirmed)
                    .map_or(0, |t| t.recovery_codes.iter().filter(|s| !s.used).count()),
                required_by_organisation: required,
            })
        })
        .await
    }

    /// Starts TOTP enrolment (AUTH-6): checks the current password, draws a new secret, stores
    /// it sealed and unconfirmed (replacing an earlier unconfirmed one), and returns it for the
    /// authenticator app. Logins are not challenged until [`Session::confirm_totp`]. Audited as
    /// `user_updated` (field `second_factor`); a wrong password as `authn_mfa_fail`.
    ///
    /// # Errors
    /// `Unauthenticated(InvalidCredentials)` for a wrong password;
    /// `Conflict(already_exists)` when TOTP is enabled already (disable it first);
    /// `Unauthenticated(SessionExpired)`; `PermissionDenied` for an ApiUser;
    /// `Conflict(stale_version)` when the user changed meanwhile; `Unavailable`.
    pub async fn enrol_totp(&self, current_password: Password) -> Result<TotpEnrolment> {
        let portal = self.portal();
        let (before, actor) = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (user, actor) = self.authorize(tx.as_mut(), Action::EnrolTotp).await?;
                if tx
                    .totp(user.value.id)
                    .await?
                    .is_some_and(|t| t.value.confirmed)
                {
                    return Err(already_enabled());
                }
                Ok((user, actor))
            })
            .await?;
        self.reauthenticate(&actor, &before.value, current_password)
            .await?;

        let secret = TotpSecret::from_random(portal.random()?);
        let sealed = seal(
            portal.config().host_key(),
            self.org(),
            actor.user,
            &secret,
            portal.random()?,
        )?;
        let enrolment = TotpEnrolment {
            provisioning_uri: secret
                .provisioning_uri(&portal.config().totp_issuer, before.value.email.as_str())
                .map_err(Error::from)?,
            secret: secret.base32(),
        };
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (user, actor) = self.authorize(tx.as_mut(), Action::EnrolTotp).await?;
            // The password was verified against this version.
            if user.version != before.version {
                return Err(stale());
            }
            let record = TotpRecord {
                user: actor.user,
                sealed_secret: sealed.clone(),
                last_used_step: None,
                confirmed: false,
                recovery_codes: Vec::new(),
            };
            match tx.totp(actor.user).await? {
                Some(t) if t.value.confirmed => return Err(already_enabled()),
                Some(t) => {
                    tx.update_totp(record, t.version).await?;
                }
                None => tx.insert_totp(record).await?,
            }
            let mut event =
                self.mfa_event(&actor, AuditEventName::UserUpdated, Outcome::Success)?;
            event.changed_fields = fields(&["second_factor"])?;
            event.note = note("TOTP enrolment started")?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(enrolment)
    }

    /// Confirms the pending enrolment with a first code from the authenticator app (AUTH-6):
    /// from now on logins are challenged. Returns the recovery codes, shown once. Audited as
    /// `authn_mfa_enrolled`; a wrong code as `authn_mfa_fail`.
    ///
    /// # Errors
    /// `Validation` on `code` (`totp_code_invalid`, `totp_code_reused`); `NotFound` when no
    /// enrolment was started; `Conflict(already_exists)` when it is confirmed already;
    /// `Throttled`; `Unauthenticated(SessionExpired)`; `PermissionDenied` for an ApiUser;
    /// `Unavailable`.
    pub async fn confirm_totp(&self, code: &str) -> Result<RecoveryCodes> {
        let portal = self.portal();
        let codes = generate_recovery_codes(&portal.random::<RECOVERY_RANDOM_BYTES>()?);
        let own_session = Token::parse(self.token()).map_err(Error::from)?.hash();
        let now = portal.now();
        portal.check_throttle(&[&user_key(self.user())]).await?;
        let outcome = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor) = self.authorize(tx.as_mut(), Action::ConfirmTotp).await?;
                let totp = tx.totp(actor.user).await?.ok_or(Error::NotFound)?;
                if totp.value.confirmed {
                    return Err(already_enabled());
                }
                let (mut next, _) = match accept(
                    portal.config().host_key(),
                    self.org(),
                    &totp.value,
                    code,
                    now,
                ) {
                    Ok(accepted) => accepted,
                    Err(e) => return Ok(Err((actor, e))),
                };
                next.confirmed = true;
                next.recovery_codes = slots(&codes);
                tx.update_totp(next, totp.version).await?;
                // This session has just shown the second factor.
                if let Some(session) = tx.session(own_session).await? {
                    let mut passed = session.value;
                    passed.second_factor_passed = true;
                    tx.update_session(passed, session.version).await?;
                }
                let event =
                    self.mfa_event(&actor, AuditEventName::AuthnMfaEnrolled, Outcome::Success)?;
                portal.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(Ok(()))
            })
            .await?;
        self.settle(outcome).await?;
        Ok(RecoveryCodes::of(&codes))
    }

    /// Turns the second factor off (AUTH-6): needs the current password and a code from the
    /// app or a recovery code. When the organisation requires a second factor, the session is
    /// then limited to enrolling again. Audited as `authn_mfa_disabled`; failures as
    /// `authn_mfa_fail`.
    ///
    /// # Errors
    /// `Unauthenticated(InvalidCredentials)` for a wrong password; `Validation` on `code`
    /// (`totp_code_invalid`, `totp_code_reused`, `recovery_code_invalid`); `NotFound` when no
    /// second factor is enrolled; `Throttled`; `Unauthenticated(SessionExpired)`;
    /// `PermissionDenied`; `Conflict(stale_version)`; `Unavailable`.
    pub async fn disable_totp(
        &self,
        current_password: Password,
        code_or_recovery_code: &str,
    ) -> Result<()> {
        let portal = self.portal();
        let (before, actor) = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (user, actor) = self.authorize(tx.as_mut(), Action::DisableTotp).await?;
                tx.totp(user.value.id).await?.ok_or(Error::NotFound)?;
                Ok((user, actor))
            })
            .await?;
        self.reauthenticate(&actor, &before.value, current_password)
            .await?;
        let now = portal.now();
        portal.check_throttle(&[&user_key(self.user())]).await?;
        let outcome = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (user, actor) = self.authorize(tx.as_mut(), Action::DisableTotp).await?;
                if user.version != before.version {
                    return Err(stale());
                }
                let totp = tx.totp(actor.user).await?.ok_or(Error::NotFound)?;
                if totp.value.confirmed
                    && let Err(e) = accept(
                        portal.config().host_key(),
                        self.org(),
                        &totp.value,
                        code_or_recovery_code,
                        now,
                    )
                {
                    return Ok(Err((actor, e)));
                }
                // An unconfirmed enrolment never protected anything: dropping it needs only
                // the password.
                tx.delete_totp(actor.user, totp.version).await?;
                let mut event =
                    self.mfa_event(&actor, AuditEventName::AuthnMfaDisabled, Outcome::Success)?;
                event.changed_fields = fields(&["second_factor"])?;
                portal.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(Ok(()))
            })
            .await?;
        self.settle(outcome).await
    }

    /// Replaces all recovery codes with new ones, shown once (AUTH-6); needs a code from the
    /// app (or an unused recovery code). Audited as `authn_recovery_codes_regenerated`; a wrong
    /// code as `authn_mfa_fail`.
    ///
    /// # Errors
    /// `Validation` on `code`; `NotFound` when TOTP is not enabled; `Throttled`;
    /// `Unauthenticated(SessionExpired)`; `PermissionDenied`; `Unavailable`.
    pub async fn regenerate_recovery_codes(&self, code: &str) -> Result<RecoveryCodes> {
        let portal = self.portal();
        let codes = generate_recovery_codes(&portal.random::<RECOVERY_RANDOM_BYTES>()?);
        let now = portal.now();
        portal.check_throttle(&[&user_key(self.user())]).await?;
        let outcome = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor) = self
                    .authorize(tx.as_mut(), Action::RegenerateRecoveryCodes)
                    .await?;
                let totp = tx
                    .totp(actor.user)
                    .await?
                    .filter(|t| t.value.confirmed)
                    .ok_or(Error::NotFound)?;
                let (mut next, _) = match accept(
                    portal.config().host_key(),
                    self.org(),
                    &totp.value,
                    code,
                    now,
                ) {
                    Ok(accepted) => accepted,
                    Err(e) => return Ok(Err((actor, e))),
                };
                next.recovery_codes = slots(&codes);
                tx.update_totp(next, totp.version).await?;
                let event = self.mfa_event(
                    &actor,
                    AuditEventName::AuthnRecoveryCodesRegenerated,
                    Outcome::Success,
                )?;
                portal.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(Ok(()))
            })
            .await?;
        self.settle(outcome).await?;
        Ok(RecoveryCodes::of(&codes))
    }

    /// Requires (or stops requiring) a second factor of every user of the organisation
    /// (AUTH-6; Owner and Admin). While required, a portal user without TOTP can only see
    /// their profile, enrol, confirm and log out. Audited as `authn_mfa_policy_changed`.
    ///
    /// # Errors
    /// `PermissionDenied` for other roles; `Unauthenticated(SecondFactorEnrolmentRequired)`
    /// for a user who must enrol first; `Unauthenticated(SessionExpired)`;
    /// `Conflict(stale_version)`; `Unavailable`.
    pub async fn require_second_factor(&self, required: bool) -> Result<()> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self
                .authorize(tx.as_mut(), Action::RequireSecondFactor)
                .await?;
            let customer = tx.customer().await?.ok_or(Error::NotFound)?;
            if customer.value.second_factor_required == required {
                return Ok(());
            }
            let mut next = customer.value;
            next.second_factor_required = required;
            tx.update_customer(next, customer.version).await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::AuthnMfaPolicyChanged,
                target("customer", self.org())?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["second_factor_required"])?;
            event.note = note(if required {
                "second factor required for every user"
            } else {
                "second factor no longer required"
            })?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// An audit event of this session's user about themself.
    fn mfa_event(
        &self,
        actor: &Actor,
        name: AuditEventName,
        outcome: Outcome,
    ) -> Result<AuditEvent> {
        self.portal().audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("user", actor.user)?,
            outcome,
        )
    }

    /// Checks the current password (Argon2 on a blocking thread); a wrong one is audited in
    /// its own transaction.
    async fn reauthenticate(
        &self,
        actor: &Actor,
        user: &UserRecord,
        password: Password,
    ) -> Result<()> {
        let portal = self.portal();
        if portal.verify(password, user.password_hash.clone()).await {
            return Ok(());
        }
        portal
            .audit_mfa_failure(
                self.org(),
                AuditActor::User { id: actor.user },
                actor.channel,
                actor.user,
                ReasonCode::InvalidCredentials,
                None,
            )
            .await?;
        Err(Error::unauthenticated(
            UnauthenticatedKind::InvalidCredentials,
        ))
    }

    /// Finishes a use case that checked a code: a success clears the user's second-factor
    /// counter; a refused code is counted (AUTH-3) and audited, each in its own transaction.
    async fn settle(
        &self,
        outcome: std::result::Result<(), (Actor, selfcare_core::Error)>,
    ) -> Result<()> {
        let portal = self.portal();
        let key = user_key(self.user());
        match outcome {
            Ok(()) => portal.clear_throttle(&key).await,
            Err((actor, e)) => {
                portal.count_failures(&[&key]).await?;
                portal
                    .audit_mfa_failure(
                        self.org(),
                        AuditActor::User { id: actor.user },
                        actor.channel,
                        actor.user,
                        e.reason(),
                        None,
                    )
                    .await?;
                Err(Error::from(e))
            }
        }
    }
}

fn already_enabled() -> Attempt {
    Attempt::Fail(Error::Conflict {
        reason: ReasonCode::AlreadyExists,
    })
}
