//! Logging in and out (AUTH-1, AUTH-3, AUTH-4) and the `Session` a login gives.

use secrecy::{ExposeSecret, SecretString};
use selfcare_core::ReasonCode;
use selfcare_core::audit::{AuditActor, AuditEventName, Outcome, PersonalField};
use selfcare_core::contact::Email;
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::password::Password;
use selfcare_core::policy::{Action, Actor, Decision, decide, decide_login, second_factor_gate};
use selfcare_core::roles::{Channel, Role};
use selfcare_core::throttle::ThrottleKey;
use selfcare_core::tokens::{SessionTimes, Token};
use selfcare_storage::accounts::{UserRecord, UserStatus};
use selfcare_storage::auth::{SessionRecord, SessionSubject};
use selfcare_storage::{OrgTransaction, Versioned};

use crate::error::{Error, Result, UnauthenticatedKind};
use crate::portal::{Attempt, LOGIN_FAILED, Portal, RequestContext, target};
use crate::second_factor::{SecondFactorChallenge, issue_challenge};

/// What a successful password login gives.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Logged in.
    Session(Session),
    /// The password was right and the user has a second factor (AUTH-6): pass the challenge
    /// with a code from the authenticator app (or a recovery code) to
    /// [`Portal::complete_second_factor`] before it expires; only that opens the session.
    SecondFactorRequired(SecondFactorChallenge),
}

/// A logged-in user's session. It holds only who is logged in; the role is re-read in every
/// transaction, so a demotion takes effect at once (USR-5).
#[derive(Clone)]
pub struct Session {
    portal: Portal,
    token: SecretString,
    org: OrgId,
    user: UserId,
    channel: Channel,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("Session")
            .field("org", &self.org)
            .field("user", &self.user)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// What a session shows of its user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Me {
    /// The user's id.
    pub id: UserId,
    /// The organisation.
    pub org: OrgId,
    /// The user's name.
    pub name: String,
    /// The login e-mail.
    pub email: Email,
    /// The user's current role.
    pub role: Role,
}

impl Session {
    /// A session that was just stored under `token`.
    pub(crate) fn opened(
        portal: &Portal,
        token: &Token,
        org: OrgId,
        user: UserId,
        channel: Channel,
    ) -> Self {
        Session {
            portal: portal.clone(),
            token: SecretString::from(token.expose().to_owned()),
            org,
            user,
            channel,
        }
    }

    /// The session token to hand to the client (shown once; only its hash is stored).
    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }

    /// The organisation of the session.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The logged-in user.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The channel the session is on (AUTH-4): the portal or the API.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The user as stored now (name, e-mail, current role).
    ///
    /// # Errors
    /// `Unauthenticated(SessionExpired)` when the session ended meanwhile.
    pub async fn me(&self) -> Result<Me> {
        let portal = &self.portal;
        portal
            .retry(|| async {
                let mut tx = portal.store().begin(self.org).await?;
                let user = self.live_user(tx.as_mut()).await?;
                Ok(Me {
                    id: user.value.id,
                    org: self.org,
                    name: user.value.name,
                    email: user.value.email,
                    role: user.value.role,
                })
            })
            .await
    }

    /// Ends this session (AUTH-4).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    pub async fn logout(self) -> Result<()> {
        let portal = &self.portal;
        let hash = Token::parse(self.token.expose_secret())
            .map_err(Error::from)?
            .hash();
        portal
            .retry(|| async {
                let mut tx = portal.store().begin(self.org).await?;
                tx.delete_session(hash).await?;
                let event = portal.audit_event(
                    Some(self.org),
                    AuditActor::User { id: self.user },
                    self.channel,
                    AuditEventName::SessionExpired,
                    target("user", self.user)?,
                    Outcome::Success,
                )?;
                portal.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// The actor of this session as stored now, after checking the session (AUTH-4), the
    /// organisation's second-factor requirement (AUTH-6) and the permission of `action` with
    /// the role re-read inside `tx` (USR-1, USR-4, USR-5). Every use case of a session starts
    /// here, inside its own transaction.
    pub(crate) async fn authorize(
        &self,
        tx: &mut dyn OrgTransaction,
        action: Action,
    ) -> std::result::Result<(Versioned<UserRecord>, Actor), Attempt> {
        let (user, actor, decision) = self.decide(tx, action).await?;
        decision.into_result().map_err(Error::from)?;
        Ok((user, actor))
    }

    /// What [`Session::authorize`] would decide for `action`, without failing on a denial: the
    /// live user, the actor with the role as stored now, and the decision (the second-factor
    /// gate first, then the permission table).
    pub(crate) async fn decide(
        &self,
        tx: &mut dyn OrgTransaction,
        action: Action,
    ) -> std::result::Result<(Versioned<UserRecord>, Actor, Decision), Attempt> {
        let user = self.live_user(tx).await?;
        let actor = Actor {
            org: self.org,
            user: user.value.id,
            role: user.value.role,
            channel: self.channel,
        };
        let requires_second_factor = tx
            .customer()
            .await?
            .is_some_and(|c| c.value.second_factor_required);
        let has_totp = tx
            .totp(user.value.id)
            .await?
            .is_some_and(|t| t.value.confirmed);
        let gate = second_factor_gate(action, self.channel, requires_second_factor, has_totp);
        let decision = if gate.allowed() {
            decide(&actor, action, self.org)
        } else {
            gate
        };
        Ok((user, actor, decision))
    }

    /// The portal this session belongs to.
    pub(crate) fn portal(&self) -> &Portal {
        &self.portal
    }

    /// Runs one use case of this session like [`Portal::retry`], and writes a denied attempt to
    /// the audit log in a transaction of its own (AUD-1), after the use case's transaction is
    /// gone, so the denial is recorded although nothing else is.
    pub(crate) async fn retry<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, Attempt>>,
    {
        let result = self.portal.retry(attempt).await;
        if let Err(Error::PermissionDenied { reason }) = &result {
            // Recording the denial must not change the caller's answer.
            if self.audit_denied(*reason).await.is_err() {
                tracing::warn!("selfcare: a denied attempt could not be audited");
            }
        }
        result
    }

    async fn audit_denied(&self, reason: ReasonCode) -> Result<()> {
        let portal = &self.portal;
        portal
            .retry(|| async {
                let mut tx = portal.store().begin(self.org).await?;
                let mut event = portal.audit_event(
                    Some(self.org),
                    AuditActor::User { id: self.user },
                    self.channel,
                    AuditEventName::AuthzFail,
                    target("user", self.user)?,
                    Outcome::Denied,
                )?;
                event.reason = Some(reason);
                portal.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// Checks inside `tx` that the session is still alive and its user still active, touching
    /// its idle timer; returns the user as stored now.
    pub(crate) async fn live_user(
        &self,
        tx: &mut dyn OrgTransaction,
    ) -> std::result::Result<Versioned<UserRecord>, Attempt> {
        let portal = &self.portal;
        let now = portal.now();
        let hash = Token::parse(self.token.expose_secret())
            .map_err(Error::from)?
            .hash();
        let expired = || Attempt::Fail(Error::unauthenticated(UnauthenticatedKind::SessionExpired));
        let session = tx.session(hash).await?.ok_or_else(expired)?;
        if session
            .value
            .times
            .check(now, &portal.config().token_lifetimes)
            .is_err()
        {
            return Err(expired());
        }
        tx.touch_session(hash, now).await?;
        // A revoked (or rotated-away) API client ends its sessions at once.
        if let SessionSubject::ApiClient(client) = session.value.subject {
            let client = tx.api_client(client).await?.ok_or_else(expired)?;
            if client.value.revoked_at.is_some() || client.value.user != self.user {
                return Err(expired());
            }
        }
        let user = tx.user(self.user).await?.ok_or_else(expired)?;
        if user.value.status != UserStatus::Active {
            return Err(expired());
        }
        Ok(user)
    }
}

impl Portal {
    /// Logs a user in with e-mail and password (AUTH-1, AUTH-3, AUTH-4).
    ///
    /// An unknown e-mail and a wrong password give the same `Unauthenticated(InvalidCredentials)`
    /// and cost the same work: an unknown e-mail still runs one Argon2 verification. Failures
    /// are counted per submitted e-mail (existing or not) and per source; while either counter
    /// asks for a wait, the attempt is refused with `Throttled` before any verification.
    /// A user with a confirmed second factor gets [`LoginOutcome::SecondFactorRequired`]
    /// instead of a session (AUTH-6).
    ///
    /// # Errors
    /// `Unauthenticated(InvalidCredentials)`, `Throttled { retry_after }`, `PermissionDenied`
    /// (`api_user_portal_forbidden`: API users log in with their client id), `Unavailable`.
    pub async fn login(
        &self,
        email: &str,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome> {
        let email_key = ThrottleKey::login_email(email).storage_key();
        let source_key = ThrottleKey::login_source(&ctx.source).storage_key();
        self.check_throttle(&[&email_key, &source_key]).await?;

        let found = self
            .store()
            .user_by_login_key(&Email::login_key(email))
            .await?;
        let user = match found {
            Some((org, id)) => {
                self.retry(|| async {
                    let mut tx = self.store().begin(org).await?;
                    Ok(tx.user(id).await?.map(|u| (org, u.value)))
                })
                .await?
            }
            None => None,
        };
        let hash = user.as_ref().and_then(|(_, u)| u.password_hash.clone());
        let verified = self.verify(password, hash).await;
        let Some((org, user)) = user.filter(|(_, u)| verified && u.status == UserStatus::Active)
        else {
            self.login_failed(found, email, &email_key, &source_key, ctx)
                .await?;
            return Err(Error::unauthenticated(
                UnauthenticatedKind::InvalidCredentials,
            ));
        };
        decide_login(user.role, Channel::Portal)
            .into_result()
            .map_err(Error::from)?;
        let token = Token::from_random(self.random()?);
        let now = self.now();
        let challenge = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                // A user with a confirmed second factor gets a challenge, never a session
                // (AUTH-6); the session comes from `complete_second_factor`.
                let has_totp = tx.totp(user.id).await?.is_some_and(|t| t.value.confirmed);
                if has_totp {
                    let challenge =
                        issue_challenge(self, tx.as_mut(), org, user.id, &token, ctx).await?;
                    tx.commit().await?;
                    return Ok(Some(challenge));
                }
                tx.insert_session(SessionRecord {
                    token_hash: token.hash(),
                    subject: SessionSubject::User(user.id),
                    channel: Channel::Portal,
                    times: SessionTimes::new(now),
                    second_factor_passed: false,
                })
                .await?;
                let mut event = self.audit_event(
                    Some(org),
                    AuditActor::User { id: user.id },
                    Channel::Portal,
                    AuditEventName::AuthnLoginSuccess,
                    target("user", user.id)?,
                    Outcome::Success,
                )?;
                event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
                self.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(None)
            })
            .await?;
        self.clear_throttle(&email_key).await?;
        if let Some(challenge) = challenge {
            return Ok(LoginOutcome::SecondFactorRequired(challenge));
        }
        Ok(LoginOutcome::Session(Session {
            portal: self.clone(),
            token: SecretString::from(token.expose().to_owned()),
            org,
            user: user.id,
            channel: Channel::Portal,
        }))
    }

    /// Resumes a session from its token (AUTH-4).
    ///
    /// # Errors
    /// `Unauthenticated(SessionExpired)` for an unknown, ended or expired session.
    pub async fn resume(&self, session_token: &str) -> Result<Session> {
        let expired = || Error::unauthenticated(UnauthenticatedKind::SessionExpired);
        let token = Token::parse(session_token).map_err(|_| expired())?;
        let (org, hash) = self
            .store()
            .session_by_hash(token.hash())
            .await?
            .ok_or_else(expired)?;
        let record = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                Ok(tx.session(hash).await?)
            })
            .await?
            .ok_or_else(expired)?;
        let user = match record.value.subject {
            SessionSubject::User(user) => user,
            SessionSubject::ApiClient(client) => {
                let client = self
                    .retry(|| async {
                        let mut tx = self.store().begin(org).await?;
                        Ok(tx.api_client(client).await?)
                    })
                    .await?
                    .ok_or_else(expired)?;
                client.value.user
            }
        };
        let session = Session {
            portal: self.clone(),
            token: SecretString::from(token.expose().to_owned()),
            org,
            user,
            channel: record.value.channel,
        };
        // Checks expiry and the user's status, and touches the idle timer.
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            session.live_user(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(session)
    }

    async fn login_failed(
        &self,
        found: Option<(OrgId, UserId)>,
        attempted: &str,
        email_key: &str,
        source_key: &str,
        ctx: &RequestContext,
    ) -> Result<()> {
        let found = match found {
            Some((org, user)) => Some((org, target("user", user)?)),
            None => None,
        };
        self.record_failed_login(
            FailedLogin {
                channel: Channel::Portal,
                keys: &[email_key, source_key],
                found,
                unknown: target("login", "unknown")?,
                attempted: Some(attempted),
            },
            ctx,
        )
        .await
    }

    /// Records a failed login (AUTH-3, AUD-1) in transactions of its own, whatever the login
    /// did: one failure under each throttle key, and an `authn_login_fail` entry in the
    /// account's organisation when the credential named one, in the provider's chain (with the
    /// attempted identifier as an erasable personal value) when it did not.
    pub(crate) async fn record_failed_login(
        &self,
        failed: FailedLogin<'_>,
        ctx: &RequestContext,
    ) -> Result<()> {
        self.retry(|| async {
            let mut tx = self.store().begin_provider().await?;
            self.count_failures_in(tx.as_mut(), failed.keys).await?;
            if failed.found.is_none() {
                let mut event = self.audit_event(
                    None,
                    AuditActor::Anonymous,
                    failed.channel,
                    AuditEventName::AuthnLoginFail,
                    failed.unknown.clone(),
                    Outcome::Failure,
                )?;
                event.reason = Some(LOGIN_FAILED);
                let mut personal = vec![(PersonalField::Source, ctx.source.as_str())];
                if let Some(attempted) = failed.attempted {
                    personal.push((PersonalField::AttemptedLogin, attempted));
                }
                event.personal = self.personal(personal)?;
                self.audit_provider(tx.as_mut(), event).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await?;
        if let Some((org, target)) = &failed.found {
            self.retry(|| async {
                let mut tx = self.store().begin(*org).await?;
                let mut event = self.audit_event(
                    Some(*org),
                    AuditActor::Anonymous,
                    failed.channel,
                    AuditEventName::AuthnLoginFail,
                    target.clone(),
                    Outcome::Failure,
                )?;
                event.reason = Some(LOGIN_FAILED);
                event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
                self.audit(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

/// A failed login to record ([`Portal::record_failed_login`]).
pub(crate) struct FailedLogin<'a> {
    /// The channel the credential belongs to.
    pub(crate) channel: Channel,
    /// The throttle keys that count the failure.
    pub(crate) keys: &'a [&'a str],
    /// The organisation and the account the credential named, when it named one.
    pub(crate) found: Option<(OrgId, selfcare_core::audit::AuditTarget)>,
    /// The target of the provider's entry when it named none.
    pub(crate) unknown: selfcare_core::audit::AuditTarget,
    /// What was submitted as the identifier, kept as an erasable personal value.
    pub(crate) attempted: Option<&'a str>,
}
