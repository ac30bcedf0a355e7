//! Administering an organisation's users (USR-1, USR-3, USR-4): listing, inviting, renaming,
//! e-mail changes that wait for the user's approval, roles, removal, secret resets and API
//! clients; and, on the portal, accepting an invitation and approving an e-mail change.
//!
//! Every decision is `selfcare_core::policy::decide_on_user` with the target re-read inside the
//! transaction and the number of Owners counted there (the last Owner stays).
//!
//! Tokens (invitation, e-mail change approval, password reset) reach their user only through
//! the outbox, never through the return value, so whoever invites or resets never holds a
//! credential of someone else. The token's text is the `{link}` parameter of the message (the
//! host's template turns it into its own URL).

use selfcare_core::ReasonCode;
use selfcare_core::audit::{AuditActor, AuditEventName, Outcome, PersonalField};
use selfcare_core::contact::{Email, Language};
use selfcare_core::error::text_field;
use selfcare_core::ids::{ApiClientId, UserId};
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::password::{Password, check_new_password};
use selfcare_core::policy::{
    Action, Actor, Decision, EmailChangeEffect, TargetUser, UserChange, can_grant, decide_on_user,
    email_change_effect,
};
use selfcare_core::roles::{Channel, Role};
use selfcare_core::tokens::{ApiClientCredentials, ClientId, Token, TokenKind, TokenState};
use selfcare_storage::accounts::{ApiClientRecord, PendingEmail, UserRecord, UserStatus};
use selfcare_storage::auth::{TokenPayload, TokenRecord};
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::{OrgTransaction, Versioned};

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, RequestContext, fields, target};
use crate::session::Session;

/// The longest user name accepted.
const USER_NAME_MAX: usize = 100;

/// A user as an administrator sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// The name.
    pub name: String,
    /// The login e-mail.
    pub email: Email,
    /// The role.
    pub role: Role,
    /// Invited, active or disabled.
    pub status: UserStatus,
    /// An e-mail change waiting for confirmation or approval.
    pub pending_email: Option<Email>,
}

impl From<UserRecord> for UserSummary {
    fn from(u: UserRecord) -> Self {
        UserSummary {
            id: u.id,
            name: u.name,
            email: u.email,
            role: u.role,
            status: u.status,
            pending_email: u.pending_email.map(|p| p.email),
        }
    }
}

/// A page of users.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<UserSummary>,
    /// The request for the next page, if any.
    pub next: Option<PageRequest>,
}

/// A change of another user's data (USR-3); `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The new name.
    pub name: Option<String>,
    /// The new login e-mail: not applied at once, but after the user approves it.
    pub email: Option<String>,
}

/// What a reset of another user's secret did (USR-3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum SecretReset {
    /// A password-reset link went to the user's login e-mail (a ReadOnly user).
    PasswordResetSent,
    /// The API client secret of an ApiUser was rotated: shown once, only its hash is stored.
    ApiSecret(ApiClientSecret),
}

/// API client credentials, shown once.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiClientSecret {
    /// The public client id.
    pub client_id: ClientId,
    /// The secret (never logged).
    pub secret: String,
}

impl std::fmt::Debug for ApiClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClientSecret")
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .finish()
    }
}

impl ApiClientSecret {
    fn of(credentials: &ApiClientCredentials) -> Self {
        ApiClientSecret {
            client_id: credentials.client_id,
            secret: credentials.secret.expose().to_owned(),
        }
    }
}

fn email_field(field: &str, raw: &str) -> Result<Email> {
    Email::parse_field(field, raw).map_err(Error::from)
}

fn name_field(field: &str, raw: &str) -> Result<String> {
    text_field(field, raw, USER_NAME_MAX, true, false).map_err(Error::from)
}

/// Reads the target user inside `tx`, applies `decide_on_user` with the Owners counted now.
async fn decide_target(
    tx: &mut dyn OrgTransaction,
    actor: &Actor,
    target_id: UserId,
    change: UserChange,
) -> std::result::Result<Versioned<UserRecord>, Attempt> {
    let (user, decision) = user_decision(tx, actor, target_id, change).await?;
    decision.into_result().map_err(Error::from)?;
    Ok(user)
}

/// The target user as stored now and what `decide_on_user` says about `change` to it; an
/// unknown user (or one of another organisation) is `NotFound`.
pub(crate) async fn user_decision(
    tx: &mut dyn OrgTransaction,
    actor: &Actor,
    target_id: UserId,
    change: UserChange,
) -> std::result::Result<(Versioned<UserRecord>, Decision), Attempt> {
    let user = tx.user(target_id).await?.ok_or(Error::NotFound)?;
    let owners = tx.count_users_with_role(Role::Owner).await?;
    let owners = usize::try_from(owners).unwrap_or(usize::MAX);
    let target_user = TargetUser {
        org: actor.org,
        id: user.value.id,
        role: user.value.role,
    };
    let decision = decide_on_user(actor, &target_user, change, owners);
    Ok((user, decision))
}

/// The organisation's language for notifications.
async fn language(tx: &mut dyn OrgTransaction) -> std::result::Result<Language, Attempt> {
    let customer = tx.customer().await?.ok_or(Error::NotFound)?;
    Ok(customer.value.customer.language())
}

fn hours(kind: TokenKind, portal: &Portal) -> String {
    portal
        .config()
        .token_lifetimes
        .for_kind(kind)
        .whole_hours()
        .to_string()
}

impl Session {
    /// The organisation's users, a page at a time (USR-1).
    ///
    /// # Errors
    /// `PermissionDenied` for roles that may not view users; `Validation` for a page limit out
    /// of range; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn users(&self, page: PageRequest) -> Result<UserPage> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewUsers).await?;
            let Page { items, next } = tx.list_users(page.clone()).await?;
            tx.commit().await?;
            Ok(UserPage {
                items: items.into_iter().map(|u| u.value.into()).collect(),
                next: next.map(|c| PageRequest::after(c, page.limit)),
            })
        })
        .await
    }

    /// Invites a user with `role` (USR-3: an Owner grants any role, an Admin only User,
    /// ReadOnly and ApiUser). The user is stored as `Invited` and an invitation link (valid 72
    /// hours by default) goes to `email`; the user becomes active by
    /// [`Portal::accept_invitation`].
    ///
    /// # Errors
    /// `PermissionDenied` (`role_lacks_permission`, `admin_cannot_grant_role`); `Validation`
    /// for the e-mail or name; `Conflict(already_exists)` when the e-mail is someone's login
    /// already; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn invite_user(&self, email: &str, name: &str, role: Role) -> Result<UserId> {
        let email = email_field("email", email)?;
        let name = name_field("name", name)?;
        let portal = self.portal();
        let now = portal.now();
        let id = UserId::new(now, portal.random()?);
        let token = Token::from_random(portal.random()?);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::InviteUser).await?;
            if !can_grant(actor.role, role) {
                return Err(Error::from(selfcare_core::Error::denied(
                    ReasonCode::AdminCannotGrantRole,
                ))
                .into());
            }
            tx.insert_user(UserRecord {
                id,
                email: email.clone(),
                name: name.clone(),
                role,
                status: UserStatus::Invited,
                password_hash: None,
                pending_email: None,
                created_at: now,
            })
            .await?;
            tx.insert_token(TokenRecord {
                hash: token.hash(),
                state: TokenState::issued(TokenKind::Invitation, now),
                user: Some(id),
                payload: TokenPayload::Invitation {
                    email: email.clone(),
                    role,
                },
            })
            .await?;
            let language = language(tx.as_mut()).await?;
            let params = Params::new()
                .with("user_name", name.as_str())
                .with("link", token.expose())
                .with("valid_hours", hours(TokenKind::Invitation, portal));
            portal
                .notify(
                    tx.as_mut(),
                    NotificationKind::EmailConfirmation,
                    vec![email.clone()],
                    language,
                    &params,
                )
                .await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::UserCreated,
                target("user", id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["name", "email", "role", "status"])?;
            event.personal = portal.personal([
                (PersonalField::Name, name.as_str()),
                (PersonalField::Email, email.as_str()),
            ])?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await
    }

    /// Changes another user's name and/or e-mail (USR-3). A name applies at once. An e-mail
    /// change by someone else is NOT applied: it is kept as pending, and the user's current
    /// address receives a notice and an approval link; [`Portal::approve_email_change`] applies
    /// it. Users change their own e-mail through their profile (USR-2, with the password).
    ///
    /// # Errors
    /// `PermissionDenied` per the USR-3 table; `NotFound` for an unknown user; `Validation`;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn update_user(&self, target_id: UserId, update: UserUpdate) -> Result<UserSummary> {
        let name = update
            .name
            .as_deref()
            .map(|n| name_field("name", n))
            .transpose()?;
        let email = update
            .email
            .as_deref()
            .map(|e| email_field("email", e))
            .transpose()?;
        let portal = self.portal();
        let now = portal.now();
        let token = Token::from_random(portal.random()?);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let action = if email.is_some() {
                Action::UpdateUserEmail
            } else {
                Action::UpdateUserName
            };
            let (_, actor) = self.authorize(tx.as_mut(), action).await?;
            let mut user = None;
            if name.is_some() {
                user = Some(decide_target(tx.as_mut(), &actor, target_id, UserChange::Name).await?);
            }
            if email.is_some() {
                user =
                    Some(decide_target(tx.as_mut(), &actor, target_id, UserChange::Email).await?);
            }
            let Some(Versioned {
                value: mut record,
                version,
            }) = user
            else {
                let user = tx.user(target_id).await?.ok_or(Error::NotFound)?;
                return Ok(user.value.into());
            };
            let mut changed = Vec::new();
            if let Some(name) = &name {
                record.name = name.clone();
                changed.push("name");
            }
            if let Some(new_email) = &email {
                if email_change_effect(&actor, target_id) == EmailChangeEffect::ConfirmNewAddress {
                    return Err(Error::from(selfcare_core::Error::validation(
                        "email",
                        ReasonCode::InvalidFormat,
                        "change your own e-mail address through your profile",
                    ))
                    .into());
                }
                record.pending_email = Some(PendingEmail {
                    email: new_email.clone(),
                    by_other: true,
                });
                changed.push("pending_email");
                tx.insert_token(TokenRecord {
                    hash: token.hash(),
                    state: TokenState::issued(TokenKind::EmailChangeApproval, now),
                    user: Some(target_id),
                    payload: TokenPayload::NewEmail {
                        email: new_email.clone(),
                    },
                })
                .await?;
                let language = language(tx.as_mut()).await?;
                let to = vec![record.email.clone()];
                let notice = Params::new()
                    .with("user_name", record.name.as_str())
                    .with("new_email", new_email.as_str());
                portal
                    .notify(
                        tx.as_mut(),
                        NotificationKind::EmailChangeNotice,
                        to.clone(),
                        language,
                        &notice,
                    )
                    .await?;
                // The notice kind has no link: the approval link goes as a confirmation.
                let approval = Params::new()
                    .with("user_name", record.name.as_str())
                    .with("link", token.expose())
                    .with("valid_hours", hours(TokenKind::EmailChangeApproval, portal));
                portal
                    .notify(
                        tx.as_mut(),
                        NotificationKind::EmailConfirmation,
                        to,
                        language,
                        &approval,
                    )
                    .await?;
            }
            tx.update_user(record.clone(), version).await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::UserUpdated,
                target("user", target_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&changed)?;
            let mut personal = Vec::new();
            if let Some(n) = &name {
                personal.push((PersonalField::NewName, n.as_str()));
            }
            if let Some(e) = &email {
                personal.push((PersonalField::NewEmail, e.as_str()));
            }
            event.personal = portal.personal(personal)?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(record.into())
        })
        .await
    }

    /// Gives `target_id` the role `role` (USR-3: an Owner grants any role, an Admin only User,
    /// ReadOnly and ApiUser and never to an Owner or Admin; the last Owner stays an Owner).
    /// Takes effect at once, also in the target's open sessions (USR-5).
    ///
    /// # Errors
    /// `PermissionDenied` (`admin_cannot_grant_role`, `admin_cannot_administer_owner`, …);
    /// `Conflict(last_owner)`; `NotFound`; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn set_role(&self, target_id: UserId, role: Role) -> Result<()> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetUserRole).await?;
            let Versioned { mut value, version } =
                decide_target(tx.as_mut(), &actor, target_id, UserChange::SetRole(role)).await?;
            let old = value.role;
            value.role = role;
            tx.update_user(value, version).await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::AuthzChange,
                target("user", target_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["role"])?;
            event.note = Some(
                selfcare_core::audit::AuditNote::parse(&format!("{old} -> {role}"))
                    .map_err(Error::from)?,
            );
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Removes `target_id` from the organisation and ends their sessions (USR-3, same rules as
    /// [`Session::set_role`]).
    ///
    /// # Errors
    /// `PermissionDenied`; `Conflict(last_owner)`; `NotFound`;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn remove_user(&self, target_id: UserId) -> Result<()> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::RemoveUser).await?;
            let user = decide_target(tx.as_mut(), &actor, target_id, UserChange::Remove).await?;
            tx.delete_user_sessions(target_id, None).await?;
            let mut page = PageRequest::first(100);
            loop {
                let clients = tx.list_api_clients(Some(target_id), page.clone()).await?;
                for c in clients.items {
                    tx.delete_api_client(c.value.id, c.version).await?;
                }
                match clients.next {
                    Some(cursor) => page = PageRequest::after(cursor, 100),
                    None => break,
                }
            }
            tx.delete_user(target_id, user.version).await?;
            let event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::UserDeleted,
                target("user", target_id)?,
                Outcome::Success,
            )?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Resets another user's secret (USR-3): allowed only for ReadOnly and ApiUser targets.
    /// For an ApiUser its API client secret is rotated and returned once; for a ReadOnly user
    /// a password-reset link goes to their login e-mail.
    ///
    /// # Errors
    /// `PermissionDenied` (`admin_cannot_set_owner_password`, `password_changed_only_by_user`,
    /// `own_secret_reset_forbidden`, …); `NotFound` (also for an ApiUser without an API
    /// client); `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn reset_secret(&self, target_id: UserId) -> Result<SecretReset> {
        let portal = self.portal();
        let now = portal.now();
        let token = Token::from_random(portal.random()?);
        let secret_random = portal.random()?;
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::ResetUserSecret).await?;
            let user =
                decide_target(tx.as_mut(), &actor, target_id, UserChange::ResetSecret).await?;
            let outcome = if user.value.role == Role::ApiUser {
                let clients = tx
                    .list_api_clients(Some(target_id), PageRequest::first(100))
                    .await?;
                let client = clients
                    .items
                    .into_iter()
                    .find(|c| c.value.revoked_at.is_none())
                    .ok_or(Error::NotFound)?;
                let credentials = ApiClientCredentials::issue(client.value.id, secret_random);
                let mut record = client.value;
                record.secret_hash = credentials.secret_hash();
                let id = record.id;
                tx.update_api_client(record, client.version).await?;
                // Sessions opened with the old secret end with it (AUTH-4).
                tx.delete_api_client_sessions(id).await?;
                SecretReset::ApiSecret(ApiClientSecret::of(&credentials))
            } else {
                tx.insert_token(TokenRecord {
                    hash: token.hash(),
                    state: TokenState::issued(TokenKind::PasswordReset, now),
                    user: Some(target_id),
                    payload: TokenPayload::None,
                })
                .await?;
                let language = language(tx.as_mut()).await?;
                let params = Params::new()
                    .with("user_name", user.value.name.as_str())
                    .with("link", token.expose())
                    .with("valid_hours", hours(TokenKind::PasswordReset, portal));
                portal
                    .notify(
                        tx.as_mut(),
                        NotificationKind::PasswordReset,
                        vec![user.value.email.clone()],
                        language,
                        &params,
                    )
                    .await?;
                SecretReset::PasswordResetSent
            };
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                if user.value.role == Role::ApiUser {
                    AuditEventName::AuthnTokenCreated
                } else {
                    AuditEventName::AuthnPasswordResetRequested
                },
                target("user", target_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["secret"])?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// Creates an API client (client id and secret, AUTH-4) for the ApiUser `user`; the secret
    /// is shown once. An invited ApiUser becomes active (it never logs in to the portal).
    ///
    /// # Errors
    /// `PermissionDenied` for roles that may not create API clients; `NotFound` when `user` is
    /// no ApiUser of the organisation; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn create_api_client(&self, user: UserId) -> Result<ApiClientSecret> {
        let portal = self.portal();
        let now = portal.now();
        let id = ApiClientId::new(now, portal.random()?);
        let credentials = ApiClientCredentials::issue(id, portal.random()?);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::CreateApiClient).await?;
            let target_user = tx.user(user).await?.ok_or(Error::NotFound)?;
            if target_user.value.role != Role::ApiUser {
                return Err(Error::NotFound.into());
            }
            if target_user.value.status == UserStatus::Invited {
                let mut record = target_user.value.clone();
                record.status = UserStatus::Active;
                tx.update_user(record, target_user.version).await?;
            }
            tx.insert_api_client(ApiClientRecord {
                id,
                client_id: credentials.client_id,
                user,
                secret_hash: credentials.secret_hash(),
                created_at: now,
                revoked_at: None,
            })
            .await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::AuthnTokenCreated,
                target("api_client", credentials.client_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["client_id", "secret"])?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(ApiClientSecret::of(&credentials))
        })
        .await
    }
}

/// The organisation and hash of a submitted token, looked up before any transaction.
async fn find_token(
    portal: &Portal,
    token: &str,
) -> Result<(selfcare_core::ids::OrgId, selfcare_core::tokens::TokenHash)> {
    let token = Token::parse(token).map_err(Error::from)?;
    portal
        .store()
        .token_by_hash(token.hash())
        .await?
        .ok_or_else(|| {
            Error::from(selfcare_core::Error::from(
                selfcare_core::tokens::TokenRejection::Invalid,
            ))
        })
}

impl Portal {
    /// Accepts an invitation (USR-3): single use, valid 72 hours by default; sets the user's
    /// name and password (AUTH-1 policy) and activates the user, who can then log in.
    ///
    /// # Errors
    /// `Validation` on `token` (`token_invalid`, `token_used`, `token_expired`), on `name`, or
    /// on `password` (AUTH-1); `Unavailable`.
    pub async fn accept_invitation(
        &self,
        token: &str,
        name: &str,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<UserId> {
        let name = name_field("name", name)?;
        let (org, hash) = find_token(self, token).await?;
        let now = self.now();
        let lifetimes = self.config().token_lifetimes;
        // Read and check first; Argon2 runs outside any transaction.
        let (email, second_factor) = self
            .retry(|| async {
                let mut tx = self.store().begin(org).await?;
                let record = tx.token(hash).await?.ok_or(Error::NotFound)?;
                record
                    .value
                    .state
                    .check(TokenKind::Invitation, now, &lifetimes)
                    .map_err(selfcare_core::Error::from)?;
                let TokenPayload::Invitation { email, .. } = record.value.payload else {
                    return Err(Error::from(selfcare_core::Error::from(
                        selfcare_core::tokens::TokenRejection::Invalid,
                    ))
                    .into());
                };
                let second = tx
                    .customer()
                    .await?
                    .is_some_and(|c| c.value.second_factor_required);
                Ok((email, second))
            })
            .await?;
        let password =
            check_new_password(&password, second_factor, &[name.as_str(), email.as_str()])
                .map_err(Error::from)?;
        let password_hash = self.hash(password).await?;
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let mut record = tx.token(hash).await?.ok_or(Error::NotFound)?;
            record
                .value
                .state
                .redeem(TokenKind::Invitation, now, &lifetimes)
                .map_err(selfcare_core::Error::from)?;
            tx.mark_token_used(hash, now, record.version).await?;
            let user_id = record.value.user.ok_or(Error::NotFound)?;
            let Versioned { mut value, version } =
                tx.user(user_id).await?.ok_or(Error::NotFound)?;
            if value.status != UserStatus::Invited {
                return Err(Error::from(selfcare_core::Error::from(
                    selfcare_core::tokens::TokenRejection::Used,
                ))
                .into());
            }
            value.name = name.clone();
            value.password_hash = Some(password_hash.clone());
            value.status = UserStatus::Active;
            tx.update_user(value, version).await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::User { id: user_id },
                Channel::Portal,
                AuditEventName::UserUpdated,
                target("user", user_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["name", "password", "status"])?;
            event.personal = self.personal([
                (PersonalField::Name, name.as_str()),
                (PersonalField::Source, ctx.source.as_str()),
            ])?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(user_id)
        })
        .await
    }

    /// Approves an e-mail change made by someone else (USR-3): the pending address becomes
    /// the login e-mail and the user's sessions end (AUTH-4). Single use, valid 72 hours by
    /// default.
    ///
    /// # Errors
    /// `Validation` on `token` (`token_invalid`, `token_used`, `token_expired`);
    /// `Conflict(already_exists)` when the address became someone's login meanwhile;
    /// `Unavailable`.
    pub async fn approve_email_change(&self, token: &str) -> Result<()> {
        let (org, hash) = find_token(self, token).await?;
        let now = self.now();
        let lifetimes = self.config().token_lifetimes;
        let invalid = || {
            Attempt::from(Error::from(selfcare_core::Error::from(
                selfcare_core::tokens::TokenRejection::Invalid,
            )))
        };
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let mut record = tx.token(hash).await?.ok_or_else(invalid)?;
            record
                .value
                .state
                .redeem(TokenKind::EmailChangeApproval, now, &lifetimes)
                .map_err(selfcare_core::Error::from)?;
            let TokenPayload::NewEmail { email } = record.value.payload.clone() else {
                return Err(invalid());
            };
            tx.mark_token_used(hash, now, record.version).await?;
            let user_id = record.value.user.ok_or_else(invalid)?;
            let Versioned { mut value, version } = tx.user(user_id).await?.ok_or_else(invalid)?;
            // A newer change supersedes this one.
            if value.pending_email.as_ref().map(|p| &p.email) != Some(&email) {
                return Err(invalid());
            }
            let old = std::mem::replace(&mut value.email, email.clone());
            value.pending_email = None;
            tx.update_user(value, version).await?;
            tx.delete_user_sessions(user_id, None).await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::User { id: user_id },
                Channel::Portal,
                AuditEventName::UserUpdated,
                target("user", user_id)?,
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
}
