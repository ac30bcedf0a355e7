//! One's own profile (USR-2, AUTH-4, AUTH-5) and the forgotten password (AUTH-2).
//!
//! Every role with a portal login may change its own name, login e-mail and password through
//! [`Session::update_me`]. E-mail and password changes need the current password (a captcha is
//! not re-authentication); on the portal channel every profile change needs a passed captcha
//! (AUTH-5), checked before anything is written. A new e-mail takes effect only when the token
//! sent to it is redeemed with [`Portal::confirm_email`]; the old address is told at once. A
//! password change ends the user's other sessions; a completed reset
//! ([`Portal::reset_password`]) ends all of them.
//!
//! Tokens are 256-bit random values; only their SHA-256 is stored. The outbox message to the
//! user is the only place a token is written: audit entries never carry it.
//!
//! ```no_run
//! # async fn demo(session: selfcare::Session) -> selfcare::Result<()> {
//! use selfcare::profile::ProfileChange;
//! let change = ProfileChange { name: Some("Ada Lovelace".into()), ..Default::default() };
//! let updated = session.update_me(change, None, Some("captcha-token".into())).await?;
//! println!("{}", updated.me.name);
//! # Ok(()) }
//! ```

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome, PersonalField};
use selfcare_core::contact::{Email, Language};
use selfcare_core::error::text_field;
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::password::{Password, PasswordHash, check_new_password};
use selfcare_core::policy::{Action, Actor, SelfChange, decide_self_change};
use selfcare_core::roles::Channel;
use selfcare_core::tokens::{Token, TokenHash, TokenKind, TokenRejection, TokenState};
use selfcare_core::{Error as CoreError, ReasonCode};
use selfcare_storage::accounts::{PendingEmail, UserRecord, UserStatus};
use selfcare_storage::auth::{TokenPayload, TokenRecord};
use selfcare_storage::{OrgTransaction, Versioned};
use time::Duration;

use crate::error::{Error, Result, UnauthenticatedKind};
use crate::portal::{Attempt, Portal, RequestContext, fields, target};
use crate::session::{Me, Session};

/// The longest user name accepted (as at registration).
const USER_NAME_MAX: usize = 100;

/// A change of one's own profile (USR-2): each field left `None` stays as it is.
///
/// Its serde form writes the new password as typed: it is a wire request's input
/// (`RemotePortal`), and `Debug` still hides it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// The new name.
    pub name: Option<String>,
    /// The new login e-mail; it takes effect after confirmation (USR-2).
    pub email: Option<String>,
    /// The new password (AUTH-1 policy applies).
    #[serde(
        default,
        serialize_with = "selfcare_core::password::wire_form::serialize_option"
    )]
    pub new_password: Option<Password>,
}

/// What [`Session::update_me`] leaves behind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdated {
    /// The user as stored now (the login e-mail is still the old one while a change waits).
    pub me: Me,
    /// A new login e-mail waiting for confirmation through the link sent to it.
    pub pending_email: Option<Email>,
}

/// What one attempt of `update_me` read before the checks that run outside a transaction.
struct Before {
    user: Versioned<UserRecord>,
    actor: Actor,
    second_factor_required: bool,
    company: String,
    language: Language,
}

impl Session {
    /// Changes the logged-in user's own name, login e-mail and/or password (USR-2).
    ///
    /// - On the portal channel a passed `captcha` is required (AUTH-5), checked through the
    ///   host's `HumanVerifier` before anything is read for the change.
    /// - E-mail and password changes need `current_password` (verified with Argon2).
    /// - A new password must pass the AUTH-1 policy (name, e-mail and company as context); it
    ///   ends every other session of the user (AUTH-4), this one stays.
    /// - A new e-mail is stored as pending with a confirmation token sent to it (valid
    ///   `token_lifetimes.email_confirmation`); the current address is told of the change. It
    ///   becomes the login e-mail with [`Portal::confirm_email`].
    ///
    /// Audited as `user_updated` (name), `email_change_requested` and `authn_password_change`;
    /// a wrong current password as `authn_password_change_fail`.
    ///
    /// # Errors
    /// `Validation` on `captcha` (`token_invalid`) when the captcha is missing or not passed;
    /// `Validation` on `name`, `email` or `password`; `Unauthenticated(InvalidCredentials)`
    /// when the current password is missing or wrong; `Unauthenticated(SessionExpired)`;
    /// `PermissionDenied` for an ApiUser; `Conflict(stale_version)` when the user changed
    /// meanwhile; `Unavailable` (also when the captcha service cannot answer).
    pub async fn update_me(
        &self,
        change: ProfileChange,
        current_password: Option<Password>,
        captcha: Option<String>,
    ) -> Result<ProfileUpdated> {
        let portal = self.portal();
        let name = change
            .name
            .as_deref()
            .map(|n| text_field("name", n, USER_NAME_MAX, true, false))
            .transpose()
            .map_err(Error::from)?;
        let email = change
            .email
            .as_deref()
            .map(|e| Email::parse_field("email", e))
            .transpose()
            .map_err(Error::from)?;

        // What the session may do, and what the checks outside the transaction need.
        let before = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (user, actor) = self
                    .authorize(tx.as_mut(), Action::UpdateOwnProfile)
                    .await?;
                decide_self_change(&actor)
                    .into_result()
                    .map_err(Error::from)?;
                let customer = tx.customer().await?.ok_or(Error::NotFound)?;
                tx.commit().await?;
                Ok(Before {
                    user,
                    actor,
                    second_factor_required: customer.value.second_factor_required,
                    company: customer
                        .value
                        .customer
                        .company_name()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default(),
                    language: customer.value.customer.language(),
                })
            })
            .await?;
        let current = &before.user.value;
        let name = name.filter(|n| *n != current.name);
        let email = email.filter(|e| e.key() != current.email.key());
        let mut changes = Vec::new();
        if name.is_some() {
            changes.push(SelfChange::Name);
        }
        if email.is_some() {
            changes.push(SelfChange::Email);
        }
        if change.new_password.is_some() {
            changes.push(SelfChange::Password);
        }
        if changes.is_empty() {
            return Ok(ProfileUpdated {
                me: me_of(self.org(), current),
                pending_email: current.pending_email.as_ref().map(|p| p.email.clone()),
            });
        }

        if changes
            .iter()
            .any(|c| c.requires_human_verification(before.actor.channel))
        {
            portal
                .check_captcha(before.actor.channel, captcha.as_deref())
                .await?;
        }
        if changes.iter().any(|c| c.requires_current_password()) {
            let verified = match current_password {
                Some(password) => portal.verify(password, current.password_hash.clone()).await,
                None => false,
            };
            if !verified {
                self.audit_password_failure(&before.actor).await?;
                return Err(Error::unauthenticated(
                    UnauthenticatedKind::InvalidCredentials,
                ));
            }
        }
        let new_hash = match &change.new_password {
            Some(password) => {
                let shown_name = name.as_deref().unwrap_or(current.name.as_str());
                let checked = check_new_password(
                    password,
                    before.second_factor_required,
                    &[shown_name, current.email.as_str(), before.company.as_str()],
                )
                .map_err(Error::from)?;
                Some(portal.hash(checked).await?)
            }
            None => None,
        };
        let confirmation = email
            .as_ref()
            .map(|_| portal.random().map(Token::from_random))
            .transpose()?;
        let own_session = Token::parse(self.token()).map_err(Error::from)?.hash();

        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (user, actor) = self
                .authorize(tx.as_mut(), Action::UpdateOwnProfile)
                .await?;
            // The password was verified and the checks made against this version.
            if user.version != before.user.version {
                return Err(Error::Conflict {
                    reason: ReasonCode::StaleVersion,
                }
                .into());
            }
            let old = user.value.clone();
            let mut next = user.value;
            if let Some(name) = &name {
                next.name.clone_from(name);
            }
            if let Some(hash) = &new_hash {
                next.password_hash = Some(hash.clone());
            }
            if let Some(email) = &email {
                next.pending_email = Some(PendingEmail {
                    email: email.clone(),
                    by_other: false,
                });
            }
            tx.update_user(next.clone(), user.version).await?;

            if let Some(name) = &name {
                let mut event = self.profile_event(&actor, AuditEventName::UserUpdated)?;
                event.changed_fields = fields(&["name"])?;
                event.personal = portal.personal([
                    (PersonalField::OldName, old.name.as_str()),
                    (PersonalField::NewName, name.as_str()),
                ])?;
                portal.audit(tx.as_mut(), event).await?;
            }
            if new_hash.is_some() {
                tx.delete_user_sessions(next.id, Some(own_session)).await?;
                let mut event = self.profile_event(&actor, AuditEventName::AuthnPasswordChange)?;
                event.changed_fields = fields(&["password"])?;
                portal.audit(tx.as_mut(), event).await?;
            }
            if let (Some(email), Some(token)) = (&email, &confirmation) {
                request_confirmation(portal, tx.as_mut(), &old, email, token, before.language)
                    .await?;
                let mut event = self.profile_event(&actor, AuditEventName::EmailChangeRequested)?;
                event.changed_fields = fields(&["email"])?;
                event.personal = portal.personal([
                    (PersonalField::OldEmail, old.email.as_str()),
                    (PersonalField::NewEmail, email.as_str()),
                ])?;
                portal.audit(tx.as_mut(), event).await?;
            }
            tx.commit().await?;
            Ok(ProfileUpdated {
                me: me_of(self.org(), &next),
                pending_email: next.pending_email.map(|p| p.email),
            })
        })
        .await
    }

    fn profile_event(
        &self,
        actor: &Actor,
        name: AuditEventName,
    ) -> std::result::Result<selfcare_core::audit::AuditEvent, Error> {
        self.portal().audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("user", actor.user)?,
            Outcome::Success,
        )
    }

    /// Records a refused re-authentication in its own transaction (AUD-1).
    async fn audit_password_failure(&self, actor: &Actor) -> Result<()> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let mut event = self.profile_event(actor, AuditEventName::AuthnPasswordChangeFail)?;
            event.outcome = Outcome::Failure;
            event.reason = Some(ReasonCode::InvalidCredentials);
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

impl Portal {
    /// Confirms a new login e-mail with the token sent to it (USR-2): the pending address
    /// becomes the login e-mail, the token is used up, and every session of the user ends
    /// (AUTH-4; the confirmation link carries no session, so none is kept). Audited as
    /// `email_confirmed`.
    ///
    /// # Errors
    /// `Validation` on `token` with `token_invalid` (malformed, unknown, of another kind, or
    /// no longer matching the pending change), `token_used` or `token_expired`;
    /// `Conflict(already_exists)` when the address became someone's login meanwhile;
    /// `Unavailable`.
    pub async fn confirm_email(&self, token: &str) -> Result<()> {
        let (org, hash) = self.find_token(token).await?;
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let (record, mut user) = self
                .redeemable(tx.as_mut(), hash, TokenKind::EmailConfirmation)
                .await?;
            let TokenPayload::NewEmail { email } = &record.value.payload else {
                return Err(invalid().into());
            };
            let pending = user.value.pending_email.as_ref();
            if !pending.is_some_and(|p| !p.by_other && p.email == *email) {
                return Err(invalid().into());
            }
            let now = self.now();
            tx.mark_token_used(hash, now, record.version).await?;
            let old = user.value.email.clone();
            user.value.email = email.clone();
            user.value.pending_email = None;
            tx.update_user(user.value.clone(), user.version).await?;
            tx.delete_user_sessions(user.value.id, None).await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::User { id: user.value.id },
                Channel::Portal,
                AuditEventName::EmailConfirmed,
                target("user", user.value.id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["email"])?;
            event.personal = self.personal([
                (PersonalField::OldEmail, old.as_str()),
                (PersonalField::NewEmail, email.as_str()),
            ])?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Starts a forgotten-password reset (AUTH-2). The answer is `Ok(())` whether or not the
    /// e-mail belongs to an active user, so it reveals nothing. For an active user a reset
    /// token (256 bits, only its hash stored, valid `token_lifetimes.password_reset`) is sent
    /// to the login e-mail; the token appears in that message only, never in the audit log.
    /// Audited as `authn_password_reset_requested` (an unknown address in the provider's
    /// chain, as a failure).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    pub async fn request_password_reset(&self, email: &str, ctx: &RequestContext) -> Result<()> {
        let found = self
            .store()
            .user_by_login_key(&Email::login_key(email))
            .await?;
        let Some((org, id)) = found else {
            return self.audit_unknown_reset(email, ctx).await;
        };
        let token = Token::from_random(self.random()?);
        let now = self.now();
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let Some(user) = tx.user(id).await? else {
                return Ok(());
            };
            if user.value.status != UserStatus::Active {
                return Ok(());
            }
            let language = tx
                .customer()
                .await?
                .map_or(Language::English, |c| c.value.customer.language());
            tx.insert_token(TokenRecord {
                hash: token.hash(),
                state: TokenState::issued(TokenKind::PasswordReset, now),
                user: Some(id),
                payload: TokenPayload::None,
            })
            .await?;
            let params = Params::new()
                .with("user_name", user.value.name.as_str())
                .with("link", token.expose())
                .with(
                    "valid_hours",
                    hours(self.config().token_lifetimes.password_reset),
                );
            self.notify(
                tx.as_mut(),
                NotificationKind::PasswordReset,
                vec![user.value.email.clone()],
                language,
                &params,
            )
            .await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::Anonymous,
                Channel::Portal,
                AuditEventName::AuthnPasswordResetRequested,
                target("user", id)?,
                Outcome::Success,
            )?;
            event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Sets a new password with a reset token (AUTH-2): the token is single use and expires,
    /// the password must pass the AUTH-1 policy, and every session of the user ends. Audited
    /// as `authn_password_change`.
    ///
    /// # Errors
    /// `Validation` on `token` (`token_invalid`, `token_used`, `token_expired`) or on
    /// `password` (AUTH-1 policy); `Unavailable`.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: Password,
        ctx: &RequestContext,
    ) -> Result<()> {
        let (org, hash) = self.find_token(token).await?;
        // The policy needs the user's data; Argon2 runs outside any transaction.
        let (second_factor_required, context) = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                let (_, user) = self
                    .redeemable(tx.as_mut(), hash, TokenKind::PasswordReset)
                    .await?;
                let customer = tx.customer().await?.ok_or(Error::NotFound)?;
                let company = customer
                    .value
                    .customer
                    .company_name()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default();
                Ok((
                    customer.value.second_factor_required,
                    [
                        user.value.name.clone(),
                        user.value.email.as_str().to_owned(),
                        company,
                    ],
                ))
            })
            .await?;
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let checked = check_new_password(&new_password, second_factor_required, &context)
            .map_err(Error::from)?;
        let new_hash: PasswordHash = self.hash(checked).await?;
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let (record, mut user) = self
                .redeemable(tx.as_mut(), hash, TokenKind::PasswordReset)
                .await?;
            tx.mark_token_used(hash, self.now(), record.version).await?;
            user.value.password_hash = Some(new_hash.clone());
            tx.update_user(user.value.clone(), user.version).await?;
            tx.delete_user_sessions(user.value.id, None).await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::User { id: user.value.id },
                Channel::Portal,
                AuditEventName::AuthnPasswordChange,
                target("user", user.value.id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["password"])?;
            event.personal = self.personal([(PersonalField::Source, ctx.source.as_str())])?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// The organisation and hash of a token a user handed back; malformed and unknown tokens
    /// are both `token_invalid`.
    async fn find_token(&self, token: &str) -> Result<(selfcare_core::ids::OrgId, TokenHash)> {
        let token = Token::parse(token).map_err(Error::from)?;
        self.store()
            .token_by_hash(token.hash())
            .await?
            .ok_or_else(invalid)
    }

    /// The token `hash` if it may be redeemed as `kind` now, with the active user it concerns.
    async fn redeemable(
        &self,
        tx: &mut dyn OrgTransaction,
        hash: TokenHash,
        kind: TokenKind,
    ) -> std::result::Result<(Versioned<TokenRecord>, Versioned<UserRecord>), Attempt> {
        let record = tx.token(hash).await?.ok_or_else(invalid)?;
        record
            .value
            .state
            .check(kind, self.now(), &self.config().token_lifetimes)
            .map_err(CoreError::from)?;
        let user = match record.value.user {
            Some(id) => tx.user(id).await?,
            None => None,
        }
        .filter(|u| u.value.status == UserStatus::Active)
        .ok_or_else(invalid)?;
        Ok((record, user))
    }

    /// Audits a reset requested for an address that is no user's login (provider chain).
    async fn audit_unknown_reset(&self, attempted: &str, ctx: &RequestContext) -> Result<()> {
        self.retry(|| async {
            let mut tx = self.store().begin_provider().await?;
            let mut event = self.audit_event(
                None,
                AuditActor::Anonymous,
                Channel::Portal,
                AuditEventName::AuthnPasswordResetRequested,
                target("login", "unknown")?,
                Outcome::Failure,
            )?;
            event.reason = Some(ReasonCode::NotFound);
            event.personal = self.personal([
                (PersonalField::Source, ctx.source.as_str()),
                (PersonalField::AttemptedLogin, attempted),
            ])?;
            self.audit_provider(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Stores the confirmation token of `new` and puts the confirmation (to the new address) and
/// the change notice (to the old one) in the outbox.
async fn request_confirmation(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    user: &UserRecord,
    new: &Email,
    token: &Token,
    language: Language,
) -> std::result::Result<(), Attempt> {
    tx.insert_token(TokenRecord {
        hash: token.hash(),
        state: TokenState::issued(TokenKind::EmailConfirmation, portal.now()),
        user: Some(user.id),
        payload: TokenPayload::NewEmail { email: new.clone() },
    })
    .await?;
    let confirm = Params::new()
        .with("user_name", user.name.as_str())
        .with("link", token.expose())
        .with(
            "valid_hours",
            hours(portal.config().token_lifetimes.email_confirmation),
        );
    portal
        .notify(
            tx,
            NotificationKind::EmailConfirmation,
            vec![new.clone()],
            language,
            &confirm,
        )
        .await?;
    let notice = Params::new()
        .with("user_name", user.name.as_str())
        .with("new_email", new.as_str());
    portal
        .notify(
            tx,
            NotificationKind::EmailChangeNotice,
            vec![user.email.clone()],
            language,
            &notice,
        )
        .await
}

fn me_of(org: selfcare_core::ids::OrgId, user: &UserRecord) -> Me {
    Me {
        id: user.id,
        org,
        name: user.name.clone(),
        email: user.email.clone(),
        role: user.role,
    }
}

fn invalid() -> Error {
    Error::from(CoreError::from(TokenRejection::Invalid))
}

/// A lifetime in hours for a notification text: whole hours as they are, otherwise with one
/// decimal ("0.5").
fn hours(lifetime: Duration) -> String {
    let minutes = lifetime.whole_minutes().max(0);
    if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        let tenths = (minutes * 10 + 30) / 60;
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}
